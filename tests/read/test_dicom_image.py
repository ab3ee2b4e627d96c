"""read_dicom_image on pydicom's and pydicom-data's real files: windowing against a numpy
hand computation from the same file's stored pixels and tags, MONOCHROME1 inversion, every
compressed twin equal to its uncompressed file, multi-frame, missing plugin and PHI."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

from climb.errors import RecordError
from climb.read.dicom_image import INSTALL_HINT, read_dicom_image
from climb.read.pixels import META_FIELDS


def data(name: str) -> str:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not in the installed pydicom test data")
    return str(path)


def _linear_window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1, written out independently, to 0..255."""
    lo = center - 0.5 - (width - 1) / 2
    hi = center - 0.5 + (width - 1) / 2
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.round(np.where(x <= lo, 0, np.where(x > hi, 255, y))).astype(np.uint8)


def test_window_centre_width_matches_a_hand_computation():
    ds = pydicom.dcmread(data("MR_small.dcm"))
    stored = ds.pixel_array.astype(np.float64)
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    pixels = read_dicom_image(data("MR_small.dcm"))
    assert pixels.array.dtype == np.uint8 and pixels.array.shape == stored.shape
    assert pixels.meta["window"] == {"center": center, "width": width}
    assert np.array_equal(pixels.array, _linear_window(stored, center, width))
    assert pixels.spacing == tuple(float(v) for v in ds.PixelSpacing)
    assert pixels.bits == ds.BitsStored and pixels.photometric == "MONOCHROME2"


def test_first_of_several_windows_and_an_explicit_window():
    path = data("MR-SIEMENS-DICOM-WithOverlays.dcm")
    ds = pydicom.dcmread(path)
    assert len(ds.WindowCenter) > 1
    values = ds.pixel_array.astype(np.float64)
    center, width = float(ds.WindowCenter[0]), float(ds.WindowWidth[0])
    assert np.array_equal(read_dicom_image(path).array, _linear_window(values, center, width))
    explicit = read_dicom_image(path, window=(300.0, 400.0))
    assert np.array_equal(explicit.array, _linear_window(values, 300.0, 400.0))


def test_rescale_then_min_max_without_a_window():
    path = data("CT_small.dcm")
    ds = pydicom.dcmread(path)
    assert "WindowCenter" not in ds and "VOILUTSequence" not in ds
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    expected = np.round((hu - hu.min()) / (hu.max() - hu.min()) * 255).astype(np.uint8)
    pixels = read_dicom_image(path)
    assert pixels.meta["window"] == "minmax"
    assert np.array_equal(pixels.array, expected)
    raw = read_dicom_image(path, window=None)  # modality-LUT values: Hounsfield units
    assert raw.array.dtype == np.int16 and np.array_equal(raw.array, hu.astype(np.int16))


def test_monochrome1_is_inverted(tmp_path):
    ds = pydicom.dcmread(data("MR_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(tmp_path / "mono1.dcm")
    normal = read_dicom_image(data("MR_small.dcm"))
    inverted = read_dicom_image(tmp_path / "mono1.dcm")
    assert inverted.meta["inverted"] is True and "inverted" not in normal.meta
    assert inverted.photometric == "MONOCHROME2"
    assert np.array_equal(inverted.array, 255 - normal.array)
    # window=None: inverted within the stored range (unsigned 16 bits here)
    raw = read_dicom_image(tmp_path / "mono1.dcm", window=None).array.astype(np.int64)
    bits = int(ds.BitsStored)
    low, high = (
        (0, 2**bits - 1)
        if ds.PixelRepresentation == 0
        else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    )
    assert np.array_equal(raw, low + high - ds.pixel_array.astype(np.int64))


def test_a_real_monochrome1_radiograph_reads_bright_bones():
    pixels = read_dicom_image(data("RG3_UNCR.dcm"))
    assert pixels.meta["inverted"] is True and pixels.meta["view_position"]
    assert pixels.array.dtype == np.uint8 and pixels.array.shape == (1760, 1760)


TWINS = [
    ("MR_small.dcm", "MR_small_jpeg_ls_lossless.dcm"),
    ("MR_small.dcm", "MR_small_RLE.dcm"),
    ("MR_small.dcm", "MR_small_jp2klossless.dcm"),
    ("emri_small.dcm", "emri_small_RLE.dcm"),
    ("emri_small.dcm", "emri_small_jpeg_2k_lossless.dcm"),
    ("SC_rgb.dcm", "SC_rgb_rle.dcm"),
    ("SC_rgb.dcm", "SC_rgb_jpeg_gdcm.dcm"),
    ("RG1_UNCR.dcm", "RG1_J2KR.dcm"),
    ("RG3_UNCR.dcm", "RG3_J2KR.dcm"),
    ("MR2_UNCR.dcm", "MR2_J2KR.dcm"),
    ("US1_UNCR.dcm", "US1_J2KR.dcm"),
    ("693_UNCR.dcm", "693_J2KR.dcm"),
]


@pytest.mark.parametrize(("plain", "compressed"), TWINS, ids=[c for _, c in TWINS])
def test_every_compressed_twin_decodes_to_the_same_pixels(plain, compressed):
    a = read_dicom_image(data(plain))
    b = read_dicom_image(data(compressed))
    assert b.meta["transfer_syntax"] != a.meta["transfer_syntax"] == "ExplicitVRLittleEndian"
    assert a.array.shape == b.array.shape and np.array_equal(a.array, b.array)
    assert a.photometric == b.photometric and a.meta.get("window") == b.meta.get("window")
    if a.photometric != "RGB":
        assert np.array_equal(
            read_dicom_image(data(plain), window=None).array,
            read_dicom_image(data(compressed), window=None).array,
        )


def test_lossy_jpeg2000_stays_close_to_the_original():
    original = read_dicom_image(data("RG1_UNCR.dcm")).array.astype(np.float64)
    lossy = read_dicom_image(data("RG1_J2KI.dcm")).array.astype(np.float64)
    mse = np.mean((original - lossy) ** 2)
    assert mse > 0 and 10 * np.log10(255**2 / mse) > 30


def test_multi_frame_whole_and_one_frame():
    path = data("emri_small.dcm")
    whole = read_dicom_image(path, window=None)
    assert whole.array.shape == (10, 64, 64) and whole.meta["frames"] == 10
    third = read_dicom_image(path, frame=3, window=None)
    assert third.array.shape == (64, 64) and np.array_equal(third.array, whole.array[3])
    assert read_dicom_image(path).array.shape == (10, 64, 64)
    with pytest.raises(RecordError, match="frame 10 requested, the file has 10"):
        read_dicom_image(path, frame=10)


def test_a_missing_decoder_plugin_names_what_to_install(monkeypatch):
    from pydicom.pixels import get_decoder

    decoder = get_decoder(JPEG2000Lossless)
    monkeypatch.setattr(decoder, "_available", {})
    assert not decoder.is_available
    with pytest.raises(RecordError) as err:
        read_dicom_image(data("MR_small_jp2klossless.dcm"))
    assert "JPEG2000Lossless" in str(err.value) and INSTALL_HINT in str(err.value)
    assert "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg" in str(err.value)
    read_dicom_image(data("MR_small_RLE.dcm"))  # other syntaxes unaffected


PHI = {
    "PatientName": "Doe^Jane",
    "PatientID": "PID-7731",
    "PatientBirthDate": "19610423",
    "InstitutionName": "Saint Example Hospital",
    "BurnedInAnnotation": "YES",
    "StudyDescription": "CHEST PA Jane follow-up",
    "AccessionNumber": "ACC99812",
}


def _phi_file(tmp_path, name: str, **changes) -> str:
    ds = pydicom.dcmread(data("MR_small.dcm"))
    for keyword, value in {**PHI, **changes}.items():
        setattr(ds, keyword, value)
    ds.ViewPosition = "PA"
    path = tmp_path / name
    ds.save_as(path)
    return str(path)


def _assert_no_phi(text: str) -> None:
    for value in PHI.values():
        if value != "YES":
            assert value not in text
    assert "Doe" not in text and "Jane" not in text and "1961" not in text


def test_phi_never_reaches_meta_or_errors(tmp_path):
    pixels = read_dicom_image(_phi_file(tmp_path, "phi.dcm"))
    assert set(pixels.meta) <= META_FIELDS and pixels.meta["view_position"] == "PA"
    _assert_no_phi(repr(pixels.meta) + repr(pixels.spacing) + pixels.photometric)

    broken = _phi_file(tmp_path, "bad_window.dcm", WindowWidth="-5", WindowCenter="40")
    assert read_dicom_image(broken).meta["window"] == "minmax"  # unusable window: ignored

    nopix = pydicom.dcmread(_phi_file(tmp_path, "nopix.dcm"))
    del nopix.PixelData
    nopix.save_as(tmp_path / "nopix.dcm")
    with pytest.raises(RecordError, match="no PixelData") as err:
        read_dicom_image(tmp_path / "nopix.dcm")
    _assert_no_phi(str(err.value))

    cut = tmp_path / "cut.dcm"
    cut.write_bytes((tmp_path / "phi.dcm").read_bytes()[:-3000])
    with pytest.raises(RecordError) as err:
        read_dicom_image(cut)
    _assert_no_phi(str(err.value))

    ds = pydicom.dcmread(tmp_path / "phi.dcm")
    ds.Rows = 65535
    ds.Columns = 65535
    ds.save_as(tmp_path / "huge.dcm")
    with pytest.raises(RecordError, match="over the") as err:
        read_dicom_image(tmp_path / "huge.dcm")
    _assert_no_phi(str(err.value))


def test_not_dicom_and_unknown_syntax_are_record_errors(tmp_path):
    (tmp_path / "x.dcm").write_bytes(b"not a dicom file at all" * 10)
    with pytest.raises(RecordError, match=r"x\.dcm: "):
        read_dicom_image(tmp_path / "x.dcm")
    ds = pydicom.dcmread(data("MR_small.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.3.4.5.6"
    ds.save_as(tmp_path / "odd.dcm", enforce_file_format=True)
    with pytest.raises(RecordError, match="transfer syntax") as err:
        read_dicom_image(tmp_path / "odd.dcm")
    assert "1.2.3.4.5.6" not in str(err.value)
    assert ExplicitVRLittleEndian  # the reference syntax of the twins above
