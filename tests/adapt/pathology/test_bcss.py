"""BCSS adapter on the README-layout fixture (ROIs, code masks, gt_codes.tsv)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.adapt._photo_checks import (
    hashed_split,
    mask_crop_nearest,
    quarantined,
    standard_rgb,
    stored_splits,
)
from tests.fixtures import bcss as fixture

TISSUE = ["tumor", "stroma", "lymphocytic_infiltrate", "necrosis_or_debris"]  # catalog order


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("bcss"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("bcss").records(raw)}


def expected_tissue(mask: np.ndarray) -> int:
    """Most frequent code other than outside_roi (0) and exclude (7), counted by hand."""
    values, counts = np.unique(mask[(mask != 0) & (mask != 7)], return_counts=True)
    code = int(values[np.argmax(counts)])
    return code - 1 if 1 <= code <= 4 else -1


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("bcss"))


def test_dominant_tissue_masks_and_patients(raw, records):
    assert set(records) == set(fixture.ROIS)
    labels = []
    for name in fixture.ROIS:
        mask = np.asarray(Image.open(raw / "BCSS" / "masks" / f"{name}.png"))
        rec = records[name]
        assert rec.labels["tissue"] == expected_tissue(mask)
        labels.append(rec.labels["tissue"])
        seg = rec.labels["tissue_segmentation"]
        assert seg.shape == (224, 224) and seg.dtype == np.uint8
        np.testing.assert_array_equal(seg, mask_crop_nearest(mask))
        assert rec.patient_id == name[:12] and rec.meta["site"] == name[5:7]
        assert rec.meta["source_file"] == f"BCSS/rgbs_colorNormalized/{name}.png"
    assert set(labels) == {-1, 0, 1, 2, 3}  # every class, and fat / blood-vessel -> -1
    name = "TCGA-A2-A0CM-DX1_xmin18562_ymin56852_MPP-0.2500"
    expected = standard_rgb(raw / "BCSS" / "rgbs_colorNormalized" / f"{name}.png")
    assert np.abs(records[name].inputs["image"].data.astype(int) - expected).max() <= 1


def test_patient_split_and_bad_rois_quarantined(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    base = copy / "BCSS"
    names = list(fixture.ROIS)
    (base / "masks" / f"{names[2]}.png").unlink()
    truncated = base / "rgbs_colorNormalized" / f"{names[3]}.png"
    truncated.write_bytes(truncated.read_bytes()[:300])
    Image.fromarray(np.ones((10, 10), np.uint8)).save(base / "masks" / f"{names[4]}.png")
    Image.fromarray(np.full(fixture.SHAPE, 40, np.uint8)).save(base / "masks" / f"{names[5]}.png")

    manifest = prepare("bcss", copy, tmp_path / "store", workers=1, progress=False)
    errors = {Path(s).stem: e for s, e in quarantined(manifest).items()}
    assert set(errors) == set(names[2:6])
    assert "no mask" in errors[names[2]]
    assert "cannot decode image" in errors[names[3]]
    assert "size differs" in errors[names[4]]
    assert "not in gt_codes.tsv" in errors[names[5]]
    splits = stored_splits(tmp_path / "store", "bcss")
    assert set(splits) == {names[0], names[1], names[6]}
    for sid, (patient, split) in splits.items():
        assert patient == sid[:12] and split == hashed_split(f"patient:{patient}")
    assert splits[names[0]][1] == splits[names[1]][1]  # two ROIs of one patient
