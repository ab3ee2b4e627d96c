"""Fuzz tests of the non-signal readers (DICOM waveform, DICOM series, image, edge list), and
the PHI test: names and birth dates planted in every patient/free-text DICOM field never reach
a returned ``meta``, an exception text, a warning or a log record.

Every corruption must end in a :class:`RecordError` naming the file or in a read that an
independent decoder (pydicom's own ``waveform_array``/``pixel_array``, ``numpy.loadtxt``,
the uncorrupted source) agrees with; ``tests/read/corrupt.py`` classifies each attempt.
"""

from __future__ import annotations

import copy
import gzip
import io
import logging
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from climb.errors import RecordError
from climb.read.dicom import read_dicom_series
from climb.read.dicom_waveform import read_dicom_waveform
from climb.read.graph import read_edgelist
from climb.read.image import read_image
from tests.read.corrupt import byte_flips, check_reader, generic, truncations

ECG = get_testdata_file("waveform_ecg.dcm")
CT = get_testdata_file("CT_small.dcm")
MR = get_testdata_file("MR_small.dcm")
MOUSE = "connectomes-mouse/edgelists/sub-54776_ses-1_dti.edgelist.gz"

NAME, BIRTH = "Jane Q Doe", "19570314"


@contextmanager
def _lenient() -> Iterator[None]:
    """pydicom accepting the invalid values the tests plant on purpose, without warnings."""
    with pydicom.config.disable_value_validation(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _saved(ds: pydicom.Dataset) -> bytes:
    out = io.BytesIO()
    with _lenient():
        ds.save_as(out)
    return out.getvalue()


def _edited(source: str, edit: Callable[[pydicom.Dataset], None]) -> bytes:
    ds = pydicom.dcmread(source)
    with _lenient():
        edit(ds)
    return _saved(ds)


def _tag_offset(data: bytes, group: int, element: int) -> int:
    """Byte offset of a (little endian) data element tag in ``data``."""
    return data.index(struct.pack("<HH", group, element))


# --- DICOM waveform -------------------------------------------------------------------------


def _rhythm(keyword: str, value) -> Callable[[pydicom.Dataset], None]:
    return lambda ds: setattr(ds.WaveformSequence[0], keyword, value)


def _channel(keyword: str, value) -> Callable[[pydicom.Dataset], None]:
    return lambda ds: setattr(ds.WaveformSequence[0].ChannelDefinitionSequence[5], keyword, value)


def waveform_corruptions() -> Iterator[tuple[str, bytes]]:
    data = Path(ECG).read_bytes()
    header = _tag_offset(data, 0x5400, 0x0100)  # everything before the Waveform Sequence
    samples = _tag_offset(data, 0x5400, 0x1010)  # first multiplex group's Waveform Data
    yield from generic(data, seed=1, header_bytes=header)
    yield from byte_flips(data, 4, seed=11, start=header, stop=samples)  # multiplex header
    yield from truncations(data, 2, seed=12, lo=header)
    absurd = {
        "fs = 1e12": _rhythm("SamplingFrequency", "1e12"),
        "fs = NaN": _rhythm("SamplingFrequency", "NaN"),
        "fs negative": _rhythm("SamplingFrequency", "-500"),
        "sensitivity NaN": _channel("ChannelSensitivity", "NaN"),
        "sensitivity zero": _channel("ChannelSensitivity", "0"),
        "baseline inf": _channel("ChannelBaseline", "inf"),
        "samples 10^9 declared": _rhythm("NumberOfWaveformSamples", 10**9),
        "channels 0 declared": _rhythm("NumberOfWaveformChannels", 0),
        "mu-law samples": _rhythm("WaveformSampleInterpretation", "MB"),
        "no channel definitions": lambda ds: delattr(
            ds.WaveformSequence[0], "ChannelDefinitionSequence"
        ),
        "no Waveform Data": lambda ds: delattr(ds.WaveformSequence[0], "WaveformData"),
        "fewer samples declared": _rhythm("NumberOfWaveformSamples", 4321),
    }
    for name, edit in absurd.items():
        yield name, _edited(ECG, edit)
    at = _tag_offset(data, 0x003A, 0x001A) + 8  # first SamplingFrequency value (DS "1000")
    assert data[at : at + 4] == b"1000"
    yield "fs not a number", data[:at] + b"fast" + data[at + 4 :]
    non_utf8 = _edited(ECG, lambda ds: setattr(ds, "SpecificCharacterSet", "ISO_IR 192"))
    meaning = non_utf8.index(b"Lead I (Einthoven)")
    yield (
        "non-UTF-8 channel meaning",
        non_utf8[:meaning] + b"\xff\xfe\x80" + non_utf8[meaning + 3 :],
    )


def _waveform_matches_pydicom(path: Path) -> Callable[[object], bool]:
    def expect(sig) -> bool:
        ds = pydicom.dcmread(path)
        group = ds.WaveformSequence[0]
        reference = ds.waveform_array(0).T  # pydicom's own decoding, calibration applied
        return (
            sig.fs == float(group.SamplingFrequency)
            and 0 < sig.fs <= 100_000
            and sig.data.shape == reference.shape
            and len(sig.channels) == len(group.ChannelDefinitionSequence)
            and bool(np.isfinite(sig.data).all())
            and np.allclose(sig.data, reference, rtol=1e-6, atol=1e-3)
        )

    return expect


def test_fuzz_dicom_waveform(tmp_path):
    outcomes = []
    for k, (what, blob) in enumerate(waveform_corruptions()):
        path = tmp_path / f"ecg{k}.dcm"
        path.write_bytes(blob)
        outcomes.append(
            check_reader(
                "dicom_waveform",
                lambda path=path: read_dicom_waveform(path),
                what,
                expect=_waveform_matches_pydicom(path),
            )
        )
    assert len(outcomes) >= 15 and outcomes.count("error") >= 12 and "ok" in outcomes


# --- DICOM series -----------------------------------------------------------------------------


def _series_slices(source: str = CT, count: int = 3) -> list[pydicom.Dataset]:
    base = pydicom.dcmread(source)
    slices = []
    for k in range(count):
        ds = copy.deepcopy(base)
        ds.InstanceNumber = k + 1
        x, y, z = (float(v) for v in base.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, z + 5.0 * k]
        slices.append(ds)
    return slices


def _write_series(folder: Path, slices: list[pydicom.Dataset], middle: bytes | None = None) -> None:
    folder.mkdir()
    for k, ds in enumerate(slices):
        blob = middle if (k == 1 and middle is not None) else _saved(ds)
        (folder / f"{k:02d}.dcm").write_bytes(blob)


def _set(k: int, keyword: str, value) -> Callable[[list[pydicom.Dataset]], None]:
    return lambda slices: setattr(slices[k], keyword, value)


def _foreign_size(slices: list[pydicom.Dataset]) -> None:
    mr = pydicom.dcmread(MR)
    mr.SeriesInstanceUID = slices[0].SeriesInstanceUID
    mr.InstanceNumber, mr.ImagePositionPatient = 2, slices[1].ImagePositionPatient
    slices[1] = mr


def series_corruptions() -> Iterator[tuple[str, bytes | None, Callable | None]]:
    """(what, bytes of the middle slice or None, edit of the slice datasets or None)."""
    middle = _saved(_series_slices()[1])
    pixels = _tag_offset(middle, 0x7FE0, 0x0010)
    for what, blob in generic(middle, seed=3, header_bytes=pixels):
        yield what, blob, None
    for what, blob in byte_flips(middle, 3, seed=31, start=128, stop=pixels):
        yield f"header {what}", blob, None
    absurd = {
        "missing PixelSpacing": lambda s: [delattr(ds, "PixelSpacing") for ds in s],
        "PixelSpacing NaN": _set(1, "PixelSpacing", ["NaN", "NaN"]),
        "PixelSpacing negative": _set(1, "PixelSpacing", [-0.5, 0.5]),
        "Rows x Columns 65535 x 65535": lambda s: [
            (setattr(ds, "Rows", 65535), setattr(ds, "Columns", 65535)) for ds in s
        ],
        "duplicate InstanceNumber": _set(2, "InstanceNumber", 2),
        "slice from another series": _set(1, "SeriesInstanceUID", "1.2.3.4.5"),
        "slice of another size": _foreign_size,
        "duplicate position": _set(2, "ImagePositionPatient", [0.0, 0.0, 0.0]),
        "position NaN": _set(1, "ImagePositionPatient", ["NaN", 0.0, 0.0]),
    }
    for what, edit in absurd.items():
        yield what, None, edit


def _series_matches_pydicom(folder: Path) -> Callable[[object], bool]:
    def expect(result) -> bool:
        volume, spacing = result
        with _lenient():
            slices = sorted(
                (pydicom.dcmread(f) for f in folder.glob("*.dcm")),
                key=lambda ds: ds.InstanceNumber,
            )
            reference = np.stack([ds.pixel_array for ds in slices])
        spacing_ok = spacing is None or (
            len(spacing) == 3 and all(np.isfinite(v) and v > 0 for v in spacing)
        )
        return spacing_ok and np.array_equal(volume, reference)

    return expect


def test_fuzz_dicom_series(tmp_path):
    outcomes = []
    for k, (what, middle, edit) in enumerate(series_corruptions()):
        slices = _series_slices()
        if edit is not None:
            with _lenient():
                edit(slices)
        folder = tmp_path / f"series{k}"
        _write_series(folder, slices, middle)
        outcomes.append(
            check_reader(
                "dicom_series",
                lambda folder=folder: read_dicom_series(folder),
                what,
                expect=_series_matches_pydicom(folder),
            )
        )
    assert len(outcomes) >= 15 and outcomes.count("error") >= 10 and "ok" in outcomes


def test_missing_pixel_spacing_reads_with_unknown_spacing(tmp_path):
    slices = _series_slices()
    for ds in slices:
        del ds.PixelSpacing
    _write_series(tmp_path / "s", slices)
    volume, spacing = read_dicom_series(tmp_path / "s")
    assert spacing is None and volume.shape == (3, 128, 128)


# --- images ------------------------------------------------------------------------------------


def _ct_uint8() -> np.ndarray:
    pixels = pydicom.dcmread(CT).pixel_array.astype(np.float64)
    return np.round(255 * (pixels - pixels.min()) / np.ptp(pixels)).astype(np.uint8)


def _with_declared_size(png: bytes, width: int, height: int) -> bytes:
    """``png`` with its IHDR rewritten to declare ``width x height`` (CRC kept valid)."""
    data = bytearray(png)
    at = data.index(b"IHDR")
    data[at + 4 : at + 12] = struct.pack(">II", width, height)
    data[at + 17 : at + 21] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 17])))
    return bytes(data)


def _jpeg_with_declared_size(jpeg: bytes, width: int, height: int) -> bytes:
    data = bytearray(jpeg)
    at = data.index(b"\xff\xc0")  # baseline SOF0: length(2) precision(1) height(2) width(2)
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def image_corruptions() -> Iterator[tuple[str, str, bytes]]:
    """(format, what, bytes) for a PNG and a JPEG of the real CT_small pixels."""
    gray = _ct_uint8()
    rgb = np.stack([gray, gray[::-1], gray.T], axis=-1)
    for fmt, array in (("png", rgb), ("jpeg", gray)):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format=fmt.upper())
        data = buffer.getvalue()
        for what, blob in generic(data, seed=5, header_bytes=64):
            yield fmt, what, blob
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    jpeg = io.BytesIO()
    Image.fromarray(gray).save(jpeg, format="JPEG")
    yield "png", "declares 100000 x 100000", _with_declared_size(png.getvalue(), 100_000, 100_000)
    yield "png", "declares 10000 x 10000", _with_declared_size(png.getvalue(), 10_000, 10_000)
    yield "png", "declares 0 x 128", _with_declared_size(png.getvalue(), 0, 128)
    yield "jpeg", "declares 65535 x 65535", _jpeg_with_declared_size(jpeg.getvalue(), 65535, 65535)
    yield "png", "non-image text", b"NaN inf \xff\xfe not an image\n"


def _image_expect(fmt: str, original: np.ndarray) -> Callable[[np.ndarray], bool]:
    """PNG is checksummed (chunk CRC, zlib adler32): a read must equal the source pixels.
    Baseline JPEG has no checksum, so flipped entropy bytes decode to other pixels: a read
    must have the source's shape and type."""

    def expect(image: np.ndarray) -> bool:
        if fmt == "png":
            return image.shape == original.shape and np.array_equal(image, original)
        return image.shape == original.shape and image.dtype == np.uint8

    return expect


def test_fuzz_image(tmp_path):
    gray = _ct_uint8()
    sources = {
        "png": np.stack([gray, gray[::-1], gray.T], axis=-1),
        "jpeg": np.stack([gray] * 3, -1),
    }
    outcomes = []
    for k, (fmt, what, blob) in enumerate(image_corruptions()):
        path = tmp_path / f"image{k}.{fmt}"
        path.write_bytes(blob)
        outcomes.append(
            check_reader(
                "image",
                lambda path=path: read_image(path),
                f"{fmt}: {what}",
                expect=_image_expect(fmt, sources[fmt]),
            )
        )
    assert len(outcomes) >= 15 and outcomes.count("error") >= 10 and "ok" in outcomes


# --- edge lists -------------------------------------------------------------------------------


def graph_corruptions(text: bytes) -> Iterator[tuple[str, str, bytes]]:
    """(suffix, what, bytes): the real mouse edge list gzipped and as plain text."""
    packed = gzip.compress(text, mtime=0)
    for what, blob in generic(packed, seed=7, header_bytes=10):
        yield ".edgelist.gz", f"gzip: {what}", blob
    for what, blob in generic(text, seed=8, header_bytes=64):
        yield ".edgelist", f"text: {what}", blob
    lines = {
        "huge node id": b"0 99999999999999999999999999 1.0\n",
        "node id 10^8": b"100000000 1 1.0\n",
        "non-numeric weight": b"0 1 heavy\n",
        "NaN weight": b"0 1 nan\n",
        "inf weight": b"0 1 inf\n",
        "dict weight not a number": b"0 1 {'weight': 'x'}\n",
        "non-UTF-8 line": b"0 1 \xe9\xff\n",
        "NUL bytes": b"0\x00 1 2.0\n",
    }
    for what, line in lines.items():
        yield ".edgelist", f"text: {what}", text + line
        yield ".edgelist.gz", f"gzip: {what}", gzip.compress(line + text, mtime=0)


def _edges_match_loadtxt(path: Path) -> Callable[[object], bool]:
    def expect(edges) -> bool:
        blob = path.read_bytes()
        if path.suffix == ".gz":
            blob = gzip.decompress(blob)
        table = np.loadtxt(io.StringIO(blob.decode("utf-8")), ndmin=2, comments="#")
        return (
            np.array_equal(edges.edge_index, table[:, :2].T.astype(np.int64))
            and np.array_equal(edges.edge_weight, table[:, 2].astype(np.float32))
            and bool(np.isfinite(edges.edge_weight).all())
        )

    return expect


def test_fuzz_edgelist(tmp_path, real_data):
    text = gzip.decompress((real_data / MOUSE).read_bytes())
    outcomes = []
    for k, (suffix, what, blob) in enumerate(graph_corruptions(text)):
        path = tmp_path / f"graph{k}{suffix}"
        path.write_bytes(blob)
        outcomes.append(
            check_reader(
                "edgelist",
                lambda path=path: read_edgelist(path),
                what,
                expect=_edges_match_loadtxt(path),
            )
        )
    assert len(outcomes) >= 15 and outcomes.count("error") >= 15 and "ok" in outcomes


# --- PHI ------------------------------------------------------------------------------------------

_KEPT = {  # not patient fields: what the readers legitimately return (lead names, units, model)
    "CodeValue",
    "CodeMeaning",
    "CodingSchemeDesignator",
    "CodingSchemeVersion",
    "ManufacturerModelName",
}
_LISTED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "InstitutionName",
    "ReferringPhysicianName",
    "StudyDescription",
    "SeriesDescription",
)


def plant_phi(ds: pydicom.Dataset) -> None:
    """The name in every person-name/free-text element, the birth date in every date; the
    listed fields added where missing; one date made invalid, so pydicom would complain."""
    for keyword in _LISTED:
        setattr(ds, keyword, BIRTH if keyword.endswith("Date") else NAME)
    for group in ds.get("WaveformSequence") or []:
        group.MultiplexGroupLabel = NAME
        for channel in group.ChannelDefinitionSequence:
            channel.ChannelLabel = NAME
    for elem in ds.iterall():
        if elem.keyword in _KEPT or elem.VR == "SQ":
            continue
        if elem.VR in ("PN", "LO", "SH", "ST", "LT", "UT"):
            elem.value = NAME
        elif elem.VR == "DA":
            elem.value = BIRTH
    ds.StudyDate = f"{NAME} {BIRTH}"  # invalid DA: pydicom quotes such values in warnings


def _phi_outcomes(read: Callable[[], object]) -> str:
    try:
        result = read()
    except RecordError as err:
        return f"{err!s} {err.problem}"
    meta = result.meta if hasattr(result, "meta") else result
    return repr(meta)


@pytest.fixture
def pydicom_debug_logging():
    """pydicom's debug mode, as an application may switch it on: it logs every element value
    it reads, names and dates included, unless the readers keep pydicom quiet."""
    pydicom.config.debug(True, default_handler=False)
    yield
    pydicom.config.debug(False, default_handler=False)


def test_phi_never_in_meta_errors_warnings_or_logs(tmp_path, caplog, pydicom_debug_logging):
    caplog.set_level(logging.DEBUG)
    ecg = pydicom.dcmread(ECG)
    with _lenient():
        plant_phi(ecg)
    assert ecg.WaveformSequence[0].ChannelDefinitionSequence[0].ChannelLabel == NAME
    assert ecg.WaveformAnnotationSequence[0].UnformattedTextValue == NAME
    texts = []
    cases = {
        "valid": lambda ds: None,
        "fs NaN": _rhythm("SamplingFrequency", "NaN"),
        "fs 1e12": _rhythm("SamplingFrequency", "1e12"),
        "sensitivity NaN": _channel("ChannelSensitivity", "NaN"),
        "samples 10^9": _rhythm("NumberOfWaveformSamples", 10**9),
        "bad interpretation": _rhythm("WaveformSampleInterpretation", NAME[:2].upper()),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k, edit in enumerate(cases.values()):
            ds = copy.deepcopy(ecg)
            with _lenient():
                edit(ds)
            path = tmp_path / f"phi{k}.dcm"
            path.write_bytes(_saved(ds))
            texts.append(_phi_outcomes(lambda path=path: read_dicom_waveform(path)))
            texts.append(_phi_outcomes(lambda path=path: read_dicom_waveform(path, group=NAME)))
            cut = tmp_path / f"phi{k}_cut.dcm"
            cut.write_bytes(path.read_bytes()[:-150_000])
            texts.append(_phi_outcomes(lambda cut=cut: read_dicom_waveform(cut)))
        assert "None" in texts[0] and "dicom-waveform" in texts[0]  # the valid file read

        ct_slices = _series_slices()
        with _lenient():
            for ds in ct_slices:
                plant_phi(ds)
        ct_cases = {
            "valid": lambda s: None,
            "no waveform": None,
            "missing PixelSpacing": lambda s: [delattr(ds, "PixelSpacing") for ds in s],
            "duplicate InstanceNumber": _set(2, "InstanceNumber", 2),
            "other series": _set(1, "SeriesInstanceUID", "1.2.3"),
            "other size": _foreign_size,
            "PixelSpacing NaN": _set(1, "PixelSpacing", ["NaN", "NaN"]),
        }
        for k, (what, edit) in enumerate(ct_cases.items()):
            slices = copy.deepcopy(ct_slices)
            folder = tmp_path / f"ct{k}"
            if edit is None:  # a CT slice given to the waveform reader
                folder.mkdir()
                (folder / "ct.dcm").write_bytes(_saved(slices[0]))
                texts.append(_phi_outcomes(lambda f=folder / "ct.dcm": read_dicom_waveform(f)))
                continue
            with _lenient():
                edit(slices)
                if what == "other size":
                    plant_phi(slices[1])
            _write_series(folder, slices)
            texts.append(_phi_outcomes(lambda folder=folder: read_dicom_series(folder)))
        texts.extend(str(w.message) for w in caught)
    texts.extend(record.getMessage() for record in caplog.records)
    pydicom.dcmread(ECG)  # outside the readers the debug log does run (the test can fail)
    assert any(r.name == "pydicom" for r in caplog.records)
    assert any("SamplingFrequency" in t for t in texts) and any(
        "InstanceNumber" in t for t in texts
    )
    everything = "\n".join(texts)
    for secret in (NAME, NAME.upper(), "Doe", BIRTH, "1957-03-14"):
        assert secret not in everything
