"""ISIC 2020 adapter on the challenge-layout fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.adapt._photo_checks import hashed_split, quarantined, standard_rgb, stored_splits
from tests.fixtures import isic2020 as fixture

# diagnosis -> dermatology5 index (melanoma, nevus, basal_cell_carcinoma,
# actinic_keratosis_scc, benign_keratosis); classes outside the five are -1.
EXPECTED_CLASS = {"melanoma": 0, "nevus": 1, "seborrheic keratosis": 4, "lentigo NOS": 4,
                  "lichenoid keratosis": 4, "solar lentigo": 4, "unknown": -1,
                  "cafe-au-lait macule": -1, "atypical melanocytic proliferation": -1}


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("isic"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("isic2020").records(raw)}


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("isic2020"))


def test_labels_patients_and_meta_follow_the_ground_truth(raw, records):
    assert len(records) == len(fixture.ROWS)
    for name, patient, _, sex, age, _, diagnosis, verdict, target in fixture.ROWS:
        rec = records[name]
        assert rec.labels["malignancy"] == int(target) == ["benign", "malignant"].index(verdict)
        assert rec.labels["diagnosis"] == EXPECTED_CLASS[diagnosis]
        assert rec.patient_id == patient and rec.split is None
        assert rec.meta.get("sex") == (sex or None)
        low = int(float(age)) // 10 * 10 if age else None
        assert rec.meta.get("age_bucket") == (None if low is None else "90+" if low >= 90
                                              else f"{low}-{low + 9}")
        assert rec.meta["source_file"] == f"train/{name}.jpg"
        assert set(rec.meta) <= {"sex", "age_bucket", "source_file"}
    got = records["ISIC_0074268"].inputs["image"].data
    expected = standard_rgb(raw / "train" / "ISIC_0074268.jpg")
    assert got.shape == (224, 224, 3) and np.abs(got.astype(int) - expected).max() <= 1


def test_patient_split_and_bad_rows_quarantined(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    (copy / "train" / "ISIC_0015719.jpg").unlink()
    truncated = copy / "train" / "ISIC_0052212.jpg"
    truncated.write_bytes(truncated.read_bytes()[:300])
    table = copy / "ISIC_2020_Training_GroundTruth_v2.csv"
    text = table.read_text().replace("lentigo NOS,benign,0", "lentigo NOS,benign,1")
    table.write_text(text.replace("lichenoid keratosis", "granuloma"))

    manifest = prepare("isic2020", copy, tmp_path / "store", workers=1, progress=False)
    errors = quarantined(manifest)
    assert set(errors) == {f"train/{n}.jpg" for n in
                           ("ISIC_0015719", "ISIC_0052212", "ISIC_0074542", "ISIC_0075663")}
    assert "not found" in errors["train/ISIC_0015719.jpg"]
    assert "cannot decode image" in errors["train/ISIC_0052212.jpg"]
    assert "target disagrees" in errors["train/ISIC_0074542.jpg"]
    assert "no entry in the mapping" in errors["train/ISIC_0075663.jpg"]

    splits = stored_splits(tmp_path / "store", "isic2020")
    patient_of = {row[0]: row[1] for row in fixture.ROWS}
    assert len(splits) == len(fixture.ROWS) - 4
    for sid, (patient, split) in splits.items():
        assert patient == patient_of[sid] and split == hashed_split(f"patient:{patient}")
    assert splits["ISIC_0074268"][1] == splits["ISIC_0076742"][1]  # one patient, two images
