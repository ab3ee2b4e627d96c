"""COVID-BLUES adapter on the repository-layout fixture (H.264 MP4s per BLUE point and the
clinical variables table)."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import av
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from tests.adapt._prepare import prepare_cli, split_rows
from tests.fixtures import covid_blues as fixture
from tests.fixtures._video import truncate, write_empty_video


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("covid_blues"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("covid_blues").records(raw)}


def test_catalog_entry_names_the_adapter():
    entry = load_catalog().get("covid_blues")
    assert has_adapter(entry) and entry.adapter == "video.covid_blues"


def test_labels_views_and_patients_follow_file_names_and_clinical_table(raw, records):
    base = raw / fixture.FOLDER
    with open(base / "clinical_variables.csv", newline="") as f:
        table = {row["patient_id"]: row for row in csv.DictReader(f)}
    videos = sorted((base / "lus_videos").glob("*.mp4"))
    assert set(records) == {p.stem for p in videos}
    for path in videos:
        patient, point = re.match(r"patient_(\d+)_([LR]\d)", path.stem).groups()
        rec = records[path.stem]
        row = table.get(patient)
        assert rec.patient_id == patient and rec.split is None
        assert rec.labels["covid"] == (-1 if row is None else int(float(row["cov_test"])))
        decade = None if row is None else int(float(row["pat_age"])) // 10 * 10
        bucket = None if decade is None else "90+" if decade >= 90 else f"{decade}-{decade + 9}"
        assert rec.meta == {
            "source_file": path.relative_to(raw).as_posix(),
            "view": point,
            "age_bucket": bucket,
        }
    assert records["patient_99_L2"].labels["covid"] == -1
    assert records["patient_1_R1_2"].meta["view"] == "R1"


def test_clip_rate_comes_from_the_container(raw, records):
    for path in sorted((raw / fixture.FOLDER / "lus_videos").glob("*.mp4")):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps, n_frames = float(stream.average_rate), sum(1 for _ in container.decode(stream))
        clip = records[path.stem].inputs["video"]
        assert clip.data.shape == (16, 112, 112, 3)
        assert clip.sampling_rate == pytest.approx(fps / max(1.0, n_frames / 16))


def test_cli_prepare_keeps_patients_whole_and_quarantines_bad_videos(raw, tmp_path, caplog):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    videos = copy / fixture.FOLDER / "lus_videos"
    truncate(videos / "patient_4_L2.mp4", 0.6)
    write_empty_video(videos / "patient_9_L3.mp4", fixture.SIZE, fixture.FPS, codec="libx264")
    manifest, _ = prepare_cli(
        "covid_blues",
        copy,
        tmp_path / "store",
        {"frames": 4, "size": 32, "split_ratios": "0.4,0.3,0.3"},
        caplog,
    )
    quarantined = {Path(q["source"]).name for q in manifest["quarantined"]}
    assert quarantined == {"patient_4_L2.mp4", "patient_9_L3.mp4"}
    rows = split_rows(tmp_path / "store", "covid_blues")
    assert len(rows) == 11 - 2
    splits: dict[str, set[str]] = {}
    for row in rows:
        splits.setdefault(row["sample_id"].split("_")[1], set()).add(row["split"])
    assert all(len(s) == 1 for s in splits.values()), splits
    assert len(set().union(*splits.values())) >= 2
