"""KiTS23 adapter on the repository-layout fixture (real CT_small pixels in NIfTI)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel
import numpy as np
import pytest

from climb.adapt.base import get_adapter
from climb.read.standardize_volume import crop_or_pad, resample_volume
from tests.adapt._prepare import prepare_cli
from tests.fixtures import kits23 as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("kits23"))


def test_malignancy_sex_age_and_the_volume_follow_the_case(raw):
    adapter = get_adapter("kits23", fixture.CONFIG)
    dataset = raw / "kits23" / "dataset"
    cases = {c["case_id"]: c for c in json.loads((dataset / "kits23.json").read_text())}
    items = adapter.items(raw)
    assert [i.key for i in items] == sorted(cases)
    for item in items:
        if item.key == fixture.NO_IMAGE:
            continue
        (rec,) = adapter.load(raw, item)
        case = cases[item.key]
        assert rec.labels["malignancy"] == (1 if case["malignant"] else 0)
        assert rec.patient_id == rec.sample_id == item.key and rec.split is None
        assert rec.meta["sex"] == case["gender"]
        low = case["age_at_nephrectomy"] // 10 * 10
        assert rec.meta["age_bucket"] == ("90+" if low >= 90 else f"{low}-{low + 9}")
        # the stored volume is the file's HU resampled and cropped, computed here from nibabel
        img = nibabel.as_closest_canonical(nibabel.load(dataset / item.key / "imaging.nii.gz"))
        hu = np.asarray(img.dataobj).transpose(2, 1, 0)
        want = crop_or_pad(
            resample_volume(hu, fixture.SPACING, (6.0, 3.0, 3.0)), (4, 32, 32), -1024.0
        )
        got = rec.inputs["volume"].data
        assert got.dtype == np.int16 and np.abs(got - np.rint(want)).max() <= 1


def test_prepare_quarantines_the_case_without_imaging(raw, tmp_path, caplog):
    manifest, text = prepare_cli("kits23", raw, tmp_path / "store", fixture.CONFIG, caplog)
    assert [q["source"] for q in manifest["quarantined"]] == [
        f"kits23/dataset/{fixture.NO_IMAGE}/imaging.nii.gz"
    ]
    assert "NIfTI file not found" in manifest["quarantined"][0]["error"]
    assert sum(c["samples"] for c in manifest["counts"].values()) == len(fixture.CASES) - 1
    assert str(raw) not in text  # errors and logs name the source, not the machine's path


def test_segmentation_lands_on_the_volumes_grid(raw):
    item = next(i for i in get_adapter("kits23").items(raw) if i.key == "case_00002")
    # no resampling, no crop: the mask is the file's labels in the volume's (RAS+) order
    (rec,) = get_adapter("kits23", {"spacing": None, "shape": None}).load(raw, item)
    img = nibabel.as_closest_canonical(
        nibabel.load(raw / "kits23" / "dataset" / "case_00002" / "segmentation.nii.gz")
    )
    assert np.array_equal(
        rec.labels["segmentation"], np.asarray(img.dataobj).transpose(2, 1, 0).astype(np.uint8)
    )
    # resampled and cropped like the volume: labels agree with the HU they were drawn from
    (rec,) = get_adapter("kits23", fixture.CONFIG).load(raw, item)
    mask, volume = rec.labels["segmentation"], rec.inputs["volume"].data
    assert mask.shape == volume.shape and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 1, 2} and (mask == 2).any()
    assert ((mask >= 1) == (volume > 0)).mean() > 0.9
