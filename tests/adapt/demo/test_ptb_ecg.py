"""demo_ptb_ecg: 3 windows of the 12 standard leads, MI label, no PHI in meta."""

from __future__ import annotations

import numpy as np
import wfdb

from climb.adapt.base import get_adapter
from climb.demo_data import path


def test_windows_label_meta():
    raw = path("demo_ptb_ecg")
    records = list(get_adapter("demo_ptb_ecg").records(raw))
    header = wfdb.rdheader(str(raw / "s0010_re"))
    assert header.fs == 1000 and header.sig_len == 38400
    assert len(records) == header.sig_len // 10000 == 3
    full = wfdb.rdrecord(str(raw / "s0010_re"), channel_names=["i", "v6"])
    for i, rec in enumerate(records):
        ecg = rec.inputs["ecg"]
        assert ecg.shape == (12, 10000) and ecg.data.dtype == np.float32
        assert ecg.channels[:3] == ["I", "II", "III"] and ecg.channels[-1] == "V6"
        np.testing.assert_allclose(
            ecg.data[0], full.p_signal[i * 10000 : (i + 1) * 10000, 0], atol=1e-4
        )
        np.testing.assert_allclose(
            ecg.data[11], full.p_signal[i * 10000 : (i + 1) * 10000, 1], atol=1e-4
        )
        assert rec.labels == {"mi": 1}  # "Reason for admission: Myocardial infarction"
        assert rec.meta["age_bucket"] == "80-89" and rec.meta["sex"] == "female"
        assert rec.patient_id == "ptb-patient001"
    text = repr([r.meta for r in records])
    for phi in ("1990", "Sep-90", "Oct-90", "Heparin", "Digoxin"):
        assert phi not in text
