"""TAPE secondary structure (Rao et al. 2019; NetSurfP-2.0 data): per-residue 3- and 8-state
labels of protein chains.

Layout (``secondary_structure.tar.gz`` extracted under the raw root)::

    secondary_structure/secondary_structure_{train,valid,casp12,ts115,cb513}.lmdb/data.mdb

Each LMDB holds ``num_examples`` and one pickled dict per chain under ``b"<index>"``:
``primary`` (amino-acid string), ``ss3`` / ``ss8`` (one class index per residue),
``protein_length``, ``id`` and more (rsa, phi, psi, ... not read). **Trust:** the values are
pickles; they are read with :func:`climb.read.sequence.read_tape_lmdb`, whose restricted
unpickler resolves numpy's array globals only, so a tampered file is a RecordError and never
runs code.

Records: input ``sequence`` = ``uint8`` token ids over
:data:`climb.read.sequence.PROTEIN_VOCAB` (pad 0); labels ``ss3`` and ``ss8`` = ``uint8``
arrays of TAPE's class indices, one per residue (the catalog's classes in that index order).
Per-residue labels are stored as the store's array labels (task type ``segmentation``,
``level: token``: a 1-D labelling), not as a record-level class. Training heads for
per-residue tasks do not exist yet; these tasks are stored, split and audited, and the loader
returns them as raw bytes (``numpy.frombuffer(value, numpy.uint8)``).

Split: train -> train, valid -> val, and the three official test sets (CB513, TS115,
CASP12) -> test, each named in ``meta.site`` so that they can be evaluated apart. Proteins,
not patients: no patient ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.sequence import PROTEIN_VOCAB, read_tape_lmdb, tape_lmdb_size, tokenize
from climb.record import Input, Record

PREFIX = "secondary_structure"
SETS = {"train": "train", "valid": "val", "casp12": "test", "ts115": "test", "cb513": "test"}


def find_folder(raw_dir: Path) -> Path:
    """The folder holding the ``secondary_structure_*.lmdb`` environments."""
    for folder in (raw_dir / PREFIX, raw_dir):
        if any((folder / f"{PREFIX}_{s}.lmdb").is_dir() for s in SETS):
            return folder
    raise RecordError(raw_dir / PREFIX, "no secondary_structure_<set>.lmdb folders")


def residue_labels(value, length: int, n_classes: int, name: str, where: str) -> np.ndarray:
    """One ``uint8`` class index per residue, checked against the sequence and the classes."""
    if value is None:
        raise RecordError(where, f"no {name} labels")
    try:
        labels = np.asarray(value).reshape(-1)
    except (TypeError, ValueError):
        raise RecordError(where, f"{name} is not an array") from None
    if labels.size != length:
        raise RecordError(where, f"{name} has {labels.size} labels for {length} residues")
    if labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0
                        or labels.max() >= n_classes):
        raise RecordError(where, f"{name} labels must be integers in 0..{n_classes - 1}")
    return labels.astype(np.uint8)


class TapeSecondaryStructureAdapter(Adapter):
    name = "tape_secondary_structure"
    default_config = {"examples_per_item": 256}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        folder = find_folder(raw_dir)
        step = int(self.config["examples_per_item"])
        items = []
        for name in SETS:
            path = folder / f"{PREFIX}_{name}.lmdb"
            if not path.is_dir():
                continue
            n = tape_lmdb_size(path)
            rel = path.relative_to(raw_dir).as_posix()
            items += [Item(source=rel, key=f"{name}_{start:06d}",
                           info={"set": name, "start": start, "stop": min(start + step, n)})
                      for start in range(0, n, step)]
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        path = Path(raw_dir) / item.source
        classes = {t: len(self.mapper(t).classes) for t in ("ss3", "ss8")}
        name = item.info["set"]
        for index, example in read_tape_lmdb(path, item.info["start"], item.info["stop"]):
            where = f"{item.source}[{index}]"
            primary = example.get("primary")
            if not isinstance(primary, str) or not primary:
                raise RecordError(where, "no primary sequence")
            length = example.get("protein_length", len(primary))
            if int(np.asarray(length).reshape(-1)[0]) != len(primary):
                raise RecordError(where, "protein_length differs from the sequence length")
            ids = tokenize(primary, PROTEIN_VOCAB, where, unknown="X")
            labels = {t: residue_labels(example.get(t), len(primary), n, t, where)
                      for t, n in classes.items()}
            yield Record(
                sample_id=f"{name}_{index:05d}",
                dataset=self.name,
                modality="protein_sequence",
                split=SETS[name],
                inputs={"sequence": Input(data=ids, channels=list(PROTEIN_VOCAB),
                                          units="token ids")},
                labels=labels,
                meta={"site": name, "source_file": item.source},
            ).validate()


ADAPTER = TapeSecondaryStructureAdapter
