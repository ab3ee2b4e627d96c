"""OCT2017 adapter on the Mendeley-layout fixture (real pixels, grayscale JPEG)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.fixtures import oct2017 as fixture

CLASSES = ["CNV", "DME", "DRUSEN", "NORMAL"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("oct"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("oct2017").records(raw)}


def in_val(group: str, fraction: float = 0.1, seed: int = 0) -> bool:
    digest = hashlib.sha256(f"{seed}\x00val:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("oct2017"))


def test_labels_patients_and_splits(raw, records):
    files = sorted((raw / fixture.FOLDER).glob("*/*/*.jpeg"))
    assert sorted(records) == sorted(p.stem for p in files) and len(files) == len(fixture.SCANS)
    for path in files:
        rec = records[path.stem]
        cls, patient, _ = path.stem.split("-")
        assert rec.labels["diagnosis"] == CLASSES.index(path.parent.name) == CLASSES.index(cls)
        assert rec.patient_id == patient
        folder = path.parent.parent.name
        expected = "test" if folder == "test" else ("val" if in_val(patient) else "train")
        assert rec.split == expected
    by_patient: dict[str, set[str]] = {}
    for rec in records.values():
        by_patient.setdefault(rec.patient_id, set()).add(rec.split)
    assert all(len(s) == 1 for s in by_patient.values())
    assert by_patient["1507960"] == {"val"} and len(by_patient["1016042"]) == 1
    assert {r.split for r in records.values()} == {"train", "val", "test"}


def test_a_published_val_folder_is_used_as_is(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    val = copy / fixture.FOLDER / "val" / "CNV"
    val.mkdir(parents=True)
    shutil.move(copy / fixture.FOLDER / "train" / "CNV" / "CNV-1083159-1.jpeg", val)
    splits = {r.sample_id: r.split for r in get_adapter("oct2017").records(copy)}
    assert splits["CNV-1083159-1"] == "val"
    assert splits["DRUSEN-1507960-1"] == "train"  # no carving once the copy has a val/ folder


def test_pixels_are_the_center_cropped_image(raw, records):
    path = raw / fixture.FOLDER / "train" / "DME" / "DME-1072015-3.jpeg"
    source = np.asarray(Image.open(path).convert("L"), dtype=np.float32)  # 48 x 64
    resized = Image.fromarray(source).resize((299, 224), Image.Resampling.BILINEAR)
    reference = np.asarray(resized)[:, 37 : 37 + 224]
    got = records["DME-1072015-3"].inputs["image"].data
    assert got.shape == (224, 224) and got.dtype == np.uint8
    assert np.abs(got - reference).mean() < 1.0


def test_bad_files_are_quarantined_and_the_rest_prepared(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    base = copy / fixture.FOLDER
    truncated = base / "train" / "NORMAL" / "NORMAL-1001666-1.jpeg"
    truncated.write_bytes(truncated.read_bytes()[:300])
    shutil.move(base / "train" / "CNV" / "CNV-1083159-1.jpeg", base / "train" / "DME")
    (base / "test" / "CSR").mkdir()
    shutil.copy(base / "test" / "DME" / "DME-9925-1.jpeg", base / "test" / "CSR" / "CSR-7-1.jpeg")
    shutil.copy(base / "test" / "DME" / "DME-9925-1.jpeg", base / "test" / "DME" / "scan.jpeg")

    manifest = prepare("oct2017", copy, tmp_path / "store", workers=1, progress=False)
    quarantined = {q["source"].removeprefix(f"{fixture.FOLDER}/"): q["error"]
                   for q in manifest["quarantined"]}
    assert set(quarantined) == {"train/NORMAL/NORMAL-1001666-1.jpeg", "test/DME/scan.jpeg",
                                "train/DME/CNV-1083159-1.jpeg", "test/CSR/CSR-7-1.jpeg"}
    assert "cannot decode image" in quarantined["train/NORMAL/NORMAL-1001666-1.jpeg"]
    assert "differs from its folder" in quarantined["train/DME/CNV-1083159-1.jpeg"]
    assert "no entry in the mapping" in quarantined["test/CSR/CSR-7-1.jpeg"]
    assert sum(s["rows"] for s in manifest["shards"]) == len(fixture.SCANS) - 2
