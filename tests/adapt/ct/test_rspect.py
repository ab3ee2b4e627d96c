"""RSPECT adapter on the Kaggle-layout fixture (real CT_small pixels in DICOM series)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from tests.adapt._prepare import prepare_cli
from tests.fixtures import rspect as fixture
from tests.fixtures._ct import PHI

CLASSES = ["negative_exam_for_pe", "pe_present", "indeterminate"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("rspect"))


def expected_exam(raw: Path) -> dict[str, int]:
    """The exam_pe class of each study, from train.csv read here."""
    table = pd.read_csv(raw / fixture.FOLDER / "train.csv", dtype=str)
    out = {}
    for study, rows in table.groupby("StudyInstanceUID"):
        neg, ind = int(rows["negative_exam_for_pe"].iloc[0]), int(rows["indeterminate"].iloc[0])
        out[study] = CLASSES.index(
            "negative_exam_for_pe" if neg else "indeterminate" if ind else "pe_present"
        )
    return out


def test_study_records_carry_exam_label_and_hu_volume(raw):
    adapter = get_adapter("rspect", fixture.CONFIG)
    assert adapter.task_classes()["exam_pe"] == CLASSES
    items = adapter.items(raw)
    good = [i for i in items if i.key != fixture.MISSING_SLICE]
    records = {r.sample_id: r for i in good for r in adapter.load(raw, i)}
    expected = expected_exam(raw)
    assert {k: r.labels["exam_pe"] for k, r in records.items()} == {
        k: v for k, v in expected.items() if k != fixture.MISSING_SLICE
    }
    assert sorted(set(expected.values())) == [0, 1, 2]  # every class is exercised
    for study, rec in records.items():
        assert rec.patient_id == rec.study_id == study and rec.split is None
        assert rec.labels["image_pe"] == -1
        vol = rec.inputs["volume"]
        assert vol.shape == tuple(fixture.CONFIG["shape"]) and vol.dtype == "int16"
        assert vol.spacing == tuple(fixture.CONFIG["spacing"]) and vol.units == "HU"
    # HU, not stored values: the first file's pixels go through the -1024 intercept
    first = sorted((raw / fixture.FOLDER / "train" / good[0].key).rglob("*.dcm"))[0]
    ds = pydicom.dcmread(first)
    assert int(ds.pixel_array.min()) + int(ds.RescaleIntercept) <= -800
    assert int(records[good[0].key].inputs["volume"].data.min()) <= -800


def test_slice_records_follow_pe_present_on_image(raw):
    config = {**fixture.CONFIG, "slices": True, "size": 32}
    adapter = get_adapter("rspect", config)
    item = next(i for i in adapter.items(raw) if i.key == "3d4e5f607182")
    records = list(adapter.load(raw, item))
    table = pd.read_csv(raw / fixture.FOLDER / "train.csv", dtype=str)
    rows = table[table.StudyInstanceUID == item.key]
    want = {
        f"{item.key}_{s}": int(p)
        for s, p in zip(rows.SOPInstanceUID, rows.pe_present_on_image, strict=True)
    }
    slices = {r.sample_id: r for r in records[1:]}
    assert {k: r.labels["image_pe"] for k, r in slices.items()} == want
    assert sum(want.values()) == 3
    assert all(r.patient_id == item.key and r.labels["exam_pe"] == 1 for r in slices.values())
    image = next(iter(slices.values())).inputs["image"].data
    assert image.shape == (32, 32) and image.dtype == np.uint8 and image.std() > 0


def test_inconsistent_exam_flags_are_a_record_error(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    table = pd.read_csv(copy / fixture.FOLDER / "train.csv", dtype=str)
    first = table.index[table.StudyInstanceUID == "0a1b2c3d4e5f"][0]
    table.loc[first, "indeterminate"] = "1"
    table.to_csv(copy / fixture.FOLDER / "train.csv", index=False)
    adapter = get_adapter("rspect", fixture.CONFIG)
    item = next(i for i in adapter.items(copy) if i.key == "0a1b2c3d4e5f")
    with pytest.raises(RecordError, match="exam-level flags differ"):
        list(adapter.load(copy, item))


def test_prepare_quarantines_the_gap_and_leaks_no_phi(raw, tmp_path, caplog):
    manifest, text = prepare_cli("rspect", raw, tmp_path / "store", fixture.CONFIG, caplog)
    quarantined = manifest["quarantined"]
    assert [Path(q["source"]).parts[2] for q in quarantined] == [fixture.MISSING_SLICE]
    assert "missing slice" in quarantined[0]["error"]
    assert sum(c["samples"] for c in manifest["counts"].values()) == len(fixture.STUDIES) - 1
    assert "0a1b2c3d4e5f" in text  # the search sees the records
    for value in PHI.values():
        assert value not in text
    assert "Fixturova" not in text and "1941" not in text
