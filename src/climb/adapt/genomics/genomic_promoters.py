"""Genomic Benchmarks (Grešová et al. 2023): human non-TATA promoters, one DNA sequence per
record.

Layout (what ``genomic_benchmarks.loc2seq.download_dataset("human_nontata_promoters",
dest_path=ROOT/genomic_promoters)`` writes; found under the raw root or its
``human_nontata_promoters/`` folder)::

    human_nontata_promoters/{train,test}/{positive,negative}/<id>.txt   one sequence per file

Task ``promoter`` (binary: negative / positive) from the class folder. Split: the official
``train/`` and ``test/`` folders; val is carved from train by a seeded hash of the file id
(config ``val_fraction``, default 0.1; ``val_seed``). Sequences (251 bp, GRCh38) are stored
as ``uint8`` token ids over :data:`climb.read.sequence.DNA_VOCAB` (``<pad>``, A, C, G, T, N;
IUPAC ambiguity codes read as N), the vocabulary in the input's ``channels`` attr. DNA, not
patients: no patient ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import carve_val
from climb.errors import RecordError
from climb.read.sequence import DNA_VOCAB, read_dna_text
from climb.record import Input, Record

FOLDER = "human_nontata_promoters"
SPLIT_FOLDERS = {"train": "train", "test": "test"}


def find_root(raw_dir: Path) -> Path:
    """The folder holding ``train/`` and ``test/``: ``raw_dir`` or ``raw_dir/<dataset>``."""
    for folder in (raw_dir / FOLDER, raw_dir):
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            return folder
    raise RecordError(raw_dir / FOLDER, "no train/ and test/ folders (Genomic Benchmarks layout)")


class GenomicPromotersAdapter(Adapter):
    name = "genomic_promoters"
    default_config = {"val_fraction": 0.1, "val_seed": 0}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir)
        classes = self.mapper("promoter").classes
        items = []
        for split, folder in SPLIT_FOLDERS.items():
            for cls in sorted(p.name for p in (root / folder).iterdir() if p.is_dir()):
                if cls not in classes:
                    raise RecordError(root / folder / cls, f"class folder not one of {classes}")
                for path in sorted((root / folder / cls).glob("*.txt")):
                    rel = path.relative_to(raw_dir).as_posix()
                    items.append(Item(source=rel, key=f"{split}/{cls}/{path.stem}",
                                      info={"split": split, "label": cls, "id": path.stem}))
        if not items:
            raise RecordError(root, "no <id>.txt sequence files under train/ or test/")
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        ids = read_dna_text(Path(raw_dir) / item.source)
        split = carve_val(item.info["split"], f"{item.info['label']}/{item.info['id']}",
                          float(self.config["val_fraction"]), int(self.config["val_seed"]))
        # Ids are unique within a class folder of a split only: the sample id keeps all three.
        yield Record(
            sample_id=f"{item.info['split']}_{item.info['label']}_{item.info['id']}",
            dataset=self.name,
            modality="genomic_sequence",
            split=split,
            inputs={"sequence": Input(data=ids, channels=list(DNA_VOCAB), units="token ids")},
            labels={"promoter": self.mapper("promoter").multiclass(item.info["label"])},
            meta={"source_file": item.source},
        ).validate()


ADAPTER = GenomicPromotersAdapter
