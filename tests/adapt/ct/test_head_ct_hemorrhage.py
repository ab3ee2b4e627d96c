"""CT-ICH (PhysioNet) adapter on the release-layout fixture: one record per labelled slice,
slice numbers counted along the file's third axis (also when it runs top-down), masks."""

from __future__ import annotations

from pathlib import Path

import nibabel
import numpy as np
import pandas as pd
import pytest

from climb.adapt.base import get_adapter
from climb.read.standardize import standardize_image
from tests.adapt._prepare import prepare_cli
from tests.fixtures import head_ct_hemorrhage as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("ctich"))


@pytest.fixture(scope="module")
def records(raw):
    adapter = get_adapter("head_ct_hemorrhage", fixture.CONFIG)
    return {
        r.sample_id: r
        for i in adapter.items(raw)
        if i.key != f"{fixture.TRUNCATED:03d}"
        for r in adapter.load(raw, i)
    }


def brain_png(hu: np.ndarray) -> np.ndarray:
    """Brain window (centre 40, width 80) -> uint8, then the adapter's 32 x 32 fit."""
    windowed = np.clip(np.rint((hu.astype(np.float64) - 0.0) * 255 / 80), 0, 255)
    return standardize_image(
        windowed.astype(np.uint8), size=32, fit="crop", mode="L", resample="bilinear"
    )


def test_slice_labels_follow_the_csv(raw, records):
    table = pd.read_csv(raw / fixture.FOLDER / "hemorrhage_diagnosis_raw_ct.csv")
    scanned = table[~table.PatientNumber.isin([fixture.TRUNCATED, fixture.NO_SCAN])]
    want = {
        f"{p:03d}_{s:02d}": 1 - int(n)
        for p, s, n in zip(
            scanned.PatientNumber, scanned.SliceNumber, scanned.No_Hemorrhage, strict=True
        )
    }
    assert {k: r.labels["hemorrhage"] for k, r in records.items()} == want
    assert sorted(set(want.values())) == [0, 1]
    for key, rec in records.items():
        assert rec.patient_id == str(int(key[:3])) and rec.study_id == key[:3]
        assert rec.split is None
        mask = rec.labels["hemorrhage_segmentation"]
        assert mask.shape == (32, 32) and bool(mask.any()) == bool(want[key])


@pytest.mark.parametrize("patient", [49, fixture.TOP_DOWN])
def test_slice_number_counts_along_the_files_third_axis(raw, records, patient):
    img = nibabel.load(raw / fixture.FOLDER / "ct_scans" / f"{patient:03d}.nii")
    data = np.asarray(img.dataobj)  # x, y, z as stored, not reoriented
    for number in range(1, fixture.DEPTH + 1):
        got = records[f"{patient:03d}_{number:02d}"].inputs["image"].data
        candidates = [brain_png(data[:, :, z].T) for z in range(data.shape[2])]
        errors = [np.abs(got.astype(int) - c.astype(int)).mean() for c in candidates]
        assert int(np.argmin(errors)) == number - 1 and min(errors) < 1.0


def test_prepare_groups_slices_by_patient_and_quarantines_the_truncated_scan(raw, tmp_path, caplog):
    manifest, _ = prepare_cli("head_ct_hemorrhage", raw, tmp_path / "store", fixture.CONFIG, caplog)
    (bad,) = manifest["quarantined"]
    assert bad["source"].endswith("ct_scans/052.nii") and "truncated" in bad["error"]
    assert sum(c["samples"] for c in manifest["counts"].values()) == 3 * fixture.DEPTH
    assert not manifest["split"]["patient_conflicts"]
