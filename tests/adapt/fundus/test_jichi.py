"""Jichi adapter on the figshare-layout fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.adapt._photo_checks import hashed_split, quarantined, standard_rgb, stored_splits
from tests.fixtures import jichi as fixture

# single-figure Davis grade -> dr_grade5 index (no_dr, mild_npdr, moderate_npdr, severe_npdr,
# proliferative_dr), as the mapping table's comment describes it
EXPECTED = {"ndr": 0, "sdr": 1, "ppdr": 3, "pdr": 4}


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("jichi"))


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("jichi"))


def test_single_figure_grade_patient_and_laterality(raw):
    records = {r.sample_id: r for r in get_adapter("jichi").records(raw)}
    assert len(records) == len(fixture.ROWS)
    for name, _concatenated, one in fixture.ROWS:
        patient, _, side = name.removesuffix(".jpg").split("_")
        rec = records[name.removesuffix(".jpg")]
        assert rec.labels == {"dr_grade": EXPECTED[one]}
        assert rec.patient_id == patient
        assert rec.meta == {"source_file": f"dmr/{name}",
                            "laterality": {"L": "left", "R": "right"}[side]}
    assert records["4_2_R"].labels["dr_grade"] != EXPECTED["sdr"]  # not the concatenated grade
    got = records["2663_3_L"].inputs["image"].data
    expected = standard_rgb(raw / "dmr" / "2663_3_L.jpg")
    assert got.shape == (224, 224, 3) and np.abs(got.astype(int) - expected).max() <= 1


def test_patient_split_and_bad_rows_quarantined(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    folder = copy / "dmr"
    (folder / "4_3_L.jpg").unlink()
    truncated = folder / "17_1_L.jpg"
    truncated.write_bytes(truncated.read_bytes()[:300])
    shutil.copy(folder / "1_1_R.jpg", folder / "extra.jpg")
    table = folder / "list.csv"
    text = table.read_text().replace("1_2_L.jpg,ndr,ndr", "1_2_L.jpg,ndr,mild")
    table.write_text(text + "extra.jpg,ndr,ndr\n")

    manifest = prepare("jichi", copy, tmp_path / "store", workers=1, progress=False)
    errors = quarantined(manifest)
    assert set(errors) == {"dmr/4_3_L.jpg", "dmr/17_1_L.jpg", "dmr/1_2_L.jpg", "dmr/extra.jpg"}
    assert "not found" in errors["dmr/4_3_L.jpg"]
    assert "cannot decode image" in errors["dmr/17_1_L.jpg"]
    assert "no entry in the mapping" in errors["dmr/1_2_L.jpg"]
    assert "<patient>_<n>_<L|R>" in errors["dmr/extra.jpg"]
    splits = stored_splits(tmp_path / "store", "jichi")
    assert len(splits) == len(fixture.ROWS) - 3
    for sid, (patient, split) in splits.items():
        assert patient == sid.split("_")[0] and split == hashed_split(f"patient:{patient}")
