"""COVID-19 Radiography Database adapter on the Kaggle-layout fixture (real pixels)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.fixtures import covid19_radiography as fixture

CLASSES = ["COVID", "Normal", "Lung_Opacity", "Viral Pneumonia"]  # the catalog's order


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("covid"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("covid19_radiography").records(raw)}


def hashed_split(key: str, seed: int = 0) -> str:
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return "train" if u < 0.8 else "val" if u < 0.9 else "test"


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("covid19_radiography"))


def test_labels_follow_the_class_folders_and_masks_are_not_samples(raw, records):
    images = sorted((raw / fixture.FOLDER).glob("*/images/*.png"))
    assert len(records) == len(images) == 4 * fixture.PER_CLASS
    for path in images:
        rec = records[path.stem.replace(" ", "_")]
        assert rec.labels["diagnosis"] == CLASSES.index(path.parent.parent.name)
        assert rec.patient_id is None and rec.split is None
        assert rec.meta == {"source_file": path.relative_to(raw).as_posix()}
    assert records["Viral_Pneumonia-1"].labels["diagnosis"] == 3


def test_rgb_image_is_converted_to_gray(raw, records):
    path = raw / fixture.FOLDER / "COVID" / "images" / "COVID-2.png"
    with Image.open(path) as img:
        assert img.mode == "RGB"
        reference = np.asarray(img.convert("L").resize((224, 224), Image.Resampling.BILINEAR))
    got = records["COVID-2"].inputs["image"].data
    assert got.shape == (224, 224) and np.abs(got.astype(int) - reference).mean() < 1.0


def test_prepare_splits_by_image_hash_and_quarantines_bad_files(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    base = copy / fixture.FOLDER
    truncated = base / "Normal" / "images" / "Normal-2.png"
    truncated.write_bytes(truncated.read_bytes()[:100])
    (base / "Tuberculosis" / "images").mkdir(parents=True)
    shutil.copy(base / "Normal" / "images" / "Normal-1.png",
                base / "Tuberculosis" / "images" / "Tuberculosis-1.png")

    manifest = prepare("covid19_radiography", copy, tmp_path / "store", workers=1, progress=False)
    assert {q["source"] for q in manifest["quarantined"]} == {
        f"{fixture.FOLDER}/Normal/images/Normal-2.png",
        f"{fixture.FOLDER}/Tuberculosis/images/Tuberculosis-1.png",
    }
    with open(tmp_path / "store" / "covid19_radiography" / "splits.csv", newline="") as f:
        splits = {row["sample_id"]: row["split"] for row in csv.DictReader(f)}
    assert len(splits) == 4 * fixture.PER_CLASS - 1
    assert all(split == hashed_split(f"sample:{sid}") for sid, split in splits.items())
