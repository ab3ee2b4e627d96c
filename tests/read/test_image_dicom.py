"""Image (Pillow) and DICOM-series (pydicom) readers: real files, bad files."""

from __future__ import annotations

import copy
import struct
import zlib

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from climb.errors import RecordError
from climb.read.dicom import read_dicom_series
from climb.read.image import read_image


def png_declaring(path, width: int, height: int) -> None:
    """A real 8 x 8 PNG (Pillow) whose IHDR is rewritten to declare ``width x height``."""
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    path.write_bytes(bytes(data))


def test_read_image_roundtrips_png_and_converts_mode(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), rgb)
    gray = read_image(tmp_path / "a.png", mode="L")
    assert gray.shape == (20, 30) and gray.dtype == np.uint8


def test_read_image_corrupt_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(RecordError, match=r"broken\.png: cannot decode image"):
        read_image(bad)


def write_series(folder, count: int = 3, edit=None, source: str = "CT_small.dcm"):
    """``count`` slices of a pydicom test image, 5 mm apart, written in reverse file order;
    ``edit(k, ds)`` changes slice k before it is saved."""
    folder.mkdir(parents=True, exist_ok=True)
    base = pydicom.dcmread(get_testdata_file(source))
    for k in range(count):
        ds = copy.deepcopy(base)
        ds.InstanceNumber = k + 1
        x, y, z = (float(v) for v in base.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, z + 5.0 * k]
        if edit is not None:
            edit(k, ds)
        ds.save_as(folder / f"{count - k:03d}.dcm")  # file order != slice order
    return base


def test_read_dicom_series_stacks_real_slices_by_instance_number(tmp_path):
    ct = write_series(tmp_path / "series")
    volume, spacing = read_dicom_series(tmp_path / "series")
    assert volume.shape == (3, *ct.pixel_array.shape)
    assert np.array_equal(volume[0], ct.pixel_array)
    assert spacing == pytest.approx((5.0, *(float(v) for v in ct.PixelSpacing)))


def test_slice_spacing_comes_from_positions_not_thickness(tmp_path):
    def edit(k, ds):
        ds.ImagePositionPatient = [0.0, 0.0, 2.5 * k]
        ds.SliceThickness = 5.0  # thick slices, overlapping: the gap is 2.5 mm

    write_series(tmp_path / "s", edit=edit)
    assert read_dicom_series(tmp_path / "s")[1][0] == pytest.approx(2.5)


def test_slice_spacing_without_orientation_follows_the_series_axis(tmp_path):
    def edit(k, ds):
        del ds.ImageOrientationPatient
        ds.ImagePositionPatient = [3.0 * k, 4.0 * k, 0.0]  # 5 mm apart, along x-y

    write_series(tmp_path / "s", edit=edit)
    assert read_dicom_series(tmp_path / "s")[1][0] == pytest.approx(5.0)


def test_missing_pixel_spacing_is_reported_unknown_not_guessed(tmp_path):
    ct = write_series(tmp_path / "s", edit=lambda k, ds: delattr(ds, "PixelSpacing"))
    volume, spacing = read_dicom_series(tmp_path / "s")
    assert spacing is None and np.array_equal(volume[2], ct.pixel_array)


def test_no_positions_and_no_thickness_is_unknown_spacing(tmp_path):
    def edit(k, ds):
        del ds.ImagePositionPatient, ds.SliceThickness

    write_series(tmp_path / "s", edit=edit)
    assert read_dicom_series(tmp_path / "s")[1] is None


def _mr_slice(k, ds):
    if k == 1:  # another scanner's 64 x 64 slice, claiming the same series
        mr = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
        for keyword in ("Rows", "Columns", "PixelData", "BitsAllocated", "BitsStored"):
            setattr(ds, keyword, getattr(mr, keyword))


def _pixel_spacing(value):
    def edit(k, ds):
        if k == 2:
            ds.PixelSpacing = value

    return edit


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda k, ds: setattr(ds, "InstanceNumber", min(k + 1, 2)), "duplicate InstanceNumber"),
        (
            lambda k, ds: setattr(ds, "SeriesInstanceUID", ds.SeriesInstanceUID + f".{k % 2}"),
            "slices of 2 different series",
        ),
        (_mr_slice, "slice size 64x64 differs from 128x128"),
        (lambda k, ds: delattr(ds, "SeriesInstanceUID") if k else None, "SeriesInstanceUID"),
        (lambda k, ds: delattr(ds, "InstanceNumber") if k else None, "InstanceNumber is missing"),
        (_pixel_spacing(["NaN", "NaN"]), "PixelSpacing is not two finite positive"),
        (_pixel_spacing([0.5, -0.5]), "PixelSpacing is not two finite positive"),
        (_pixel_spacing([0.5, 0.5]), "PixelSpacing differs between slices"),
        (
            lambda k, ds: setattr(ds, "ImagePositionPatient", [0.0, 0.0, 5.0 * min(k, 1)]),
            "repeats another slice's position",
        ),
        (
            lambda k, ds: setattr(ds, "ImagePositionPatient", [0.0, 0.0, 5.0 * k * k]),
            "not evenly spaced",
        ),
        (
            # sorted by position (0, 2, 6 mm): unevenly spaced, whatever the InstanceNumbers
            lambda k, ds: setattr(ds, "ImagePositionPatient", [0.0, 0.0, 5.0 * (k % 2) + k]),
            "not evenly spaced",
        ),
        (lambda k, ds: setattr(ds, "NumberOfFrames", 2), "multi-frame"),
        (
            lambda k, ds: setattr(ds, "ImagePositionPatient", [0.0, "NaN", 5.0 * k]),
            "ImagePositionPatient is not three finite numbers",
        ),
        (
            lambda k, ds: delattr(ds, "ImagePositionPatient") if k == 2 else None,
            "ImagePositionPatient is missing",
        ),
    ],
)
def test_inconsistent_series_is_refused(tmp_path, edit, problem):
    with pydicom.config.disable_value_validation():
        write_series(tmp_path / "s", edit=edit)
    with pytest.raises(RecordError, match=problem) as err:
        read_dicom_series(tmp_path / "s")
    assert err.value.path.startswith(str(tmp_path / "s"))


def test_series_over_the_voxel_bound_is_refused_before_decoding(tmp_path):
    write_series(tmp_path / "s")
    with pytest.raises(RecordError, match="3 x 128 x 128 voxels is over 10000"):
        read_dicom_series(tmp_path / "s", max_voxels=10_000)


def test_read_dicom_series_errors_name_the_file(tmp_path):
    with pytest.raises(RecordError, match="no DICOM slices"):
        read_dicom_series(tmp_path)
    (tmp_path / "x.dcm").write_bytes(b"garbage")
    with pytest.raises(RecordError, match=r"x.dcm: cannot read DICOM slice"):
        read_dicom_series(tmp_path)


def test_huge_declared_image_is_refused_before_decoding(tmp_path):
    png_declaring(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(RecordError, match=r"bomb\.png: image declares"):
        read_image(tmp_path / "bomb.png")


def test_pillow_bomb_guard_is_a_record_error_even_with_a_raised_limit(tmp_path):
    png_declaring(tmp_path / "warn.png", 10_000, 10_000)  # Pillow warns above ~89 M pixels
    png_declaring(tmp_path / "err.png", 20_000, 10_000)  # and raises above ~179 M
    for name in ("warn.png", "err.png"):
        with pytest.raises(RecordError, match="decompression bomb"):
            read_image(tmp_path / name, max_pixels=10**12)


def test_max_pixels_is_configurable(tmp_path):
    Image.fromarray(np.zeros((20, 30), dtype=np.uint8)).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png", max_pixels=600).shape == (20, 30, 3)
    with pytest.raises(RecordError, match="declares 30x20 pixels, over the 599 limit"):
        read_image(tmp_path / "a.png", max_pixels=599)


def test_truncated_jpeg_and_non_image_bytes(tmp_path):
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array
    gray = ((ct - ct.min()) * (255.0 / max(1, int(np.ptp(ct))))).astype(np.uint8)
    Image.fromarray(gray).save(tmp_path / "ct.jpg", quality=90)
    data = (tmp_path / "ct.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.png").write_bytes(b"hello, not an image\n")
    for name in ("cut.jpg", "text.png"):
        with pytest.raises(RecordError, match="cannot decode image"):
            read_image(tmp_path / name)
