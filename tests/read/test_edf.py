"""climb.read.edf: real sample files, pyEDFlib-written files, and broken copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyedflib
import pytest
from pyedflib import highlevel

from climb.errors import RecordError
from climb.read.edf import read_edf, record_onsets
from climb.read.wfdb import read_wfdb


def _write(path: Path, signals: list[np.ndarray], labels: list[str], rates: list[float]) -> None:
    headers = [
        highlevel.make_signal_header(
            lab, dimension="uV", sample_frequency=fs, physical_min=-5000, physical_max=5000
        )
        for lab, fs in zip(labels, rates, strict=True)
    ]
    header = highlevel.make_header(
        patientname="Jane Roe", patientcode="PAT-1234", birthdate="01.02.1950", gender="Female"
    )
    highlevel.write_edf(str(path), signals, headers, header)


def _real_ecg(real: Path, seconds: int, fs: int = 360) -> np.ndarray:
    return read_wfdb(real / "wfdb" / "100").data[:, : seconds * fs].astype(np.float64) * 1000


def test_annotations_of_test_edfann(real_data):
    sig = read_edf(real_data / "wfdb" / "test_edfann.edf")
    ann = sig.meta["annotations"]
    assert sig.data.shape[0] == 0 and sig.meta["format"] == "edf+"
    assert ann[0] == {"onset_s": 0.0, "duration_s": 30.0, "text": "Sleep stage W"}
    assert any(a["text"].startswith("Lights off") for a in ann)
    assert {a["text"] for a in ann} >= {"Sleep stage N1", "Sleep stage N2", "Sleep stage R"}


def test_noncompliant_header_falls_back_to_mne(real_data):
    with pytest.raises(OSError):  # pyEDFlib refuses this file's physical dimension field
        pyedflib.EdfReader(str(real_data / "wfdb" / "test_generator_2.edf"))
    sig = read_edf(real_data / "wfdb" / "test_generator_2.edf")
    assert sig.meta["reader"] == "mne" and sig.fs == 200.0 and sig.data.shape == (11, 120000)
    assert sig.meta["annotations"][0]["text"] == "RECORD START"


def test_roundtrip_pyedflib_written_file(real_data, tmp_path):
    x = _real_ecg(real_data, 10)
    path = tmp_path / "rec.edf"
    _write(path, list(x), ["EEG FP1-REF", "EEG FP2-REF"], [360, 360])
    sig = read_edf(path)
    assert sig.meta["reader"] == "pyedflib" and sig.meta["variant"] == "EDF+C"
    assert sig.channels == ["EEG FP1-REF", "EEG FP2-REF"] and sig.units == ["uV", "uV"]
    assert sig.fs == 360.0 and sig.data.shape == (2, 3600)
    lsb = 10000 / 65535
    np.testing.assert_allclose(sig.data, x, atol=lsb)
    # channel selection by name (case-insensitive) and by predicate
    assert read_edf(path, channels=["eeg fp2-ref"]).channels == ["EEG FP2-REF"]
    assert read_edf(path, channels=lambda c: c.endswith("FP1-REF")).data.shape == (1, 3600)
    with pytest.raises(RecordError, match="not in the file"):
        read_edf(path, channels=["EEG O1-REF"])


def test_patient_fields_never_in_meta(real_data, tmp_path):
    path = tmp_path / "rec.edf"
    _write(path, list(_real_ecg(real_data, 2)), ["A", "B"], [360, 360])
    meta = read_edf(path).meta
    text = repr(meta)
    for phi in ("Jane", "Roe", "PAT-1234", "1950", "Female"):
        assert phi not in text
    assert not {"patientname", "patient", "birthdate", "startdate", "technician"} & set(meta)


def test_mixed_sampling_rates(real_data, tmp_path):
    x = _real_ecg(real_data, 4)
    path = tmp_path / "mixed.edf"
    _write(path, [x[0].copy(), x[1, ::2].copy()], ["ECG1", "ECG2"], [360, 180])
    with pytest.raises(
        RecordError, match=r"different sampling rates: 360 Hz \(1 channel\); 180 Hz \(1 channel\)"
    ):
        read_edf(path)
    sig = read_edf(path, mixed_rates="resample")
    assert sig.fs == 360.0 and sig.data.shape == (2, 1440)
    assert sig.meta["resampled_channels"] == 1  # a count: labels are free text
    assert read_edf(path, channels=["ECG2"]).fs == 180.0


def test_corrupt_header(real_data, tmp_path):
    path = tmp_path / "bad.edf"
    _write(path, list(_real_ecg(real_data, 2)), ["A", "B"], [360, 360])
    raw = bytearray(path.read_bytes())
    raw[252:256] = b"ab  "  # number of signals is not a number
    path.write_bytes(bytes(raw))
    with pytest.raises(RecordError) as err:
        read_edf(path)
    assert err.value.path.endswith("bad.edf") and "corrupt EDF header" in err.value.problem

    short = tmp_path / "short.edf"
    short.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RecordError, match="truncated EDF header: 100 of 256 bytes"):
        read_edf(short)

    garbled = tmp_path / "garbled.edf"
    raw = bytearray(tmp_path.joinpath("bad.edf").read_bytes())
    raw[252:256] = b"3   "
    ns = 3
    raw[256 + ns * 104 : 256 + ns * 112] = b"xx" * (4 * ns)  # physical minimum of every signal
    garbled.write_bytes(bytes(raw))
    with pytest.raises(RecordError) as err:
        read_edf(garbled)
    assert err.value.path.endswith("garbled.edf")


def test_discontinuous_edf_plus_d_is_reported_not_joined(real_data, tmp_path):
    x = _real_ecg(real_data, 6)
    path = tmp_path / "disc.edf"
    _write(path, list(x), ["A", "B"], [360, 360])
    raw = bytearray(path.read_bytes())
    assert raw[192:197] == b"EDF+C"
    raw[192:197] = b"EDF+D"
    # shift the time-keeping annotation of records 3.. by 5 s (a gap between records 2 and 3)
    ns = int(raw[252:256])
    nsamp = [int(raw[256 + ns * 216 + 8 * i : 256 + ns * 216 + 8 * (i + 1)]) for i in range(ns)]
    rec_bytes, ann_start, ann_len = sum(nsamp) * 2, sum(nsamp[:-1]) * 2, nsamp[-1] * 2
    n_records = int(raw[236:244])
    for r in range(3, n_records):
        at = 256 * (ns + 1) + r * rec_bytes + ann_start
        tal = f"+{r + 5}\x14\x14\x00".encode()
        raw[at : at + ann_len] = tal + b"\x00" * (ann_len - len(tal))
    path.write_bytes(bytes(raw))
    assert record_onsets(path)[:5] == [0.0, 1.0, 2.0, 8.0, 9.0]
    with pytest.raises(RecordError) as err:
        read_edf(path)
    assert (
        "discontinuous EDF+D" in err.value.problem
        and "5 s gap before record 3" in err.value.problem
    )
    sig = read_edf(path, discontinuous="report")
    assert sig.meta["discontinuities"] == [{"record": 3, "at_s": 3.0, "gap_s": 5.0}]
    assert sig.data.shape == (2, 6 * 360)


def test_missing_file(tmp_path):
    with pytest.raises(RecordError, match="not found"):
        read_edf(tmp_path / "none.edf")


def test_bdf_roundtrip(real_data, tmp_path):
    x = _real_ecg(real_data, 5)
    path = tmp_path / "rec.bdf"  # pyEDFlib writes 24-bit BDF+ for this extension
    _write(path, list(x), ["ECG1", "ECG2"], [360, 360])
    assert path.read_bytes()[:1] == b"\xff"
    sig = read_edf(path)
    assert sig.meta["format"] == "bdf+" and sig.data.shape == (2, 1800)
    np.testing.assert_allclose(sig.data, x, atol=10000 / 65535)  # 16-bit digital range


def _patch(path: Path, start: int, width: int, text: str) -> None:
    """Overwrite one fixed-width ASCII header field (the test is about bad header values)."""
    raw = bytearray(path.read_bytes())
    raw[start : start + width] = text.encode("ascii").ljust(width)
    path.write_bytes(bytes(raw))


def test_mne_fallback_never_reads_a_cut_file_shorter(real_data, tmp_path):
    """pyEDFlib refuses test_generator_2.edf; MNE used to read the 30 % left as a 1-s record."""
    data = (real_data / "wfdb" / "test_generator_2.edf").read_bytes()
    for fraction in (0.3, 0.4):
        cut = tmp_path / f"cut{fraction}.edf"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(RecordError, match=r"truncated: holds \d+ of the 600 data records"):
            read_edf(cut)


def _two_channel(real_data: Path, tmp_path: Path) -> Path:
    path = tmp_path / "ok.edf"
    _write(path, list(_real_ecg(real_data, 4)), ["ECG1", "ECG2"], [360, 360])
    return path


@pytest.mark.parametrize(
    ("field", "text", "problem"),
    [
        ("duration", "-1", "data record duration is not positive"),
        ("duration", "nan", "data record duration is not finite"),
        ("records", "99999999", "absurd number of data records"),
        ("records", "5", "truncated: holds 4 of the 5 data records"),
        ("physical maximum", "-5000", "signal 1 physical minimum equals physical maximum"),
        ("physical maximum", "nan", "signal 1 physical maximum is not finite"),
        ("digital minimum", "32767", "signal 1 digital minimum is not below"),
        ("samples per record", "0", "signal 1 samples per record is not positive"),
        ("samples per record", "-360", "signal 1 samples per record is not positive"),
    ],
)  # fmt: skip
def test_absurd_header_values_are_errors(real_data, tmp_path, field, text, problem):
    path = _two_channel(real_data, tmp_path)
    assert read_edf(path).fs == 360.0
    ns = int(path.read_bytes()[252:256])
    starts = {"duration": (244, 8), "records": (236, 8),
              "physical maximum": (256 + ns * 112, 8), "digital minimum": (256 + ns * 120, 8),
              "samples per record": (256 + ns * 216, 8)}  # fmt: skip
    _patch(path, *starts[field], text)
    with pytest.raises(RecordError, match=problem) as err:
        read_edf(path)
    assert err.value.path.endswith("ok.edf")
