"""Fuzz tests of the signal readers (WFDB .dat and .mat layouts, EDF, .ts, signal tables), and
the PHI test: a name and a birth date planted in every header field the readers expose never
reach a returned ``meta``, a standardized channel name or an exception text.

Every corruption must end in a :class:`RecordError` naming the file or in a read that an
independent decoder agrees with (numpy on the raw bytes with the header's own numbers,
``wfdb.rdrecord`` without climb's checks, ``numpy.loadtxt``); ``tests/read/corrupt.py``
classifies each attempt. Fixtures are cut from the real sample records and written with
wfdb, scipy.io (MATLAB v4), pyEDFlib and pandas.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
import wfdb
from pyedflib import highlevel

from climb.errors import RecordError
from climb.read.edf import read_edf
from climb.read.signal import Signal
from climb.read.standardize import standardize_ecg, standardize_eeg
from climb.read.table import read_signal_table
from climb.read.ts import read_ts
from climb.read.wfdb import read_wfdb
from tests.read.corrupt import byte_flips, check_reader, generic

NAME, DATES = "Jane Q Doe", ("1957-03-14", "14.03.1957")


def _same(a: np.ndarray, b: np.ndarray, atol: float = 1e-4) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=1e-5, equal_nan=True))


# --- WFDB -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ecg100(real_data) -> np.ndarray:
    """4 s of real MIT-BIH record 100, mV, [samples, 2]."""
    return read_wfdb(real_data / "wfdb" / "100").data[:, :1440].T.astype(np.float64)


def _write_dat(tmp: Path, ecg: np.ndarray) -> Path:
    wfdb.wrsamp("rec", fs=360, units=["mV", "mV"], sig_name=["MLII", "V5"], p_signal=ecg,
                fmt=["16", "16"], adc_gain=[200.0, 200.0], baseline=[0, 0],
                write_dir=str(tmp))  # fmt: skip
    return tmp / "rec"


def _write_mat(tmp: Path, ecg: np.ndarray) -> Path:
    """The Challenge 2020 layout: MATLAB v4 ``val`` (leads x samples, int16) + WFDB header."""
    digital = np.round(ecg.T * 1000).astype(np.int16)
    scipy.io.savemat(tmp / "A0001.mat", {"val": digital}, format="4")
    lines = ["A0001 2 360 1440"] + [
        f"A0001.mat 16+24 1000/mV 16 0 {int(digital[k, 0])} 0 0 {lead}"
        for k, lead in enumerate(["II", "V1"])
    ]
    (tmp / "A0001.hea").write_text("\n".join([*lines, "#Age: 54", "#Dx: 426783006"]) + "\n")
    return tmp / "A0001"


def _wfdb_agrees(base: Path) -> Callable[[Signal], bool]:
    """A successful read equals what wfdb itself decodes from the same (corrupt) files."""

    def expect(sig: Signal) -> bool:
        rec = wfdb.rdrecord(str(base), smooth_frames=False)
        ref = np.stack([np.asarray(r, dtype=np.float64) for r in rec.e_p_signal])
        return math.isfinite(sig.fs) and sig.fs == float(rec.fs) and _same(sig.data, ref)

    return expect


def _header_values(text: str, first_signal: str) -> Iterator[tuple[str, str]]:
    """Absurd values in the record line and the first signal line of a WFDB header."""
    record = text.splitlines()[0].split()
    signal = first_signal.split()
    for fs in ("-500", "nan", "inf", "1e12", "0", "360/0"):
        yield f"fs {fs}", text.replace(" ".join(record), " ".join([*record[:2], fs, *record[3:]]))
    yield "sig_len 1e12", text.replace(" ".join(record), " ".join([*record[:3], "999999999999"]))
    yield "n_sig 99999", text.replace(" ".join(record), " ".join([record[0], "99999", *record[2:]]))
    for gain in ("0", "nan", "inf", "-inf", "1e-300"):
        unit = signal[2].partition("/")[2]
        bad = " ".join([*signal[:2], f"{gain}/{unit}", *signal[3:]])
        yield f"gain {gain}", text.replace(first_signal, bad)
    yield "format 999", text.replace(first_signal, " ".join([signal[0], "999", *signal[2:]]))
    yield "spf 0", text.replace(first_signal, " ".join([signal[0], signal[1].replace(
        signal[1].split("+")[0], signal[1].split("+")[0] + "x0"), *signal[2:]]))


@pytest.mark.parametrize("layout", ["dat", "mat"])
def test_fuzz_wfdb(tmp_path, ecg100, layout):
    write = _write_dat if layout == "dat" else _write_mat
    src = tmp_path / "src"
    src.mkdir()
    base = write(src, ecg100)
    signal_file = base.with_suffix(f".{layout}")
    header, body = base.with_suffix(".hea").read_text(), signal_file.read_bytes()
    reference = read_wfdb(base).data
    assert _same(reference, ecg100.T, atol=0.006)
    work = tmp_path / "work"
    work.mkdir()
    target = work / base.name
    tried = 0

    def attempt(what: str, hea: str | bytes, data: bytes) -> None:
        nonlocal tried
        hea_path = target.with_suffix(".hea")
        hea_path.write_bytes(hea if isinstance(hea, bytes) else hea.encode("latin-1"))
        target.with_suffix(f".{layout}").write_bytes(data)
        check_reader(f"wfdb-{layout}", lambda: read_wfdb(target), what, _wfdb_agrees(target))
        tried += 1

    for what, data in generic(body, seed=1, header_bytes=24):
        attempt(f"signal file: {what}", header, data)
    for what, text in generic(header.encode("latin-1"), seed=2, header_bytes=40):
        attempt(f"header: {what}", text, body)
    first = next(ln for ln in header.splitlines() if ln.startswith(signal_file.name))
    for what, text in _header_values(header, first):
        attempt(f"header: {what}", text, body)
    # -32768 (format 16's invalid sample) in the body: NaN, as wfdb decodes it
    invalid = bytearray(body)
    invalid[-4:-2] = np.int16(-32768).tobytes()
    attempt("invalid sample value", header, bytes(invalid))
    assert tried >= 15


# --- EDF ------------------------------------------------------------------------------------


def _write_edf(path: Path, ecg: np.ndarray, patient: str = "X", labels=("ECG1", "ECG2"),
               extra: str = "") -> None:
    headers = [
        highlevel.make_signal_header(lab, dimension="mV", sample_frequency=360,
                                     physical_min=-10, physical_max=10,
                                     transducer=extra, prefiler=extra)
        for lab in labels
    ]  # fmt: skip
    header = highlevel.make_header(patientname=patient, birthdate="", technician=extra,
                                   recording_additional=extra, patient_additional=extra)
    highlevel.write_edf(str(path), [ecg[:, k].copy() for k in range(2)], headers, header)


_VOLTS = {"V": 1.0, "mV": 1e-3, "uV": 1e-6}


def _edf_decode(raw: bytes) -> tuple[np.ndarray, float, list[str]]:
    """An independent EDF decoder (numpy on the bytes, the header's own numbers): the data
    channels in physical units, the sampling rate and the units."""
    ns = int(raw[252:256])
    n_rec, dur = int(raw[236:244]), float(raw[244:252])

    def col(offset: int, width: int) -> list[bytes]:
        start = 256 + ns * offset
        return [raw[start + i * width : start + (i + 1) * width] for i in range(ns)]

    labels = [b.decode("latin-1").strip() for b in col(0, 16)]
    units = [b.decode("latin-1").strip() for b in col(96, 8)]
    pmin, pmax = [float(b) for b in col(104, 8)], [float(b) for b in col(112, 8)]
    dmin, dmax = [int(b) for b in col(120, 8)], [int(b) for b in col(128, 8)]
    nsamp = [int(b) for b in col(216, 8)]
    words = np.frombuffer(raw[256 * (ns + 1) :], dtype="<i2")[: n_rec * sum(nsamp)]
    records = words.reshape(n_rec, sum(nsamp)).astype(np.float64)
    rows, row_units, start = [], [], 0
    for i in range(ns):
        if labels[i] != "EDF Annotations":
            d = records[:, start : start + nsamp[i]].ravel()
            rows.append((d - dmin[i]) * (pmax[i] - pmin[i]) / (dmax[i] - dmin[i]) + pmin[i])
            row_units.append(units[i])
        start += nsamp[i]
    return np.stack(rows), nsamp[0] / dur, row_units


def _edf_agrees(path: Path) -> Callable[[Signal], bool]:
    def expect(sig: Signal) -> bool:
        data, fs, units = _edf_decode(path.read_bytes())
        if sig.units != units:  # MNE's fallback gives volts: compare in volts
            data = data * np.array([[_VOLTS[u]] for u in units])
            got = sig.data * np.array([[_VOLTS[u]] for u in sig.units])
            return sig.fs == fs and _same(got, data, atol=1e-6)
        return sig.fs == fs and _same(sig.data, data, atol=1e-3)

    return expect


def _edf_field(raw: bytes, field: str, text: str, signal: int = 0) -> bytes:
    ns = int(raw[252:256])
    offsets = {"records": (236, 8), "duration": (244, 8), "signals": (252, 4),
               "header bytes": (184, 8), "physical minimum": (256 + ns * 104, 8),
               "physical maximum": (256 + ns * 112, 8), "digital minimum": (256 + ns * 120, 8),
               "digital maximum": (256 + ns * 128, 8), "samples": (256 + ns * 216, 8)}  # fmt: skip
    start, width = offsets[field]
    if start >= 256:
        start += signal * width
    out = bytearray(raw)
    out[start : start + width] = text.encode("ascii").ljust(width)[:width]
    return bytes(out)


def test_fuzz_edf(tmp_path, ecg100):
    src = tmp_path / "src.edf"
    _write_edf(src, ecg100)
    raw = src.read_bytes()
    assert _same(read_edf(src).data, ecg100.T, atol=1e-3)
    data_start = 256 * (int(raw[252:256]) + 1)
    target = tmp_path / "fuzz.edf"
    cases = list(generic(raw, seed=3, header_bytes=data_start))
    cases += list(byte_flips(raw, 3, seed=4, start=256, stop=data_start))  # signal headers
    for field, text in [("duration", "-1"), ("duration", "nan"), ("duration", "0"),
                        ("duration", "1e12"), ("records", "99999999"), ("records", "-1"),
                        ("records", "0"), ("signals", "0"), ("signals", "999"),
                        ("header bytes", "999"), ("physical maximum", "-10"),
                        ("physical maximum", "nan"), ("physical minimum", "inf"),
                        ("digital minimum", "32767"), ("digital maximum", "x"),
                        ("samples", "0"), ("samples", "-360"), ("samples", "99999999")]:
        cases.append((f"{field} {text}", _edf_field(raw, field, text)))
    for what, data in cases:
        target.write_bytes(data)
        check_reader("edf", lambda: read_edf(target), what, _edf_agrees(target))
    assert len(cases) >= 15


# --- .ts ------------------------------------------------------------------------------------


def _ts_source(real_data: Path) -> str:
    """The header and the first 6 cases of the real FingerMovements test file."""
    text = (real_data / "eeg-uea" / "FingerMovements" / "FingerMovements_TEST.ts").read_text()
    head, _, data = text.partition("@data\n")
    return head + "@data\n" + "\n".join(data.splitlines()[:6]) + "\n"


def _ts_agrees(path: Path) -> Callable[[object], bool]:
    """Each case equals the numbers of its data line; labels equal the lines' last field."""

    def expect(ts) -> bool:
        lines = path.read_bytes().decode("utf-8").partition("@data")[2].split("\n")
        lines = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
        if len(lines) != len(ts.cases):
            return False
        for line, case, label in zip(lines, ts.cases, ts.labels, strict=True):
            *dims, last = line.split(":")
            values = [[np.nan if v.strip() == "?" else float(v) for v in d.split(",")]
                      for d in dims]  # fmt: skip
            if last.strip() != label or not _same(case, np.array(values, np.float32), 0):
                return False
        return True

    return expect


def test_fuzz_ts(tmp_path, real_data):
    text = _ts_source(real_data)
    raw = text.encode()
    path = tmp_path / "x.ts"
    path.write_bytes(raw)
    assert len(read_ts(path)) == 6
    first = text.partition("@data\n")[2].splitlines()[0]
    header_end = raw.index(b"@data")
    cases = list(generic(raw, seed=5, header_bytes=header_end))
    for what, old, new in [
        ("seriesLength 1e12", "@seriesLength 50", "@seriesLength 1000000000000"),
        ("dimensions -1", "@dimensions 28", "@dimensions -1"),
        ("dimensions 0", "@dimensions 28", "@dimensions 0"),
        ("classLabel junk", "@classLabel true", "@classLabel maybe"),
        ("value nan", first, first.replace(first.split(",")[1], "nan", 1)),
        ("value inf", first, first.replace(first.split(",")[1], "inf", 1)),
        ("value 1e40", first, first.replace(first.split(",")[1], "1e40", 1)),
        ("value ?", first, first.replace(first.split(",")[1], "?", 1)),
        ("short dimension", first, first.replace(first.split(",")[1] + ",", "", 1)),
        ("label unknown", first, first.rsplit(":", 1)[0] + ":up"),
    ]:
        assert old in text, what
        cases.append((what, text.replace(old, new, 1).encode()))
    cases.append(("non-UTF-8 value", raw.replace(first.encode(), first.encode() + b"\xff", 1)))
    for what, data in cases:
        path.write_bytes(data)
        check_reader("ts", lambda: read_ts(path), what, _ts_agrees(path))
    assert len(cases) >= 15


# --- signal tables --------------------------------------------------------------------------


def _table_agrees(path: Path) -> Callable[[Signal], bool]:
    """Data = numpy.loadtxt of the same bytes; fs from its time column."""

    def expect(sig: Signal) -> bool:
        ref = np.loadtxt(io.StringIO(path.read_text()), delimiter=",", skiprows=1, ndmin=2)
        fs = (len(ref) - 1) / (ref[-1, 0] - ref[0, 0])
        return abs(sig.fs - fs) < 1e-6 * fs and _same(sig.data, ref[:, 1:].T, atol=1e-6)

    return expect


def test_fuzz_table(tmp_path, ecg100):
    frame = pd.DataFrame({"time": np.arange(200) / 360, "MLII": ecg100[:200, 0],
                          "V5": ecg100[:200, 1]})  # fmt: skip
    src = tmp_path / "src.csv"
    frame.to_csv(src, index=False, float_format="%.6f")
    raw = src.read_bytes()
    assert _same(read_signal_table(src).data, ecg100[:200].T, atol=1e-5)
    text = raw.decode()
    lines = text.splitlines()
    cases = list(generic(raw, seed=6, header_bytes=len(lines[0]) + 1))
    for what, row, cell, value in [
        ("time reversed", 5, 0, "0.000001"), ("time nan", 9, 0, "nan"),
        ("time inf", 9, 0, "inf"), ("value nan", 20, 1, "nan"), ("value inf", 20, 2, "inf"),
        ("value 1e40", 30, 1, "1e40"), ("value empty", 30, 1, ""),
        ("value text", 40, 2, "Jane"), ("time duplicate", 3, 0, lines[2].split(",")[0]),
    ]:  # fmt: skip
        edited = list(lines)
        cells = edited[row].split(",")
        cells[cell] = value
        edited[row] = ",".join(cells)
        cases.append((what, ("\n".join(edited) + "\n").encode()))
    cases.append(("header only", (lines[0] + "\n").encode()))
    path = tmp_path / "fuzz.csv"
    for what, data in cases:
        path.write_bytes(data)
        check_reader("table", lambda: read_signal_table(path), what, _table_agrees(path))
    assert len(cases) >= 15


# --- PHI ------------------------------------------------------------------------------------


def _assert_no_phi(*texts: object) -> None:
    for text in texts:
        for secret in (NAME, *DATES, "Jane"):
            assert secret not in str(text), f"{secret!r} leaked into {str(text)[:200]!r}"


def _errors(read: Callable[[], object]) -> str:
    try:
        read()
    except RecordError as err:
        return str(err)
    raise AssertionError("the corrupt file was read")


def test_phi_never_leaves_the_wfdb_reader(tmp_path, ecg100):
    base = _write_dat(tmp_path, ecg100)
    hea = base.with_suffix(".hea")
    text = hea.read_text().replace(" MLII", f" {NAME}").replace(" V5", " II")
    text = text.replace("/mV", f"/{DATES[0]}", 1)
    hea.write_text(text + f"# Name: {NAME}\n# DOB: {DATES[0]}\n# Dx: born {DATES[1]}\n")
    sig = read_wfdb(base)
    assert NAME in sig.channels[0] and any(NAME in c for c in sig.comments)  # planted
    _assert_no_phi(sig.meta)  # Signal.channels/comments hold the file's text, by design
    std = standardize_ecg(sig, "rec.hea", {"missing_lead": "zero", "assume_units": "mV"})
    _assert_no_phi(std.meta, std.channels)
    assert std.meta["channels_native"] == ["II"] and std.meta["channels_unknown"] == 1
    messages = [_errors(lambda: standardize_ecg(sig, "rec.hea"))]  # missing leads
    for old, new in [(" 360 ", " nan "), ("16 200", "16 nan"), ("16 200", "999 200"),
                     ("1440", "1441")]:  # fmt: skip
        hea.write_text(text.replace(old, new, 1) + f"# {NAME}\n")
        messages.append(_errors(lambda: read_wfdb(base)))
    hea.write_text(text.splitlines()[0] + "\n")  # truncated: no signal lines
    messages.append(_errors(lambda: read_wfdb(base)))
    _assert_no_phi(*messages)


def test_phi_never_leaves_the_edf_reader(tmp_path, ecg100):
    path = tmp_path / "phi.edf"
    _write_edf(path, ecg100, patient=NAME, labels=(NAME, f"ECG {DATES[1]}"), extra=DATES[0])
    raw = path.read_bytes()
    assert NAME.encode() in raw and DATES[0].encode() in raw  # planted in the header
    sig = read_edf(path)
    _assert_no_phi(sig.meta)
    std = standardize_ecg(sig, "phi.edf", {"missing_lead": "zero"})
    _assert_no_phi(std.meta, std.channels)
    assert std.meta["channels_native"] == [] and std.meta["channels_unknown"] == 2
    messages = [_errors(lambda: standardize_eeg(sig, "phi.edf", {"assume_units": "uV"})),
                _errors(lambda: standardize_ecg(sig, "phi.edf")),
                _errors(lambda: standardize_eeg(sig, "phi.edf", {"montage": "tcp"})),
                _errors(lambda: read_edf(path, channels=lambda label: False))]  # fmt: skip
    for field, value in [("physical maximum", "-10"), ("samples", NAME[:8]),
                         ("records", "99999999"), ("digital minimum", DATES[1])]:
        path.write_bytes(_edf_field(raw, field, value))
        messages.append(_errors(lambda: read_edf(path)))
    path.write_bytes(raw[: len(raw) // 2])
    messages.append(_errors(lambda: read_edf(path)))
    # a header pyEDFlib refuses (a non-ASCII physical dimension): MNE's fallback
    bad_dim = bytearray(raw)
    ns = int(raw[252:256])
    bad_dim[256 + ns * 96 : 256 + ns * 96 + 8] = b"\xb5V" + b" " * 6
    path.write_bytes(bytes(bad_dim[: len(raw) - 100]))
    messages.append(_errors(lambda: read_edf(path)))
    _assert_no_phi(*messages)


def test_phi_never_leaves_the_ts_and_table_readers(tmp_path, real_data):
    text = _ts_source(real_data)
    planted = text.replace("@problemName FingerMovements", f"@problemName {NAME}")
    planted = f"# recorded from {NAME}, born {DATES[0]}\n@description {DATES[1]}\n" + planted
    path = tmp_path / "phi.ts"
    path.write_text(planted)
    ts = read_ts(path)
    _assert_no_phi(ts.header, ts.class_labels)
    first = planted.partition("@data\n")[2].splitlines()[0]
    messages = []
    for old, new in [("@univariate false", f"@univariate {NAME}"),
                     (first, first.rsplit(":", 1)[0] + f":{NAME}"),
                     (first, first.replace(",", f",{DATES[0]},", 1)),
                     ("@dimensions 28", f"@dimensions {DATES[1]}")]:  # fmt: skip
        path.write_text(planted.replace(old, new, 1))
        messages.append(_errors(lambda: read_ts(path)))
    table = tmp_path / "phi.csv"
    table.write_text(f"time,{NAME}\n0,1\n0.1,{DATES[0]}\n0.2,3\n")
    messages.append(_errors(lambda: read_signal_table(table)))
    table.write_text(f"time,{NAME}\n0,1\n0.1,2\n")
    messages.append(_errors(lambda: read_signal_table(table, time_column=DATES[1][:0] + "t")))
    _assert_no_phi(*messages)
    assert not re.search(r"\d{2}\.\d{2}\.\d{4}", " ".join(messages))
