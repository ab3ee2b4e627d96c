"""Pixels, read_pixels (Pillow formats, 16-bit kept) and standardize_image, on real pixels
(pydicom's CT/MR and a pydicom-data radiograph) written with Pillow."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from climb.errors import RecordError
from climb.read.dicom_image import read_dicom_image
from climb.read.image import read_image, read_pixels
from climb.read.pixels import Pixels
from climb.read.standardize import IMAGE_DEFAULTS, standardize_image


def _ct_uint16() -> np.ndarray:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    return (ds.pixel_array.astype(np.int32) + 2000).astype(np.uint16)  # stored + offset


def test_pixels_meta_is_whitelisted():
    Pixels(np.zeros((2, 2), np.uint8), meta={"view_position": "PA", "frames": 1})
    with pytest.raises(ValueError, match="PatientName"):
        Pixels(np.zeros((2, 2), np.uint8), meta={"PatientName": "x"})


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_png_and_tiff_stay_uint16(tmp_path, suffix):
    ct = _ct_uint16()
    path = tmp_path / f"ct{suffix}"
    Image.fromarray(ct).save(path)
    pixels = read_pixels(path)
    assert pixels.array.dtype == np.uint16 and np.array_equal(pixels.array, ct)
    assert pixels.bits == 16 and pixels.spacing is None and pixels.photometric == "MONOCHROME2"
    assert pixels.meta == {"format": "png" if suffix == ".png" else "tiff"}
    grey = read_pixels(path, mode="L").array
    low, high = float(ct.min()), float(ct.max())
    expected = np.round((ct.astype(np.float64) - low) * 255 / (high - low)).astype(np.uint8)
    assert grey.dtype == np.uint8 and np.array_equal(grey, expected)
    rgb = read_pixels(path, mode="RGB").array
    assert rgb.shape == (*ct.shape, 3) and np.array_equal(rgb[..., 1], expected)


def test_8_bit_grey_and_colour_files(tmp_path):
    mr = read_dicom_image(get_testdata_file("MR_small.dcm")).array
    colour = np.stack([mr, 255 - mr, mr // 2], axis=2)
    Image.fromarray(mr).save(tmp_path / "mr.png")
    Image.fromarray(colour).save(tmp_path / "mr.bmp")
    Image.fromarray(colour).save(tmp_path / "mr.jpg", quality=95, subsampling=0)
    assert np.array_equal(read_pixels(tmp_path / "mr.png").array, mr)
    bmp = read_pixels(tmp_path / "mr.bmp")
    assert bmp.photometric == "RGB" and np.array_equal(bmp.array, colour)
    assert np.array_equal(
        read_pixels(tmp_path / "mr.bmp", mode="L").array,
        np.asarray(Image.fromarray(colour).convert("L")),
    )
    jpg = read_pixels(tmp_path / "mr.jpg", mode="RGB").array.astype(np.float64)
    assert np.mean((jpg - colour) ** 2) < 30  # JPEG q95: close, not exact
    assert np.array_equal(read_image(tmp_path / "mr.png", mode="L"), mr)  # read_image unchanged


def test_bad_files_are_record_errors(tmp_path):
    Image.fromarray(_ct_uint16()).save(tmp_path / "ct.png")
    data = (tmp_path / "ct.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordError, match=r"cut\.png: cannot decode image"):
        read_pixels(tmp_path / "cut.png")
    with pytest.raises(RecordError, match="over the 100 limit"):
        read_pixels(tmp_path / "ct.png", max_pixels=100)
    with pytest.raises(ValueError, match="mode"):
        read_pixels(tmp_path / "ct.png", mode="CMYK")


def test_standardize_crop_and_pad_keep_the_centre():
    mr = read_dicom_image(get_testdata_file("MR2_UNCR.dcm")).array  # 1024 x 1024
    wide = mr[:512, :]  # 512 x 1024
    cropped = standardize_image(wide, size=512, fit="crop")  # no resize: a centre crop
    assert np.array_equal(cropped, wide[:, 256:768])
    padded = standardize_image(wide, size=1024, fit="pad")  # no resize: centred padding
    assert np.array_equal(padded[256:768], wide)
    assert not padded[:256].any() and not padded[768:].any()
    rgb = standardize_image(Pixels(wide), size=512, fit="crop", mode="RGB")
    assert rgb.shape == (512, 512, 3) and all(
        np.array_equal(rgb[..., c], cropped) for c in range(3)
    )


def test_standardize_resizes_a_radiograph_with_antialiasing():
    pixels = read_dicom_image(get_testdata_file("RG3_UNCR.dcm"))  # 1760 x 1760, MONOCHROME1
    out = standardize_image(pixels, **IMAGE_DEFAULTS)
    assert out.shape == (224, 224) and out.dtype == np.uint8
    reference = np.asarray(Image.fromarray(pixels.array).resize((224, 224), Image.LANCZOS))
    assert np.abs(out.astype(int) - reference.astype(int)).max() <= 2
    # 16-bit modality values are scaled by their min-max first
    raw = read_dicom_image(get_testdata_file("CT_small.dcm"), window=None)
    ct = standardize_image(raw, size=64, fit="pad")
    assert ct.shape == (64, 64) and ct.min() == 0 and ct.max() >= 250
    with pytest.raises(ValueError, match="pick a frame"):
        standardize_image(read_dicom_image(get_testdata_file("emri_small.dcm")))
    with pytest.raises(ValueError, match="fit"):
        standardize_image(pixels, fit="stretch")
