"""NIH ChestX-ray14: 112,120 frontal chest radiographs (1024 x 1024 PNG) of 30,805 patients
with 14 text-mined findings.

Layout (NIH Clinical Center release https://nihcc.app.box.com/v/ChestXray-NIHCC and its
README_CHESTXRAY.pdf; Wang et al. 2017, CVPR, "ChestX-ray8"), with or without top folders::

    Data_Entry_2017_v2020.csv[.gz]  Image Index, Finding Labels ("A|B" or "No Finding"),
                                    Follow-up #, Patient ID, Patient Age, Patient Gender,
                                    View Position, OriginalImage[Width,Height],
                                    OriginalImagePixelSpacing[x,y]
                                    (Data_Entry_2017.csv, the 2017 table, is read when the
                                    v2020 one is absent; the 2020 update corrected ages)
    train_val_list.txt, test_list.txt   one Image Index per line: the official split
    images/<Image Index>  or  images_001/images/<Image Index> ... images_012/images/...
                                    (the release ships twelve archives; both are read)

Task ``findings`` (multilabel, ``cxr14``) through harmonize/mappings/nih_chestxray14.yaml.
NIH lists positives only; a finding the labeler did not find is negative, so every
``cxr14`` class that some NIH finding maps to is 1 or 0, and the classes NIH does not label
(Enlarged Cardiomediastinum, Fracture, Support Devices) are NaN. Emphysema, Fibrosis and Hernia
have no CheXpert counterpart and are dropped (null in the mapping); Infiltration counts as
Lung Opacity, Mass and Nodule as Lung Lesion, Effusion as Pleural Effusion, Pleural_Thickening
as Pleural Other. A finding outside the 15 names quarantines the image.

Split: test_list.txt -> test; train_val_list.txt -> train, with val carved from it by a seeded
hash of the Patient ID (config ``val_fraction``, default 0.1; ``val_seed``), so a patient stays
in one split (the official lists are patient-disjoint). An image in neither list is
quarantined. ``patient_id`` is Patient ID. Meta: ``view`` (PA/AP), ``sex``, ``age_bucket``
(never the exact age), ``source_file``; Follow-up # and the original size are not kept.

:meth:`NihChestXray14Adapter.labels` gives an item's harmonized labels from the table alone,
so the whole table can be checked without images.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.adapt.cxr._common import findings_record, findings_vector, read_table, table_path
from climb.adapt.imaging import IMAGE_CONFIG, carve_val, find_root, relative
from climb.errors import RecordError
from climb.record import Record, age_bucket, normalize_sex

TABLES = ("Data_Entry_2017_v2020.csv", "Data_Entry_2017.csv")
LISTS = {"train_val_list.txt": "train", "test_list.txt": "test"}
COLUMNS = ["Image Index", "Finding Labels", "Patient ID", "Patient Age", "Patient Gender",
           "View Position"]


def _root(raw_dir: Path) -> tuple[Path, Path]:
    """(the folder holding the data-entry table, the table)."""
    for name in TABLES:
        for marker in (name, f"{name}.gz"):
            try:
                root = find_root(raw_dir, marker)
            except RecordError:
                continue
            return root, root / marker
    raise RecordError(Path(raw_dir) / TABLES[0], "not found in the official layout")


def image_folders(root: Path, raw_dir: Path) -> dict[str, str]:
    """{Image Index: path relative to ``raw_dir``} of the PNGs under ``images/`` and
    ``images_0XX/images/``."""
    found: dict[str, str] = {}
    for pattern in ("images_*/images/*.png", "images/*.png"):
        for path in sorted(root.glob(pattern)):
            found.setdefault(path.name, relative(path, raw_dir))
    return found


class NihChestXray14Adapter(Adapter):
    name = "nih_chestxray14"
    default_config = {**IMAGE_CONFIG, "val_fraction": 0.1, "val_seed": 0}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._vectors: dict[tuple[str, ...], np.ndarray] = {}  # per findings combination

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root, table_file = _root(raw_dir)
        table = read_table(table_file, COLUMNS, relative(table_file, raw_dir))
        official: dict[str, str] = {}
        for name, split in LISTS.items():
            path = table_path(root, name)
            for line in path.read_text().splitlines():
                if line.strip():
                    official[line.strip()] = split
        images = image_folders(root, raw_dir)
        flat = relative(root / "images", raw_dir)  # where a missing image is looked for
        fraction, seed = float(self.config["val_fraction"]), int(self.config["val_seed"])
        carved: dict[tuple[str, str], str] = {}  # (split, patient) -> split, val carved
        items = []
        columns = [table[c].tolist() for c in COLUMNS]  # plain lists: fast iteration
        for index, findings, patient, age, sex, view in zip(*columns, strict=True):
            index, patient = index.strip(), patient.strip()
            split = official.get(index)
            if split is not None and (split, patient) not in carved:
                carved[split, patient] = carve_val(split, patient, fraction, seed)
            items.append(Item(
                source=images.get(index) or f"{flat}/{index}",
                key=index.rsplit(".", 1)[0],
                info={"patient_id": patient,
                      "findings": tuple(f.strip() for f in findings.split("|") if f.strip()),
                      "split": split and carved[split, patient],
                      "view": view.strip().upper() or None, "sex": normalize_sex(sex),
                      "age_bucket": age_bucket(age.strip() or None)},
            ))
        return items

    def labels(self, item: Item) -> dict[str, np.ndarray]:
        """The harmonized labels of one item, from the table alone (no pixels): 1 for the
        listed findings, 0 for every other NIH finding, NaN where NIH has no counterpart."""
        findings = item.info["findings"]
        cache = self._vectors
        if findings not in cache:
            mapper = self.mapper("findings")
            values = {native: 0.0 for native in mapper.table}
            values.update({native: 1.0 for native in findings})
            cache[findings] = findings_vector(mapper, values, item.source)
        return {"findings": cache[findings].copy()}

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        if info["split"] is None:
            raise RecordError(item.source, "image is in neither train_val_list.txt nor "
                                           "test_list.txt")
        yield findings_record(self, raw_dir, item, info["patient_id"],
                              meta_keys=("view", "sex", "age_bucket"))


ADAPTER = NihChestXray14Adapter
