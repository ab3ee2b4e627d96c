"""CMMD adapter on the TCIA-layout fixture (clinical xlsx, NBIA folders, real pixels)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import openpyxl
import pydicom
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.fixtures import cmmd as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("cmmd"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.meta["source_file"]: r for r in get_adapter("cmmd").records(raw)}


def clinical(raw: Path) -> dict[tuple[str, str], tuple[str, int]]:
    sheet = openpyxl.load_workbook(raw / fixture.CLINICAL).active
    header, *rows = sheet.iter_rows(values_only=True)
    col = {name: i for i, name in enumerate(header)}
    return {(r[col["ID1"]], r[col["LeftRight"]]): (r[col["classification"]], int(r[col["Age"]]))
            for r in rows}


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("cmmd"))


def test_labels_follow_the_breast_row_of_the_image_laterality(raw, records):
    table = clinical(raw)
    files = sorted((raw / "CMMD").rglob("*.dcm"))
    assert sorted(records) == sorted(p.relative_to(raw).as_posix() for p in files)
    assert len(files) == 14
    for path in files:
        rec = records[path.relative_to(raw).as_posix()]
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        patient = path.relative_to(raw / "CMMD").parts[0]
        row = table.get((patient, ds.ImageLaterality))
        expected = -1 if row is None else ["Benign", "Malignant"].index(row[0])
        assert rec.labels["malignancy"] == expected
        assert rec.patient_id == patient and rec.split is None
        assert rec.meta["laterality"] == {"L": "left", "R": "right"}[ds.ImageLaterality]
        assert rec.meta["view"] == ds.ViewPosition
        age = next(a for (p, _), (_, a) in table.items() if p == patient)
        decade = age // 10 * 10
        assert rec.meta["age_bucket"] == ("90+" if age >= 90 else f"{decade}-{decade + 9}")
    lesion_free = [r for s, r in records.items()
                   if "D1-0002" in s and r.meta["laterality"] == "left"]
    assert len(lesion_free) == 2 and all(r.labels["malignancy"] == -1 for r in lesion_free)


def test_prepare_groups_patients_and_quarantines_bad_images(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    no_side = next((copy / "CMMD" / "D1-0004").rglob("1-1.dcm"))
    ds = pydicom.dcmread(no_side)
    del ds.ImageLaterality
    ds.save_as(no_side)
    truncated = next((copy / "CMMD" / "D2-0001").rglob("1-3.dcm"))
    truncated.write_bytes(truncated.read_bytes()[:700])
    shutil.copytree(copy / "CMMD" / "D1-0001", copy / "CMMD" / "D1-0099")

    manifest = prepare("cmmd", copy, tmp_path / "store", workers=1, progress=False)
    errors = {q["source"]: q["error"] for q in manifest["quarantined"]}
    assert {s.split("/")[1] for s in errors} == {"D1-0004", "D2-0001", "D1-0099"}
    assert len(errors) == 4  # D1-0099's two images have no clinical row
    assert any("no image laterality" in e for e in errors.values())
    with open(tmp_path / "store" / "cmmd" / "splits.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 14 - 2
    for row in rows:
        digest = hashlib.sha256(f"0\x00patient:{row['patient_id']}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2.0**64
        assert row["split"] == ("train" if u < 0.8 else "val" if u < 0.9 else "test")
