"""Header-only reads: ``read.image.image_size`` (Pillow) and ``read.dicom_image.
read_dicom_header`` (pydicom, whitelisted fields): no pixel decoded, RecordError naming the
file, never a header value in a message."""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from climb.errors import RecordError
from climb.read.dicom_image import read_dicom_header, read_dicom_image
from climb.read.image import image_size, read_image
from tests.read.test_image_dicom import png_declaring


def test_image_size_reads_the_header_without_decoding_pixels(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    assert image_size(tmp_path / "a.png") == (20, 30)
    Image.fromarray(rng.integers(0, 256, (64, 48), dtype=np.uint8)).save(tmp_path / "b.jpg")
    data = (tmp_path / "b.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])  # header kept, scan cut
    assert image_size(tmp_path / "cut.jpg") == (64, 48)
    with pytest.raises(RecordError, match=r"cut\.jpg: cannot decode image"):
        read_image(tmp_path / "cut.jpg")


def test_image_size_refuses_bad_files_like_the_decoders(tmp_path):
    (tmp_path / "text.png").write_bytes(b"not an image at all")
    with pytest.raises(RecordError, match=r"text\.png: cannot read image header"):
        image_size(tmp_path / "text.png")
    png_declaring(tmp_path / "huge.png", 9000, 8000)
    with pytest.raises(RecordError, match=r"huge\.png: image declares 9000x8000 pixels, over"):
        image_size(tmp_path / "huge.png")
    with pytest.raises(RecordError, match=r"missing\.png"):
        image_size(tmp_path / "missing.png")


def test_read_dicom_header_returns_whitelisted_fields_of_a_real_file(tmp_path):
    path = get_testdata_file("CT_small.dcm")
    header = read_dicom_header(path, ["Modality", "ViewPosition", "BurnedInAnnotation"])
    assert header == {
        "Modality": pydicom.dcmread(path).Modality.strip(),
        "ViewPosition": None,
        "BurnedInAnnotation": None,
    }
    assert header["Modality"] == "CT"
    with pytest.raises(ValueError, match="PatientName"):
        read_dicom_header(path, ["Modality", "PatientName"])


def test_read_dicom_header_skips_pixel_data_and_folds_values(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    with warnings.catch_warnings():  # pydicom warns on the off-standard values planted here
        warnings.simplefilter("ignore", UserWarning)
        ds.BurnedInAnnotation = " yes "
        ds.ImageLaterality = "L"
        ds.ViewPosition = "M  L  O" + " X" * 20
    ds.save_as(tmp_path / "mr.dcm")
    data = (tmp_path / "mr.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) - 4000])  # pixel data truncated
    header = read_dicom_header(
        tmp_path / "cut.dcm", ["BurnedInAnnotation", "ImageLaterality", "ViewPosition"]
    )
    assert header == {
        "BurnedInAnnotation": "yes",
        "ImageLaterality": "L",
        "ViewPosition": ("M L O" + " X" * 20)[:16],
    }
    with pytest.raises(RecordError, match=r"cut\.dcm"):
        read_dicom_image(tmp_path / "cut.dcm")


def test_read_dicom_header_bad_file_names_it_and_quotes_nothing(tmp_path):
    bad = tmp_path / "notes.dcm"
    bad.write_bytes(b"Patient Zelda Quixote 19310719")
    with pytest.raises(RecordError) as err:
        read_dicom_header(bad, ["Modality"])
    assert str(bad) in str(err.value) and "cannot read DICOM header" in str(err.value)
    assert "Zelda" not in str(err.value) and "1931" not in str(err.value)
