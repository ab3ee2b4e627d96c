"""climb.read.standardize on real ECG (PTB s0010_re, MIT-BIH 100) and real EEG (.ts epochs)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from climb.errors import RecordError
from climb.read.signal import Signal
from climb.read.standardize import (
    ECG_LEADS,
    TCP_MONTAGE,
    normalize_eeg_name,
    quality_flags,
    standardize_ecg,
    standardize_eeg,
    to_units,
    window_at,
    windows,
)
from climb.read.ts import read_ts
from climb.read.wfdb import read_wfdb


@pytest.fixture(scope="module")
def ptb(real_data) -> Signal:
    return read_wfdb(real_data / "wfdb" / "s0010_re")


def test_ecg_canonical_order_units_and_rate(ptb):
    # shuffle the 15 channels so the order has to be restored
    order = [14, 3, 0, 11, 7, 1, 13, 2, 4, 5, 6, 8, 9, 10, 12]
    shuffled = Signal(ptb.data[order], ptb.fs, [ptb.channels[i] for i in order], ["mV"] * 15)
    out = standardize_ecg(shuffled, "s0010_re")
    assert out.channels == ECG_LEADS and out.fs == 500.0 and out.data.shape == (12, 19200)
    assert out.units == ["mV"] * 12
    expected_avr = resample_poly(ptb.data[3].astype(np.float64), 1, 2)
    np.testing.assert_allclose(out.data[3], expected_avr, atol=1e-5)
    assert out.meta["fs_native"] == 1000.0 and out.meta["channels_native"][0] == "VZ"
    assert out.meta["quality"] == {"flat": [], "nan": [], "clipped": [], "missing": []}


def test_units_converted_by_header_unit(ptb):
    in_uv = Signal(ptb.data[:12] * 1000, ptb.fs, ptb.channels[:12], ["uV"] * 12)
    out = standardize_ecg(in_uv, "x")
    ref = standardize_ecg(Signal(ptb.data[:12], ptb.fs, ptb.channels[:12], ["mV"] * 12), "x")
    np.testing.assert_allclose(out.data, ref.data, rtol=1e-5, atol=1e-5)
    volts = to_units(Signal(ptb.data[:1], 1000.0, ["i"], ["mV"]), "V", "x")
    np.testing.assert_allclose(volts.data, ptb.data[:1] / 1000, rtol=1e-6)
    with pytest.raises(RecordError, match="not a voltage unit"):
        standardize_ecg(Signal(ptb.data[:12], ptb.fs, ptb.channels[:12], ["NU"] * 12), "r.hea")


def test_missing_lead_error_or_zero(ptb):
    no_v6 = Signal(ptb.data[:11], ptb.fs, ptb.channels[:11], ["mV"] * 11)
    with pytest.raises(RecordError) as err:
        standardize_ecg(no_v6, "records/x.hea")
    assert err.value.path == "records/x.hea" and "['V6']" in err.value.problem
    out = standardize_ecg(no_v6, "x", {"missing_lead": "zero"})
    assert out.meta["quality"]["missing"] == ["V6"] and not out.data[11].any()
    assert out.data[10].any()


def test_nan_leads(ptb):
    data = ptb.data[:12].copy()
    data[2] = np.nan  # lead III entirely NaN -> treated as missing
    with pytest.raises(RecordError, match=r"missing or all-NaN leads \['III'\]"):
        standardize_ecg(Signal(data, ptb.fs, ptb.channels[:12], ["mV"] * 12), "x")
    with pytest.raises(RecordError, match="every channel is NaN"):
        standardize_ecg(Signal(data * np.nan, ptb.fs, ptb.channels[:12], ["mV"] * 12), "x")
    data = ptb.data[:12].copy()
    data[4, 100:200] = np.nan  # a gap in aVL: reported, zero-filled
    out = standardize_ecg(Signal(data, ptb.fs, ptb.channels[:12], ["mV"] * 12), "x")
    assert out.meta["quality"]["nan"] == ["aVL"] and np.isfinite(out.data).all()


def test_flat_and_clipped_channels(real_data):
    sig = read_wfdb(real_data / "wfdb" / "100")
    x = sig.data[:, :3600].copy()
    hi = np.percentile(x[0], 90)
    clipped = np.minimum(x[0], hi)
    flat = np.full_like(x[1], 0.25)
    test = Signal(np.stack([x[0], clipped, flat, x[1]]), sig.fs, ["a", "b", "c", "d"], ["mV"] * 4)
    assert quality_flags(test, 1e-4, 0.05) == {"flat": ["c"], "nan": [], "clipped": ["b"]}


def test_windows_and_window_at(ptb):
    out = standardize_ecg(ptb, "x")  # 38.4 s at 500 Hz
    wins = windows(out, 10.0, "all")
    assert [s for s, _ in wins] == [0.0, 10.0, 20.0] and all(w.shape == (12, 5000) for _, w in wins)
    np.testing.assert_array_equal(wins[1][1], out.data[:, 5000:10000])
    short = Signal(out.data[:, :2000], 500.0, out.channels, out.units)
    ((start, first),) = windows(short, 10.0, "first")
    assert first.shape == (12, 5000) and not first[:, 2000:].any()
    assert windows(short, 10.0, "all") == []
    start, w = window_at(out, 37.0, 5.0)  # shifted inside the recording
    assert start == pytest.approx(38.4 - 5.0) and w.shape == (12, 2500)


def test_eeg_names_and_tcp_montage(real_data):
    assert normalize_eeg_name("EEG FP1-REF") == "FP1"
    assert normalize_eeg_name("EEG T7-LE") == "T3"
    assert normalize_eeg_name("Fp2") == "FP2"
    ts = read_ts(real_data / "eeg-uea" / "FingerMovements" / "FingerMovements_TRAIN.ts")
    epochs = np.concatenate(ts.cases[:40], axis=1)  # 20 s of real EEG at 100 Hz, 28 channels
    electrodes = sorted({e for pair in TCP_MONTAGE for e in pair})  # 19 (no FZ, PZ)
    assert len(electrodes) == 19
    names = [f"EEG {e}-REF" for e in electrodes]
    sig = Signal(epochs[: len(names)], 100.0, names, ["uV"] * len(names))
    out = standardize_eeg(sig, "x", {"montage": "tcp"})
    assert out.channels[:2] == ["FP1-F7", "F7-T3"] and len(out.channels) == 22
    assert out.fs == 200.0 and out.data.shape == (22, 4000)
    fp1, f7 = electrodes.index("FP1"), electrodes.index("F7")
    expected = resample_poly((epochs[fp1] - epochs[f7]).astype(np.float64), 2, 1)
    np.testing.assert_allclose(out.data[0], expected, atol=1e-3)
    with pytest.raises(RecordError, match="missing or all-NaN electrodes"):
        standardize_eeg(
            Signal(sig.data[1:], 100.0, names[1:], ["uV"] * 18), "x", {"montage": "tcp"}
        )
    volts = Signal(sig.data * 1e-6, 100.0, names, ["V"] * len(names))
    ref = standardize_eeg(volts, "x", {"channels": ["FP1", "O2"], "fs": 100.0})
    assert ref.channels == ["FP1", "O2"] and ref.units == ["uV", "uV"]
    np.testing.assert_allclose(ref.data[0], epochs[fp1], rtol=1e-4, atol=1e-3)
