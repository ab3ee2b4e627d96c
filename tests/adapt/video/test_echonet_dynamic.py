"""EchoNet-Dynamic adapter on the AIMI-layout fixture (real ultrasound frames in AVI)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from matplotlib.path import Path as Outline

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from tests.adapt._prepare import prepare_cli, split_rows
from tests.fixtures import echonet_dynamic as fixture
from tests.fixtures._video import truncate, write_empty_video


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("echonet"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("echonet_dynamic").records(raw)}


def decoded_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_catalog_entry_names_the_adapter():
    entry = load_catalog().get("echonet_dynamic")
    assert has_adapter(entry) and entry.adapter == "video.echonet_dynamic"
    assert [t.name for t in entry.tasks] == ["ejection_fraction", "reduced_ef", "lv_segmentation"]


def test_ef_reduced_ef_and_official_split_follow_file_list(raw, records):
    with open(raw / fixture.FOLDER / "FileList.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert any(r["FileName"].endswith(".avi") for r in rows)  # both spellings in the table
    assert set(records) == {r["FileName"].removesuffix(".avi") for r in rows}
    for row in rows:
        rec = records[row["FileName"].removesuffix(".avi")]
        ef = float(row["EF"])
        assert rec.labels["ejection_fraction"] == pytest.approx(ef)
        assert rec.labels["reduced_ef"] == (1 if ef < 50 else 0)
        assert rec.split == row["Split"].lower()
        assert rec.patient_id == rec.sample_id
    assert records["0X2E"].labels["reduced_ef"] == 0 and records["0X2C"].labels["reduced_ef"] == 1


def test_frame_counts_come_from_the_container(raw, records):
    for name, _, _, frames, _ in fixture.VIDEOS:
        assert len(decoded_frames(raw / fixture.FOLDER / "Videos" / f"{name}.avi")) == frames
        rec = records[name]
        assert rec.inputs["video"].data.shape == (16, 112, 112, 3)
        assert rec.inputs["video"].sampling_rate == pytest.approx(fixture.FPS / 2)
        declared_wrong = name in fixture.WRONG_FRAMES
        assert ("NumberOfFrames" in rec.meta.get("notes", "")) == declared_wrong


def test_clip_starts_at_the_first_traced_frame(raw, records):
    for name, _, _, frames, traced in fixture.VIDEOS:
        video = decoded_frames(raw / fixture.FOLDER / "Videos" / f"{name}.avi")
        span = 31  # 16 frames, every 2nd
        if traced is None:  # centred in the video
            first = max(0, (frames - span) // 2)
        else:  # at the earlier traced frame, moved back so the clip fits
            first = max(0, min(min(traced), frames - span))
        expected = [min(frames - 1, first + 2 * i) for i in range(16)]
        np.testing.assert_array_equal(records[name].inputs["video"].data, video[expected])


def outline_mask(rows: list[list[float]], shape=(112, 112)) -> np.ndarray:
    """Pixels whose centre lies inside the chords' outline (matplotlib, not the adapter)."""
    pts = np.array(rows[1:])
    outline = np.concatenate([pts[:, :2], pts[::-1, 2:4]])
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    inside = Outline(outline).contains_points(np.c_[xx.ravel(), yy.ravel()])
    return inside.reshape(shape)


def test_masks_are_ed_then_es_and_match_the_tracings(raw, records):
    with open(raw / fixture.FOLDER / "VolumeTracings.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for name, _, _, _, traced in fixture.VIDEOS:
        rec = records[name]
        if traced is None:
            assert rec.labels["lv_segmentation"] is None and "tracing_frames" not in rec.inputs
            continue
        es, ed = traced  # the fixture draws the larger outline at ED
        video = decoded_frames(raw / fixture.FOLDER / "Videos" / f"{name}.avi")
        np.testing.assert_array_equal(rec.inputs["tracing_frames"].data, video[[ed, es]])
        mask = rec.labels["lv_segmentation"]
        assert mask.shape == (2, 112, 112) and mask.dtype == np.uint8
        for k, frame in enumerate((ed, es)):
            coords = [
                [float(r[c]) for c in ("X1", "Y1", "X2", "Y2")]
                for r in rows
                if r["FileName"] == f"{name}.avi" and int(r["Frame"]) == frame
            ]
            truth = outline_mask(coords)
            iou = (truth & (mask[k] == 1)).sum() / (truth | (mask[k] == 1)).sum()
            assert iou > 0.9, (name, frame, iou)
        assert mask[0].sum() > mask[1].sum()


def test_cli_prepare_quarantines_truncated_and_empty_videos(raw, tmp_path, caplog):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    videos = copy / fixture.FOLDER / "Videos"
    truncate(videos / "0X1A.avi", 0.8)
    write_empty_video(videos / "0X3B.avi", fixture.SIZE, fixture.FPS)
    manifest, _ = prepare_cli("echonet_dynamic", copy, tmp_path / "store", {"frames": 8}, caplog)
    reasons = {
        q["source"].removeprefix(f"{fixture.FOLDER}/Videos/"): q["error"]
        for q in manifest["quarantined"]
    }
    assert set(reasons) == {"0X1A.avi", "0X3B.avi"}
    assert "no decodable frame" in reasons["0X3B.avi"]
    prepared = {
        r["sample_id"]: r["split"] for r in split_rows(tmp_path / "store", "echonet_dynamic")
    }
    assert prepared == {"0X1F": "train", "0X2C": "train", "0X2E": "val", "0X3D": "test"}
