"""CBIS-DDSM adapter on the TCIA-layout fixture (case-description CSVs, NBIA folders)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from PIL import Image

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.fixtures import cbis_ddsm as fixture

PATHOLOGY = ["BENIGN", "BENIGN_WITHOUT_CALLBACK", "MALIGNANT"]  # the catalog's order


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("cbis"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("cbis_ddsm").records(raw)}


@pytest.fixture(scope="module")
def table(raw) -> pd.DataFrame:
    frames = []
    for path in sorted(raw.glob("*_case_description_*_set.csv")):
        frame = pd.read_csv(path)
        frame["official"] = "test" if "_test_" in path.name else "train"
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["folder"] = table["image file path"].str.split("/").str[0]
    return table


def padded(values: np.ndarray, size: int = 224) -> np.ndarray:
    """Reference: 0-255 scaling, aspect-preserving resize and centered zero padding."""
    scaled = (values - values.min()) / (values.max() - values.min()) * 255.0
    h, w = values.shape
    new = (round(w * size / max(h, w)), round(h * size / max(h, w)))
    img = Image.fromarray(scaled.astype(np.float32)).resize(new, Image.Resampling.BILINEAR)
    out = np.zeros((size, size))
    top, left = (size - new[1]) // 2, (size - new[0]) // 2
    out[top : top + new[1], left : left + new[0]] = np.asarray(img)
    return out


def in_val(patient: str) -> bool:
    digest = hashlib.sha256(f"0\x00val:{patient}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < 0.1


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("cbis_ddsm"))


def test_one_record_per_image_with_the_worst_finding(table, records):
    assert sorted(records) == sorted(table["folder"].unique()) and len(records) == 7
    rank = {"BENIGN_WITHOUT_CALLBACK": 0, "BENIGN": 1, "MALIGNANT": 2}
    for folder, rows in table.groupby("folder"):
        rec = records[folder]
        assert rec.labels["birads"] == rows["assessment"].max()  # vocabulary birads_0..5
        worst = max(rows["pathology"], key=rank.get)
        assert rec.labels["pathology"] == PATHOLOGY.index(worst)
        first = rows.iloc[0]
        assert rec.patient_id == first["patient_id"]
        assert rec.meta["view"] == first["image view"]
        assert rec.meta["laterality"] == first["left or right breast"].lower()
        expected = first["official"] if first["official"] == "test" or not in_val(
            first["patient_id"]) else "val"
        assert rec.split == expected
    two = records["Mass-Training_P_00001_LEFT_CC"]
    assert two.labels["birads"] == 4 and two.labels["pathology"] == PATHOLOGY.index("MALIGNANT")
    assert {records[f].split for f in table["folder"] if "P_00016" in f} == {"val"}


def test_classic_and_descriptive_layouts_and_pixels(raw, records):
    classic = records["Calc-Training_P_00004_RIGHT_MLO"].meta["source_file"]
    assert classic.startswith("CBIS-DDSM/Calc-Training_P_00004_RIGHT_MLO/1.3.6.1.4.1.9590")
    assert classic.endswith("/000000.dcm")
    source = records["Mass-Test_P_00017_LEFT_MLO"].meta["source_file"]
    assert source.endswith("full mammogram images-2405/1-1.dcm")
    ds = pydicom.dcmread(raw / source)
    assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.BitsStored == 16
    got = records["Mass-Test_P_00017_LEFT_MLO"].inputs["image"].data
    assert got.shape == (224, 224) and got.dtype == np.uint8
    # MONOCHROME2 without a window: the stored range scaled to 0-255, not inverted
    assert np.abs(got - padded(ds.pixel_array.astype(np.float64))).mean() < 1.0


def test_bad_images_are_quarantined_and_the_rest_prepared(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    images = copy / "CBIS-DDSM"
    for dcm in (images / "Mass-Training_P_00001_LEFT_MLO").rglob("*.dcm"):
        dcm.unlink()
    extra = next((images / "Mass-Test_P_00017_LEFT_MLO").rglob("*.dcm"))
    shutil.copy(extra, extra.with_name("1-2.dcm"))
    truncated = next((images / "Calc-Test_P_00038_RIGHT_CC").rglob("*.dcm"))
    truncated.write_bytes(truncated.read_bytes()[:1000])
    calc = copy / "calc_case_description_train_set.csv"
    frame = pd.read_csv(calc, dtype=str)
    frame.loc[frame["patient_id"] == "P_00004", "assessment"] = "6"
    frame.to_csv(calc, index=False)

    manifest = prepare("cbis_ddsm", copy, tmp_path / "store", workers=1, progress=False)
    errors = {q["source"].removeprefix("CBIS-DDSM/"): q["error"] for q in manifest["quarantined"]}
    assert set(errors) == {"Mass-Training_P_00001_LEFT_MLO", "Mass-Test_P_00017_LEFT_MLO",
                           "Calc-Test_P_00038_RIGHT_CC", "Calc-Training_P_00004_RIGHT_MLO"}
    assert "no full-mammogram DICOM" in errors["Mass-Training_P_00001_LEFT_MLO"]
    assert "several DICOM files" in errors["Mass-Test_P_00017_LEFT_MLO"]
    assert "cannot decode pixel data" in errors["Calc-Test_P_00038_RIGHT_CC"]
    assert "no entry in the mapping" in errors["Calc-Training_P_00004_RIGHT_MLO"]
    assert sum(s["rows"] for s in manifest["shards"]) == 3
