"""BUSI adapter on the publisher-layout fixture (real pixels, lesion masks)."""

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
from tests.adapt._photo_checks import mask_crop_nearest
from tests.fixtures import busi as fixture

CLASSES = ["normal", "benign", "malignant"]  # the catalog's order


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("busi"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("busi").records(raw)}


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("busi"))


def test_labels_follow_the_class_folders_and_masks_are_not_samples(raw, records):
    images = sorted(p for p in (raw / fixture.FOLDER).glob("*/*.png") if "_mask" not in p.name)
    assert len(records) == len(images) == 3 * fixture.PER_CLASS
    for path in images:
        cls, number = path.stem.split(" (")
        rec = records[f"{cls}-{number.rstrip(')')}"]
        assert rec.labels["diagnosis"] == CLASSES.index(path.parent.name)
        assert rec.meta == {"source_file": path.relative_to(raw).as_posix()}
        assert rec.split is None and rec.patient_id is None


def test_segmentation_is_the_union_of_the_masks(raw, records):
    folder = raw / fixture.FOLDER / "benign"
    first = np.asarray(Image.open(folder / "benign (2)_mask.png")) > 0
    second = np.asarray(Image.open(folder / "benign (2)_mask_1.png")) > 0
    assert first.any() and second.any() and not (first & second).any()
    got = records["benign-2"].labels["lesion_segmentation"]
    assert got.shape == (224, 224) and got.dtype == np.uint8 and set(np.unique(got)) == {0, 1}
    np.testing.assert_array_equal(got, mask_crop_nearest((first | second).astype(np.uint8)))
    assert got.sum() > mask_crop_nearest(first.astype(np.uint8)).sum()
    assert not records["normal-1"].labels["lesion_segmentation"].any()


def test_bad_images_are_quarantined_and_the_rest_prepared(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    base = copy / fixture.FOLDER
    (base / "malignant" / "malignant (1)_mask.png").unlink()
    truncated = base / "benign" / "benign (3).png"
    truncated.write_bytes(truncated.read_bytes()[:200])
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(base / "normal" / "normal (2)_mask.png")

    manifest = prepare("busi", copy, tmp_path / "store", workers=1, progress=False)
    errors = {q["source"].removeprefix(f"{fixture.FOLDER}/"): q["error"]
              for q in manifest["quarantined"]}
    assert set(errors) == {"malignant/malignant (1).png", "benign/benign (3).png",
                           "normal/normal (2).png"}
    assert "no <name>_mask.png" in errors["malignant/malignant (1).png"]
    assert "cannot decode image" in errors["benign/benign (3).png"]
    assert "mask size differs" in errors["normal/normal (2).png"]
    with open(tmp_path / "store" / "busi" / "splits.csv", newline="") as f:
        splits = {row["sample_id"]: row["split"] for row in csv.DictReader(f)}
    assert len(splits) == 3 * fixture.PER_CLASS - 3
    for sid, split in splits.items():
        digest = hashlib.sha256(f"0\x00sample:{sid}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2.0**64
        assert split == ("train" if u < 0.8 else "val" if u < 0.9 else "test")


def test_masks_are_part_of_the_fingerprinted_sources(raw):
    from climb.store.sources import SourceFiles

    adapter = get_adapter("busi")
    item = next(i for i in adapter.items(raw) if i.key == "benign-2")
    names = [p.name for p in SourceFiles(adapter, raw).files(item)]
    assert names == ["benign (2).png", "benign (2)_mask.png", "benign (2)_mask_1.png"]
