"""COVID-US adapter on the repository-after-notebook fixture (processed AVIs, v1.4 table)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from tests.adapt._prepare import prepare_cli, split_rows
from tests.fixtures import covid_us as fixture
from tests.fixtures._video import truncate, write_empty_video

CLASSES = {"COVID": 0, "Pneumonia": 1, "Normal": 2}  # the catalog's order: covid, pneumonia, normal


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("covid_us"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("covid_us").records(raw)}


def test_catalog_entry_names_the_adapter():
    entry = load_catalog().get("covid_us")
    assert has_adapter(entry) and entry.adapter == "video.covid_us"
    assert entry.task("diagnosis").classes == ["covid", "pneumonia", "normal"]


def test_labels_patients_and_meta_follow_the_newest_table(raw, records):
    with open(raw / fixture.FOLDER / "labels" / "COVIDx-US1.4_4class.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["class"] != "Other"]
    assert set(records) == {r["id"] for r in rows}  # Other left out; v1.2 table not read
    for row in rows:
        rec = records[row["id"]]
        assert rec.labels["diagnosis"] == CLASSES[row["class"]]
        assert rec.patient_id == row["patient"] and rec.split is None
        folder = "cropped" if row["id"] in fixture.CROPPED_ONLY else "clean"
        assert rec.meta["source_file"].split("/")[-2] == folder
        assert (rec.meta["site"], rec.meta["device"]) == (row["source"], row["probe"])
        assert rec.meta["view"] == (row["type"] or None)
        assert rec.inputs["video"].data.shape == (16, 112, 112, 3)
    assert records["25_grepmed_pneumonia"].inputs["video"].sampling_rate == pytest.approx(20.0)


def test_cli_prepare_keeps_cases_whole_and_quarantines_bad_videos(raw, tmp_path, caplog):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    clean = copy / fixture.FOLDER / "data/video/clean"
    truncate(clean / "29_grepmed_covid_prc_linear_clean.avi", 0.8)
    write_empty_video(clean / "20_butterfly_normal_prc_convex_clean.avi", fixture.SIZE, 15)
    manifest, _ = prepare_cli(
        "covid_us", copy, tmp_path / "store", {"frames": 4, "size": 32}, caplog
    )
    quarantined = {Path(q["source"]).name for q in manifest["quarantined"]}
    assert quarantined == {
        "29_grepmed_covid_prc_linear_clean.avi",
        "20_butterfly_normal_prc_convex_clean.avi",
    }
    rows = {r["sample_id"]: r for r in split_rows(tmp_path / "store", "covid_us")}
    assert set(rows) == {
        "1_butterfly_covid",
        "25_grepmed_pneumonia",
        "44_litfl_pneumonia",
        "47_litfl_pneumonia",
    }
    assert rows["44_litfl_pneumonia"]["split"] == rows["47_litfl_pneumonia"]["split"]  # case p44
