"""Multi-frame DICOM cines (pydicom's test files) and video files written with PyAV from the
real ultrasound cine's frames; clip sampling."""

from __future__ import annotations

import av
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import convert_color_space, pixel_array

from climb.errors import RecordError
from climb.read.dicom_cine import read_dicom_cine
from climb.read.video import clip_indices, read_video

US = get_testdata_file("examples_ybr_color.dcm")  # 30 frames, YBR_FULL_422, FrameTime 33.333
MR = get_testdata_file("emri_small.dcm")  # 10 frames, MONOCHROME2, no frame timing


@pytest.fixture(scope="module")
def cine() -> np.ndarray:
    return read_dicom_cine(US).array


def write_video(path, frames: np.ndarray, codec: str, rate: int = 25) -> None:
    """Encode ``frames`` (T x H x W x 3 uint8) with PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def test_ultrasound_cine_is_rgb_frames_with_fps_from_frame_time():
    volume = read_dicom_cine(US)
    raw = pixel_array(US, as_rgb=False)  # YBR as stored, converted independently below
    assert volume.array.shape == (30, 240, 320, 3) and volume.axes == "THWC"
    assert np.array_equal(volume.array, convert_color_space(raw, "YBR_FULL", "RGB"))
    assert volume.photometric == "RGB" and volume.meta["source_photometric"] == "YBR_FULL_422"
    assert volume.fps == pytest.approx(1000 / 33.333) and volume.meta["fps_source"] == "FrameTime"


def test_multiframe_mr_without_timing_has_no_fps():
    volume = read_dicom_cine(MR)
    assert volume.array.shape == (10, 64, 64) and volume.axes == "THW"
    assert np.array_equal(volume.array, pydicom.dcmread(MR).pixel_array)
    assert volume.fps is None and "fps_source" not in volume.meta


def test_cine_rate_is_used_when_frame_time_is_absent(tmp_path):
    ds = pydicom.dcmread(US)
    del ds.FrameTime, ds.FrameIncrementPointer
    ds.CineRate = 24
    ds.PatientName, ds.PatientBirthDate = "Jane^Q^Doe", "19570314"
    ds.save_as(tmp_path / "c.dcm")
    volume = read_dicom_cine(tmp_path / "c.dcm")
    assert volume.fps == 24 and volume.meta["fps_source"] == "CineRate"
    assert "Doe" not in repr(volume.meta) and "1957" not in repr(volume.meta)


@pytest.mark.parametrize(("name", "codec"), [("c.mp4", "mpeg4"), ("c.avi", "mjpeg")])
def test_video_frame_count_fps_and_pixels_match_what_was_written(tmp_path, cine, name, codec):
    write_video(tmp_path / name, cine, codec)
    volume = read_video(tmp_path / name)
    assert volume.array.shape == cine.shape and volume.array.dtype == np.uint8
    assert volume.fps == 25 and volume.meta["frames"] == 30
    assert volume.meta["frame_count"] == "container"
    assert np.abs(volume.array.astype(int) - cine).mean() < 6  # lossy codec, same frames
    picked = read_video(tmp_path / name, indices=[29, 0, 17, 17, 3])
    assert np.array_equal(picked.array, volume.array[[29, 0, 17, 17, 3]])


def test_container_without_frame_count_counts_decoded_frames(tmp_path, cine):
    write_video(tmp_path / "c.mkv", cine[:12], "mpeg4")
    volume = read_video(tmp_path / "c.mkv")
    assert volume.meta == {**volume.meta, "frames": 12, "frame_count": "decoded"}


def test_truncated_and_empty_videos_are_record_errors(tmp_path, cine):
    write_video(tmp_path / "c.avi", cine, "mjpeg")
    data = (tmp_path / "c.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordError, match=r"cut\.avi: (truncated|cannot decode video)"):
        read_video(tmp_path / "cut.avi")
    write_video(tmp_path / "empty.mp4", cine[:0], "mpeg4")
    with pytest.raises(RecordError, match=r"empty\.mp4: "):
        read_video(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"\0" * 1000)
    with pytest.raises(RecordError, match="cannot open video"):
        read_video(tmp_path / "junk.mp4")


def test_clip_indices_on_the_real_cine(cine):
    n = len(cine)
    assert clip_indices(n, 8) == [1, 5, 9, 13, 16, 20, 24, 28]
    assert clip_indices(n, 4, "strided", stride=4) == [8, 12, 16, 20]  # centred: (30 - 13) // 2 = 8
    assert clip_indices(n, 4, "strided", stride=10, start=5) == [5, 15, 25, 29]
    assert clip_indices(3, 5) == [0, 0, 1, 2, 2]
    clip = cine[clip_indices(n, 8)]
    assert clip.shape == (8, 240, 320, 3)
    with pytest.raises(ValueError, match="unknown clip policy"):
        clip_indices(n, 4, "random")
