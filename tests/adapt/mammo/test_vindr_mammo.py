"""VinDr-Mammo adapter on the PhysioNet-layout fixture (12-bit MONOCHROME1 DICOMs)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.errors import RecordError
from climb.store.prepare import prepare
from tests.fixtures import vindr_mammo as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("vindr"))


@pytest.fixture(scope="module")
def table(raw) -> list[dict[str, str]]:
    with open(raw / fixture.FOLDER / "breast-level_annotations.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("vindr_mammo").records(raw)}


def in_val(study: str, fraction: float = 0.1, seed: int = 0) -> bool:
    digest = hashlib.sha256(f"{seed}\x00val:{study}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("vindr_mammo"))


def test_labels_view_and_laterality_follow_the_table(table, records):
    assert sorted(records) == sorted(row["image_id"] for row in table)
    for row in table:
        rec = records[row["image_id"]]
        category = int(row["breast_birads"].removeprefix("BI-RADS "))
        assert rec.labels["birads"] == category  # vocabulary birads_0 .. birads_5
        assert rec.meta["view"] == row["view_position"]
        assert rec.meta["laterality"] == {"L": "left", "R": "right"}[row["laterality"]]
        assert rec.study_id == row["study_id"] and rec.patient_id is None
        assert rec.meta["source_file"].endswith(f"images/{row['study_id']}/{row['image_id']}.dicom")


def test_official_split_with_validation_carved_by_exam(table, records):
    for row in table:
        expected = "test" if row["split"] == "test" else (
            "val" if in_val(row["study_id"]) else "train")
        assert records[row["image_id"]].split == expected
    by_study: dict[str, set[str]] = {}
    for rec in records.values():
        by_study.setdefault(rec.study_id, set()).add(rec.split)
    assert all(len(s) == 1 for s in by_study.values())
    assert {r.split for r in records.values()} == {"train", "val", "test"}


def padded(display: np.ndarray, size: int = 224) -> np.ndarray:
    """Reference: 0-255 scaling, aspect-preserving resize and centered zero padding."""
    scaled = (display - display.min()) / (display.max() - display.min()) * 255.0
    h, w = display.shape
    scale = size / max(h, w)
    new = (round(w * scale), round(h * scale))
    img = Image.fromarray(scaled.astype(np.float32)).resize(new, Image.Resampling.BILINEAR)
    out = np.zeros((size, size))
    top, left = (size - new[1]) // 2, (size - new[0]) // 2
    out[top : top + new[1], left : left + new[0]] = np.asarray(img)
    return out


def test_monochrome1_pixels_are_inverted_and_windowed(raw, table, records):
    plain = next(r for r in table if r["split"] == "training" and r["image_id"]
                 not in {fixture.hex_id("image-2-0")})
    path = raw / fixture.FOLDER / "images" / plain["study_id"] / f"{plain['image_id']}.dicom"
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1" and ds.BitsStored == 12
    display = (4095 - ds.pixel_array.astype(np.float64))  # MONOCHROME1: low stored = bright
    got = records[plain["image_id"]].inputs["image"].data
    assert got.shape == (224, 224) and got.dtype == np.uint8
    assert np.abs(got - padded(display)).mean() < 1.0
    assert not got[:, :20].any() and not got[:, -20:].any()  # portrait image padded left/right

    windowed = fixture.hex_id("image-2-0")
    study = fixture.hex_id("study-2")
    ds = pydicom.dcmread(raw / fixture.FOLDER / "images" / study / f"{windowed}.dicom")
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    shown = np.clip(ds.pixel_array.astype(np.float64), low, high)
    reference = padded(shown.max() - shown)
    assert np.abs(records[windowed].inputs["image"].data - reference).mean() < 1.0


def test_bad_rows_are_quarantined_and_the_rest_prepared(raw, table, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    base = copy / fixture.FOLDER
    first, second, third = table[0], table[5], table[8]
    truncated = base / "images" / first["study_id"] / f"{first['image_id']}.dicom"
    truncated.write_bytes(truncated.read_bytes()[:2000])
    (base / "images" / second["study_id"] / f"{second['image_id']}.dicom").unlink()
    csv_path = base / "breast-level_annotations.csv"
    text = csv_path.read_text().replace(f"{third['image_id']},L,CC", f"{third['image_id']},L,XCCL")
    csv_path.write_text(text)
    planted = base / "images" / table[-1]["study_id"] / f"{table[-1]['image_id']}.dicom"
    ds = pydicom.dcmread(planted)
    ds.PatientName, ds.PatientID = "SMITH^JANE", "PID-99812"
    ds.save_as(planted)

    manifest = prepare("vindr_mammo", copy, tmp_path / "store", workers=1, progress=False)
    bad = {f"images/{r['study_id']}/{r['image_id']}.dicom" for r in (first, second, third)}
    quarantined = {q["source"].split(f"{fixture.FOLDER}/")[1] for q in manifest["quarantined"]}
    assert quarantined == bad
    assert all(q["type"] == "RecordError" for q in manifest["quarantined"])
    assert sum(s["rows"] for s in manifest["shards"]) == len(table) - 3
    for path in (tmp_path / "store").rglob("*"):
        if path.is_file():
            assert b"SMITH" not in path.read_bytes() and b"PID-99812" not in path.read_bytes()


def test_unmapped_label_is_an_error_naming_the_file(raw, table, tmp_path):
    adapter = get_adapter("vindr_mammo")
    item = adapter.items(raw)[0]
    bad = type(item)(item.source, item.key, {**item.info, "birads": "BI-RADS 7"})
    with pytest.raises(RecordError, match=r"\.dicom: .*no entry in the mapping"):
        list(adapter.load(raw, bad))


def test_huge_declared_dicom_is_refused_before_decoding(raw, table, tmp_path):
    row = table[1]
    path = tmp_path / "images" / row["study_id"] / f"{row['image_id']}.dicom"
    path.parent.mkdir(parents=True)
    ds = pydicom.dcmread(raw / fixture.FOLDER / "images" / row["study_id"] / path.name)
    ds.Rows, ds.Columns = 60000, 60000  # the pixel data stays small: never read
    ds.save_as(path)
    adapter = get_adapter("vindr_mammo")
    item = next(i for i in adapter.items(raw) if i.key == row["image_id"])
    moved = type(item)(path.relative_to(tmp_path).as_posix(), item.key, item.info)
    with pytest.raises(RecordError, match=r"declares \d+x\d+ pixels, over the \d+ limit"):
        list(adapter.load(tmp_path, moved))
