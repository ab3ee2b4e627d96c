"""Image (Pillow) and DICOM-series (pydicom) readers: real files, bad files."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from climb.errors import RecordError
from climb.read.dicom import read_dicom_series
from climb.read.image import read_image


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


def test_read_dicom_series_stacks_real_slices_by_instance_number(tmp_path):
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    folder = tmp_path / "series"
    folder.mkdir()
    for name, number in (("b.dcm", 1), ("a.dcm", 2)):  # file order != slice order
        ct.InstanceNumber = number
        ct.save_as(folder / name)
    volume, spacing = read_dicom_series(folder)
    assert volume.shape == (2, *ct.pixel_array.shape)
    assert np.array_equal(volume[0], ct.pixel_array)
    assert spacing == (float(ct.SliceThickness), *(float(v) for v in ct.PixelSpacing))


def test_read_dicom_series_errors_name_the_file(tmp_path):
    with pytest.raises(RecordError, match="no DICOM slices"):
        read_dicom_series(tmp_path)
    (tmp_path / "x.dcm").write_bytes(b"garbage")
    with pytest.raises(RecordError, match=r"x.dcm: cannot read DICOM slice"):
        read_dicom_series(tmp_path)
