"""demo_mitbih_beats on the bundled record 100, checked against wfdb.rdann directly."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import wfdb

from climb.adapt.base import get_adapter
from climb.demo_data import path

# The beat annotation codes of the MIT-BIH database (PhysioNet "Beat annotations" table).
BEATS = set("NLRBAaJSVrFejnE/fQ")


@pytest.fixture(scope="module")
def records():
    return list(get_adapter("demo_mitbih_beats").records(path("demo_mitbih_beats")))


@pytest.fixture(scope="module")
def ann():
    return wfdb.rdann(str(path("demo_mitbih_beats") / "100"), "atr")


def test_beats_labels_and_time_split(records, ann):
    beats = [(s, sym) for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in BEATS]
    inner = beats[1:-1]  # first and last beat lack a previous / next RR interval
    assert len(records) == len(inner)
    fs = 360.0
    expected = Counter()
    for sample, sym in inner:
        t = sample / fs
        split = "train" if t < 16 * 60 else "val" if t < 20 * 60 else "test"
        expected[(split, int(sym != "N"))] += 1
    got = Counter((r.split, r.labels["beat"]) for r in records)
    assert got == expected
    # the first 20 minutes (train + val) hold exactly the N / non-N counts of the annotation
    first20 = Counter(sym == "N" for s, sym in inner if s < 20 * 60 * fs)
    assert got[("train", 0)] + got[("val", 0)] == first20[True]
    assert got[("train", 1)] + got[("val", 1)] == first20[False]
    assert {r.patient_id for r in records} == {"mitbih-100"}


def test_window_and_rr_features(records, ann):
    signal = wfdb.rdrecord(str(path("demo_mitbih_beats") / "100"))
    beats = [s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in BEATS]
    rec = records[10]
    peak = beats[11]
    assert rec.sample_id == f"100-{peak:07d}"
    ecg = rec.inputs["ecg"]
    assert ecg.shape == (2, 252) and ecg.sampling_rate == 360.0
    assert ecg.channels == ["MLII", "V5"]
    np.testing.assert_allclose(ecg.data, signal.p_signal[peak - 90 : peak + 162].T, atol=1e-5)
    rr = np.diff(beats) / 360.0
    tab = rec.inputs["tabular"].data
    assert tab.dtype == np.float32 and tab.shape == (3,)
    np.testing.assert_allclose(tab, [rr[10], rr[11], rr[1:11].mean()], rtol=1e-5)
    assert rec.meta["age_bucket"] == "60-69" and rec.meta["sex"] == "male"
    assert rec.meta["event"] == ann.symbol[list(ann.sample).index(peak)]
