"""INSPECT: CTPA studies with radiology impressions, PE labels and outcomes (Huang et al.
2023, NeurIPS Datasets & Benchmarks; https://inspect.stanford.edu, the Stanford AIMI release
and the som-shahlab/inspect README).

Layout (the AIMI release of 2025-06-11; file names carry the release date, so any
``<table>_<date>.tsv`` is found, the newest date first; a ``<table>.tsv`` or ``.csv`` of an
older drop is accepted too)::

    CTPA/<image_id>.nii.gz            the CTPA volume (HU)
    splits_20250611.tsv               impression_id, person_id, split (train / valid / test)
    labels_20250611.tsv               impression_id, pe_positive_nlp, 1_month_mortality,
                                      6_month_mortality, 12_month_mortality,
                                      1_month_readmission, 6_month_readmission,
                                      12_month_readmission, 12_month_PH
                                      (TRUE / FALSE / Censored)
    impressions_20250611.tsv          impression_id, impressions (the report's impression)
    study_mapping_20250611.tsv        impression_id, person_id, image_id, ... (dates not read)

One record per study (impression_id) of the splits table (the release cohort), with two
inputs: ``volume`` (see :mod:`climb.adapt.ct`, HU) and ``text``, the impression (the
publisher de-identified it; it is never copied into an error, a log or ``meta``). Tasks
(catalog): ``pe`` from ``pe_positive_nlp`` and the seven outcomes from the columns of the same
names; TRUE -> 1, FALSE -> 0, Censored or empty -> missing (-1); any other value quarantines
the study. Split: the official ``split`` column (valid -> val); a study whose split is none
of the three is quarantined. Patient: ``person_id`` (several studies per patient; the
official split is patient-level). Where study_mapping has no row for a study, its volume is
``CTPA/<impression_id>.nii.gz`` (the file name of the 2023 drop).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.adapt.ct import VOLUME_CONFIG, read_nifti_source, volume_input
from climb.adapt.imaging import find_root, relative
from climb.errors import RecordError
from climb.record import Input, Record

VOLUMES = "CTPA"
SPLITS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
#: catalog task -> labels table column
TASK_COLUMNS = {
    "pe": "pe_positive_nlp",
    "mortality_1m": "1_month_mortality",
    "mortality_6m": "6_month_mortality",
    "mortality_12m": "12_month_mortality",
    "readmission_1m": "1_month_readmission",
    "readmission_6m": "6_month_readmission",
    "readmission_12m": "12_month_readmission",
    "ph_12m": "12_month_PH",
}
_TRUE, _FALSE, _MISSING = {"true", "1", "1.0"}, {"false", "0", "0.0"}, {"censored", "", "nan"}


def find_table(root: Path, stem: str) -> Path | None:
    """``<stem>_<date>.tsv`` (newest date), else ``<stem>.tsv`` / ``.csv`` (any case)."""
    dated = sorted(
        p
        for p in root.iterdir()
        if re.fullmatch(rf"{re.escape(stem)}_\d{{8}}\.tsv", p.name, re.IGNORECASE)
    )
    if dated:
        return dated[-1]
    for path in sorted(root.iterdir()):
        if path.name.lower() in (f"{stem}.tsv", f"{stem}.csv", f"final_{stem}.csv"):
            return path
    return None


def read_table(path: Path | None) -> pd.DataFrame:
    """A table as strings keyed by impression_id (first row of a repeated id kept)."""
    if path is None:
        return pd.DataFrame({"impression_id": []}, dtype=str)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    if "impression_id" not in table.columns:
        raise RecordError(path.name, "no impression_id column")
    return table.drop_duplicates("impression_id").set_index("impression_id", drop=False)


def binary(value: Any) -> int:
    """TRUE -> 1, FALSE -> 0, Censored / empty -> -1; ValueError for anything else."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return -1
    text = str(value).strip().lower()
    if text in _TRUE:
        return 1
    if text in _FALSE:
        return 0
    if text in _MISSING:
        return -1
    raise ValueError("a label is not TRUE, FALSE or Censored")


class InspectAdapter(Adapter):
    name = "inspect"
    default_config = dict(VOLUME_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, VOLUMES)
        splits_path = find_table(root, "splits")
        if splits_path is None:
            raise RecordError(relative(root, raw_dir) + "/splits_<date>.tsv", "not found")
        splits = read_table(splits_path)
        labels = read_table(find_table(root, "labels"))
        impressions = read_table(find_table(root, "impressions"))
        mapping = read_table(find_table(root, "study_mapping"))
        items = []
        for impression_id, row in splits.iterrows():
            image_id = (
                mapping["image_id"].get(impression_id) if "image_id" in mapping else None
            ) or impression_id
            label_row = labels.loc[impression_id] if impression_id in labels.index else None
            items.append(
                Item(
                    source=relative(root / VOLUMES / f"{image_id}.nii.gz", raw_dir),
                    key=str(impression_id),
                    info={
                        "person_id": str(row.get("person_id", "")).strip() or None,
                        "image_id": str(image_id),
                        "split": str(row.get("split", "")).strip().lower(),
                        "labels": {
                            task: (None if label_row is None else label_row.get(column))
                            for task, column in TASK_COLUMNS.items()
                        },
                        "impression": (
                            impressions["impressions"].get(impression_id)
                            if "impressions" in impressions
                            else None
                        ),
                    },
                )
            )
        return sorted(items, key=lambda i: i.key)

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        split = SPLITS.get(info["split"])
        if split is None:
            raise RecordError(item.source, "splits table: split is not train, valid or test")
        labels: dict[str, Any] = {}
        for task, value in info["labels"].items():
            try:
                labels[task] = binary(value)
            except ValueError as err:
                raise RecordError(
                    item.source, f"labels table {TASK_COLUMNS[task]}: {err}"
                ) from None
        volume = read_nifti_source(raw_dir, item.source)
        inputs = {"volume": volume_input(volume, item.source, self.config)}
        impression = " ".join(str(info["impression"] or "").split())
        if impression:
            inputs["text"] = Input(data=impression, encoding="text")
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            patient_id=info["person_id"],
            study_id=info["image_id"],
            split=split,
            inputs=inputs,
            labels=labels,
            meta={"source_file": item.source},
        ).validate()


ADAPTER = InspectAdapter
