"""standardize_volume / standardize_clip on real files (pydicom's CT and YBR cine, a PyAV mp4)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from climb.errors import RecordError
from climb.read.dicom_cine import read_dicom_cine
from climb.read.standardize import HU_WINDOWS, standardize_clip, standardize_volume
from climb.read.standardize_volume import VIDEO_DEFAULTS, VOLUME_DEFAULTS, apply_window
from climb.read.video import read_video
from climb.read.volume import Volume


@pytest.fixture(scope="module")
def ct_volume() -> Volume:
    """pydicom's CT_small.dcm (128 x 128, 0.66 mm pixels) in HU, stacked to 10 slices 5 mm apart
    with a per-slice offset so the slice axis is not constant."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    stack = np.stack([hu + 10 * k for k in range(10)]).astype(np.int16)
    row, col = (float(v) for v in ds.PixelSpacing)
    return Volume(stack, "DHW", spacing=(5.0, row, col), meta={"modality": "CT"})


@pytest.fixture(scope="module")
def cine() -> Volume:
    return read_dicom_cine(get_testdata_file("examples_ybr_color.dcm"))  # 30 x 240 x 320 x 3


def test_defaults_give_the_documented_shape_and_int16_hu(ct_volume):
    out = standardize_volume(ct_volume, spacing=(1.5, 1.5, 1.5), shape=(64, 128, 128))
    assert VOLUME_DEFAULTS["shape"] == (64, 128, 128) and VOLUME_DEFAULTS["window"] is None
    assert out.shape == (64, 128, 128) and out.dtype == np.int16
    # 10 slices x 5 mm = 50 mm -> 33 slices at 1.5 mm, centred in 64: the rest is air
    assert (out[:15] == -1024).all() and (out[-15:] == -1024).all()
    body = out[16:48, 40:88, 40:88]  # inside the resampled field of view (~57 voxels wide)
    src = ct_volume.array
    assert src.min() - 1 <= body.min() and body.max() <= src.max() + 1
    assert abs(float(body.mean()) - float(src[:, 10:118, 10:118].mean())) < 60


def test_resampling_follows_the_spacing(ct_volume):
    out = standardize_volume(ct_volume, spacing=(2.5, 1.32, 1.32), shape=None)
    assert out.shape == (20, 64, 64)  # 10 * 5 / 2.5, 128 * 0.66 / 1.32
    keep = standardize_volume(ct_volume, spacing=None, shape=None)
    np.testing.assert_array_equal(keep, ct_volume.array)


def test_crop_and_pad_are_centred_and_pad_with_air_only_for_ct(ct_volume):
    out = standardize_volume(ct_volume, spacing=None, shape=(12, 100, 140))
    np.testing.assert_array_equal(out[1:11, :, 6:134], ct_volume.array[:, 14:114, :])
    assert (out[0] == -1024).all() and (out[:, :, :6] == -1024).all()
    mr = Volume(ct_volume.array, "DHW", spacing=ct_volume.spacing)  # no modality: not HU
    assert (standardize_volume(mr, spacing=None, shape=(12, 128, 128))[0] == 0).all()


def test_window_gives_uint8_over_the_window(ct_volume):
    out = standardize_volume(ct_volume, spacing=None, shape=None, window="lung")
    assert out.dtype == np.uint8
    low, width = -600 - 750, 1500
    expected = np.clip(np.rint((ct_volume.array.astype(np.float32) - low) * 255 / width), 0, 255)
    np.testing.assert_array_equal(out, expected.astype(np.uint8))
    assert set(HU_WINDOWS) == {"lung", "mediastinum", "brain", "abdomen", "bone"}
    np.testing.assert_array_equal(apply_window(np.array([0.0, 40.0, 80.0]), "brain"), [0, 128, 255])
    custom = standardize_volume(ct_volume, spacing=None, shape=None, window=(40, 400))
    np.testing.assert_array_equal(
        custom, standardize_volume(ct_volume, spacing=None, shape=None, window="abdomen")
    )
    with pytest.raises(ValueError, match="unknown window"):
        standardize_volume(ct_volume, spacing=None, shape=None, window="liver")


def test_uint8_sources_stay_uint8():
    rng = np.random.default_rng(0)
    vol = Volume(rng.integers(0, 256, (6, 20, 20), dtype=np.uint8), "DHW", spacing=(1, 1, 1))
    out = standardize_volume(vol, spacing=(2.0, 2.0, 2.0), shape=(4, 12, 12))
    assert out.dtype == np.uint8 and out.shape == (4, 12, 12)


def test_unknown_spacing_is_a_record_error_naming_the_source(ct_volume):
    bare = Volume(ct_volume.array, "DHW", spacing=None)
    with pytest.raises(RecordError, match=r"scan_07\.nii\.gz.*no voxel spacing"):
        standardize_volume(bare, spacing=(1.5, 1.5, 1.5), shape=None, source="scan_07.nii.gz")
    assert standardize_volume(bare, spacing=None, shape=(10, 64, 64)).shape == (10, 64, 64)


def test_clip_defaults_from_a_real_cine(cine):
    out = standardize_clip(cine)
    assert VIDEO_DEFAULTS == {"frames": 16, "size": 112, "policy": "uniform", "stride": 2}
    assert out.shape == (16, 112, 112, 3) and out.dtype == np.uint8
    grey = standardize_clip(cine, mode="L", frames=8, size=64)
    assert grey.shape == (8, 64, 64, 1)
    # uniform over 30 frames: frame int((i + 0.5) * 30 / 16) of each of 16 segments
    picked = [int((i + 0.5) * 30 / 16) for i in range(16)]
    assert picked[:3] == [0, 2, 4] and picked[-1] == 29
    one_by_one = standardize_clip(
        Volume(cine.array[picked], "THWC"), frames=16, policy="strided", stride=1
    )
    np.testing.assert_array_equal(out, one_by_one)
    assert not np.array_equal(out[0], out[-1])


def test_strided_clip_from_start_and_short_videos_repeat_the_last_frame(cine):
    a = standardize_clip(cine, frames=4, policy="strided", stride=3, start=2, size=32)
    b = standardize_clip(Volume(cine.array[[2, 5, 8, 11]], "THWC"), frames=4, size=32)
    np.testing.assert_array_equal(a, b)
    short = standardize_clip(Volume(cine.array[:3], "THWC"), frames=6, policy="strided", size=32)
    assert short.shape == (6, 32, 32, 3)
    np.testing.assert_array_equal(short[-1], short[2])  # stride 2 from 0: 0, 2, then the last
    with pytest.raises(RecordError, match=r"clip\.mp4.*fewer than the 8"):
        standardize_clip(Volume(cine.array[:3], "THWC"), min_frames=8, source="clip.mp4")
    with pytest.raises(RecordError, match="no frame"):
        standardize_clip(Volume(np.zeros((0, 8, 8, 3), np.uint8), "THWC"))
    with pytest.raises(RecordError, match="start 40"):
        standardize_clip(cine, policy="strided", start=40)


def test_clip_from_an_mp4_written_with_pyav(tmp_path, cine):
    import av

    path = tmp_path / "echo.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for frame in cine.array:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    out = standardize_clip(read_video(path), frames=16, size=112)
    ref = standardize_clip(cine, frames=16, size=112)
    assert out.shape == ref.shape == (16, 112, 112, 3)
    assert np.abs(out.astype(int) - ref.astype(int)).mean() < 8  # H.264 loss only
