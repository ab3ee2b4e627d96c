"""Brain MRI (tumor detection) adapter on the Kaggle-layout fixture (real pixels)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.fixtures import brain_mri as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("brain_mri"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("brain_mri").records(raw)}


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("brain_mri"))


def test_labels_from_the_folders_and_the_duplicate_copy_is_not_read(records):
    assert len(records) == len(fixture.FILES)
    sources = {r.meta["source_file"]: r for r in records.values()}
    assert sorted(sources) == sorted(f"{folder}/{name}" for folder, name, _, _ in fixture.FILES)
    for folder, name, _, _ in fixture.FILES:
        rec = sources[f"{folder}/{name}"]
        assert rec.labels["tumor"] == ["no", "yes"].index(folder)
        assert rec.inputs["image"].shape == (224, 224) and rec.split is None
    assert "no-no-10.jpg" in records and "no-1-no.jpeg" in records


def test_prepare_splits_by_image_hash_and_quarantines_bad_files(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    truncated = copy / "yes" / "Y10.jpg"
    truncated.write_bytes(truncated.read_bytes()[:100])
    (copy / "maybe").mkdir()
    shutil.copy(copy / "yes" / "Y1.jpg", copy / "maybe" / "M1.jpg")
    manifest = prepare("brain_mri", copy, tmp_path / "store", workers=1, progress=False)
    errors = {q["source"]: q["error"] for q in manifest["quarantined"]}
    assert set(errors) == {"yes/Y10.jpg", "maybe/M1.jpg"}
    assert "cannot decode image" in errors["yes/Y10.jpg"]
    with open(tmp_path / "store" / "brain_mri" / "splits.csv", newline="") as f:
        splits = {row["sample_id"]: row["split"] for row in csv.DictReader(f)}
    assert len(splits) == len(fixture.FILES) - 1
    for sid, split in splits.items():
        digest = hashlib.sha256(f"0\x00sample:{sid}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2.0**64
        assert split == ("train" if u < 0.8 else "val" if u < 0.9 else "test")
