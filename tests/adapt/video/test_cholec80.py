"""Cholec80 adapter on the CAMMA-layout fixture (H.264 MP4s, per-frame phase and 1 fps tool
tables)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from tests.adapt._prepare import prepare_cli, split_rows
from tests.fixtures import cholec80 as fixture
from tests.fixtures._video import truncate, write_empty_video

WINDOW = 10  # 0.4 s at 25 fps


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("cholec80"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("cholec80", fixture.CONFIG).records(raw)}


def decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def read_table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_catalog_entry_names_the_adapter():
    entry = load_catalog().get("cholec80")
    assert has_adapter(entry) and entry.adapter == "video.cholec80"


def test_windows_labels_and_splits_follow_the_annotation_files(raw, records):
    base = raw / fixture.FOLDER
    phases = load_catalog().get("cholec80").task("phase").classes
    expected = {}
    for number in fixture.VIDEOS:
        stem = f"video{number:02d}"
        container = len(decoded(base / "videos" / f"{stem}.mp4"))
        phase_rows = read_table(base / "phase_annotations" / f"{stem}-phase.txt")
        tool_rows = read_table(base / "tool_annotations" / f"{stem}-tool.txt")
        usable = min(container, len(phase_rows))
        split = "test" if number > 40 else "val" if number >= 33 else "train"
        for start in range(0, usable - WINDOW + 1, WINDOW):
            centre = start + WINDOW // 2
            nearest = min(tool_rows, key=lambda r: (abs(int(r["Frame"]) - centre), int(r["Frame"])))
            expected[f"{stem}-f{start:06d}"] = (
                split,
                stem,
                phases.index(phase_rows[centre]["Phase"]),
                [float(nearest[t]) for t in fixture.TOOLS],
            )
    assert set(records) == set(expected)
    for sample_id, (split, stem, phase, tools) in expected.items():
        rec = records[sample_id]
        assert (rec.split, rec.patient_id, rec.labels["phase"]) == (split, stem, phase)
        np.testing.assert_array_equal(rec.labels["tools"], np.array(tools, np.float32))
        assert rec.inputs["video"].data.shape == (4, 32, 32, 3)
        assert rec.inputs["video"].sampling_rate == pytest.approx(10.0)
    assert len({r.labels["phase"] for r in records.values()}) >= 5
    short = [r for r in records.values() if r.patient_id == "video02"]
    assert short and all("phase annotation" in r.meta["notes"] for r in short)
    assert all("notes" not in r.meta for r in records.values() if r.patient_id != "video02")


def test_clip_frames_are_spread_over_their_window(raw):
    adapter = get_adapter("cholec80", {**fixture.CONFIG, "size": 48})
    item = next(i for i in adapter.items(raw) if i.key == "video41")
    frames = decoded(raw / item.source)
    left = (fixture.SIZE[1] - 48) // 2
    for rec in adapter.load(raw, item):
        start = int(rec.sample_id.rsplit("-f", 1)[1])
        chosen = [start + int((i + 0.5) * WINDOW / 4) for i in range(4)]
        np.testing.assert_array_equal(rec.inputs["video"].data, frames[chosen, :, left : left + 48])


def test_cli_prepare_quarantines_truncated_and_empty_videos(raw, tmp_path, caplog):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    videos = copy / fixture.FOLDER / "videos"
    truncate(videos / "video42.mp4", 0.6)
    write_empty_video(videos / "video01.mp4", fixture.SIZE, fixture.FPS, codec="libx264")
    manifest, _ = prepare_cli("cholec80", copy, tmp_path / "store", fixture.CONFIG, caplog)
    quarantined = {q["source"] for q in manifest["quarantined"]}
    assert quarantined == {
        f"{fixture.FOLDER}/videos/video42.mp4",
        f"{fixture.FOLDER}/videos/video01.mp4",
    }
    rows = split_rows(tmp_path / "store", "cholec80")
    videos_prepared = {r["sample_id"].split("-")[0]: r["split"] for r in rows}
    assert videos_prepared == {"video02": "train", "video35": "val", "video41": "test"}
