"""APTOS 2019 adapter on the competition-layout fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.adapt._photo_checks import hashed_split, quarantined, standard_rgb, stored_splits
from tests.fixtures import aptos2019 as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("aptos"))


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("aptos2019"))


def test_grades_follow_train_csv_and_test_images_are_not_used(raw):
    records = {r.sample_id: r for r in get_adapter("aptos2019").records(raw)}
    assert set(records) == {code for code, _ in fixture.TRAIN}
    for code, grade in fixture.TRAIN:
        rec = records[code]
        assert rec.labels == {"dr_grade": int(grade)}  # dr_grade5 is ICDR 0-4 in order
        assert rec.meta == {"source_file": f"train_images/{code}.png"}
        assert rec.patient_id is None and rec.split is None
    expected = standard_rgb(raw / "train_images" / "00e4ddff966a.png")
    got = records["00e4ddff966a"].inputs["image"].data
    assert got.shape == (224, 224, 3) and np.abs(got.astype(int) - expected).max() <= 1


def test_image_split_and_bad_rows_quarantined(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    (copy / "train_images" / "001639a390f0.png").unlink()
    truncated = copy / "train_images" / "0024cdab0c1e.png"
    truncated.write_bytes(truncated.read_bytes()[:200])
    table = copy / "train.csv"
    table.write_text(table.read_text().replace("00e4ddff966a,3", "00e4ddff966a,5"))

    manifest = prepare("aptos2019", copy, tmp_path / "store", workers=1, progress=False)
    errors = quarantined(manifest)
    assert set(errors) == {f"train_images/{c}.png" for c in
                           ("001639a390f0", "0024cdab0c1e", "00e4ddff966a")}
    assert "not found" in errors["train_images/001639a390f0.png"]
    assert "cannot decode image" in errors["train_images/0024cdab0c1e.png"]
    assert "no entry in the mapping" in errors["train_images/00e4ddff966a.png"]
    splits = stored_splits(tmp_path / "store", "aptos2019")
    assert len(splits) == len(fixture.TRAIN) - 3
    for sid, (patient, split) in splits.items():
        assert patient == "" and split == hashed_split(f"sample:{sid}")
