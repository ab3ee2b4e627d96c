"""CoronaHack adapter on the Kaggle-layout fixture (real pixels)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.fixtures import coronahack as fixture

CLASSES = ["Normal", "bacteria", "Virus"]  # the catalog's order


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("coronahack"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("coronahack").records(raw)}


def in_val(group: str) -> bool:
    digest = hashlib.sha256(f"0\x00val:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < 0.1


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("coronahack"))


def test_labels_and_splits_follow_the_metadata(raw, records):
    with open(raw / "Chest_xray_Corona_Metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [r for r in rows if r["Label_1_Virus_category"] != "Stress-Smoking"]
    assert sorted(records) == sorted(r["X_ray_image_name"].rsplit(".", 1)[0] for r in kept)
    for row in kept:
        rec = records[row["X_ray_image_name"].rsplit(".", 1)[0]]
        native = "Normal" if row["Label"] == "Normal" else row["Label_1_Virus_category"]
        assert rec.labels["diagnosis"] == CLASSES.index(native)
        name = row["X_ray_image_name"]
        group = name.split("_")[0] if name.startswith("person") else name
        expected = "test" if row["Dataset_type"] == "TEST" else (
            "val" if in_val(group) else "train")
        assert rec.split == expected and rec.patient_id is None
        assert rec.meta["source_file"] == f"{fixture.FOLDER}/{row['Dataset_type'].lower()}/{name}"
    assert records["person6_virus_13"].split == records["person6_bacteria_22"].split == "val"
    assert {r.split for r in records.values()} == {"train", "val", "test"}


def test_bad_rows_are_quarantined_and_the_rest_prepared(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    (copy / fixture.FOLDER / "train" / "IM-0128-0001.jpeg").unlink()
    truncated = copy / fixture.FOLDER / "test" / "IM-0001-0001.jpeg"
    truncated.write_bytes(truncated.read_bytes()[:120])
    table = copy / "Chest_xray_Corona_Metadata.csv"
    table.write_text(table.read_text().replace("person1_bacteria_2.jpeg,Pnemonia,TRAIN,,bacteria",
                                               "person1_bacteria_2.jpeg,Pnemonia,TRAIN,,"))
    manifest = prepare("coronahack", copy, tmp_path / "store", workers=1, progress=False)
    errors = {q["source"].removeprefix(f"{fixture.FOLDER}/"): q["error"]
              for q in manifest["quarantined"]}
    assert set(errors) == {"train/IM-0128-0001.jpeg", "test/IM-0001-0001.jpeg",
                           "train/person1_bacteria_2.jpeg"}
    assert "image file not found" in errors["train/IM-0128-0001.jpeg"]
    assert "no entry in the mapping" in errors["train/person1_bacteria_2.jpeg"]
    assert sum(s["rows"] for s in manifest["shards"]) == len(fixture.ROWS) - 1 - 3
