"""MIMIC-CXR-JPG 2.1.0: 377,110 JPG chest radiographs of 227,827 studies (65,379 patients),
with per-study labels from the CheXpert and NegBio labelers.

Layout (PhysioNet project page and README, https://physionet.org/content/mimic-cxr-jpg/2.1.0/;
Johnson et al. 2019, arXiv:1901.07042), tables plain or gzipped (PhysioNet ships ``.csv.gz``)::

    mimic-cxr-2.0.0-chexpert.csv[.gz]  per study: subject_id, study_id, 14 observation columns
    mimic-cxr-2.0.0-negbio.csv[.gz]    the same columns from the NegBio labeler
    mimic-cxr-2.0.0-split.csv[.gz]     per image: dicom_id, study_id, subject_id, split
                                       (train / validate / test; patient-disjoint)
    mimic-cxr-2.0.0-metadata.csv[.gz]  per image: dicom_id, subject_id, study_id,
                                       ViewPosition, Rows, Columns, ... (only ViewPosition read)
    files/p10/p10000032/s50414267/<dicom_id>.jpg   (p + first two digits of subject_id)

Task ``findings`` (multilabel, ``cxr14``): the study's row of the labeler table chosen by
config ``labeler`` ("chexpert", default, or "negbio"), through harmonize/mappings/mimic_cxr.yaml.
Values: 1.0 positive, 0.0 negative, -1.0 uncertain, blank = not mentioned. Uncertain follows
the mapper's ``uncertain_policy`` (NaN by default; config ``uncertain_policy: ones|zeros`` for
U-Ones / U-Zeros). Blank stays NaN: a finding the report does not mention is unknown, not
negative. A study without a labeler row keeps an all-NaN vector (the labelers skip a few
hundred studies whose reports have no findings/impression section).

Differences from the CLIMB reference code, on purpose: CLIMB turns MIMIC-CXR's uncertain
labels into 0 and drops images with no positive label; climb does neither by default (set
``uncertain_policy: zeros`` for the former; the latter discards real negatives).

Split: the official split file (train -> train, validate -> val, test -> test); an image
whose split is not one of these is quarantined. ``patient_id`` is ``subject_id``,
``study_id`` the study. Meta: ``view`` = ViewPosition (PA, AP, LATERAL, LL, ...; blank -> None),
``source_file``. Config ``views`` (e.g. ``[PA, AP]`` for frontal images only) keeps only
those views; the rest are not listed at all (not quarantined). Where the paper and the
project page differ (file names, counts), the 2.1.0 project page wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Item
from climb.adapt.cxr._common import (
    FindingsTableAdapter,
    findings_record,
    read_table,
    table_path,
    wanted_view,
)
from climb.adapt.imaging import IMAGE_CONFIG, find_root, relative
from climb.errors import RecordError
from climb.record import Record

PREFIX = "mimic-cxr-2.0.0"
SPLIT_TABLE = f"{PREFIX}-split.csv"
METADATA_TABLE = f"{PREFIX}-metadata.csv"
LABELERS = ("chexpert", "negbio")
SPLITS = {"train": "train", "validate": "val", "test": "test"}


def image_path(subject_id: str, study_id: str, dicom_id: str) -> str:
    """``files/p10/p10000032/s50414267/<dicom_id>.jpg`` (relative to the dataset root)."""
    return f"files/p{subject_id[:2]}/p{subject_id}/s{study_id}/{dicom_id}.jpg"


def _root(raw_dir: Path) -> Path:
    for marker in (SPLIT_TABLE, f"{SPLIT_TABLE}.gz"):
        try:
            return find_root(raw_dir, marker)
        except RecordError:
            continue
    raise RecordError(Path(raw_dir) / SPLIT_TABLE, "not found in the official layout")


class MimicCxrAdapter(FindingsTableAdapter):
    name = "mimic_cxr"
    default_config = {**IMAGE_CONFIG, "labeler": "chexpert", "views": None}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        labeler = str(self.config["labeler"])
        if labeler not in LABELERS:
            raise RecordError(raw_dir, f"unknown labeler {labeler!r} (chexpert or negbio)")
        root = _root(raw_dir)
        prefix = "" if root == raw_dir else relative(root, raw_dir) + "/"
        findings = self.entry.task("findings").classes
        splits = read_table(table_path(root, SPLIT_TABLE),
                            ["dicom_id", "study_id", "subject_id", "split"])
        metadata = read_table(table_path(root, METADATA_TABLE), ["dicom_id", "ViewPosition"])
        label_path = table_path(root, f"{PREFIX}-{labeler}.csv")
        labels = read_table(label_path, ["study_id", *findings], relative(label_path, raw_dir))
        views = dict(zip(metadata["dicom_id"].str.strip(),
                         metadata["ViewPosition"].str.strip().str.upper(), strict=True))
        study_labels = {
            study.strip(): dict(zip(findings, values, strict=True))
            for study, *values in labels[["study_id", *findings]].itertuples(index=False)
        }
        wanted = self.config["views"]
        items = []
        columns = [splits[c].tolist() for c in ("dicom_id", "study_id", "subject_id", "split")]
        for dicom, study, subject, split in zip(*columns, strict=True):
            dicom, study, subject = dicom.strip(), study.strip(), subject.strip()
            view = views.get(dicom) or None
            if not wanted_view(view, wanted):
                continue
            items.append(Item(
                source=prefix + image_path(subject, study, dicom),
                key=dicom,
                info={"subject_id": subject, "study_id": study, "view": view,
                      "split": SPLITS.get(split.strip().lower()),
                      "labels": study_labels.get(study, {})},
            ))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        if info["split"] is None:
            raise RecordError(item.source, f"{SPLIT_TABLE} split is not train/validate/test")
        yield findings_record(self, raw_dir, item, info["subject_id"], info["study_id"])


ADAPTER = MimicCxrAdapter
