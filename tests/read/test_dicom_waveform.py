"""climb.read.dicom_waveform on pydicom's real 12-lead ECG test file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from climb.errors import RecordError
from climb.read.dicom_waveform import read_dicom_waveform

ECG = get_testdata_file("waveform_ecg.dcm")


def test_rhythm_group_in_physical_units():
    sig = read_dicom_waveform(ECG)
    assert sig.data.shape == (12, 10000) and sig.data.dtype == np.float32
    assert sig.fs == 1000.0 and sig.meta["duration_s"] == 10.0
    assert sig.channels == ["I", "II", "III", "aVR", "aVL", "aVF"] + [f"V{i}" for i in range(1, 7)]
    assert set(sig.units) == {"uV"}
    # decode the raw Waveform Data bytes independently: int16, interleaved, x sensitivity
    ds = pydicom.dcmread(ECG)
    mplx = ds.WaveformSequence[0]
    raw = np.frombuffer(mplx.WaveformData, dtype="<i2").reshape(10000, 12).T
    for k, item in enumerate(mplx.ChannelDefinitionSequence):
        scale = float(item.ChannelSensitivity) * float(item.ChannelSensitivityCorrectionFactor)
        expected = raw[k] * scale + float(item.ChannelBaseline)
        np.testing.assert_allclose(sig.data[k], expected, rtol=1e-6)


def test_median_beat_group_by_label():
    sig = read_dicom_waveform(ECG, group="MEDIAN BEAT")
    assert sig.data.shape == (12, 1200) and sig.meta["multiplex"] == "MEDIAN BEAT"
    with pytest.raises(RecordError, match="no multiplex group 'X'"):
        read_dicom_waveform(ECG, group="X")


def test_no_patient_attributes_in_meta():
    ds = pydicom.dcmread(ECG)
    meta = read_dicom_waveform(ECG).meta
    assert set(meta) == {"format", "sop_class", "modality", "device", "multiplex", "duration_s"}
    values = " ".join(str(v) for v in meta.values())
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "StudyDate"):
        value = str(ds.get(keyword, "") or "")
        if value:
            assert value not in values


def test_bad_inputs(tmp_path):
    with pytest.raises(RecordError, match="no Waveform Sequence"):
        read_dicom_waveform(get_testdata_file("CT_small.dcm"))
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\x00" * 50)
    with pytest.raises(RecordError) as err:
        read_dicom_waveform(bad)
    assert err.value.path.endswith("bad.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(Path(ECG).read_bytes()[:-100000])
    with pytest.raises(RecordError) as err:
        read_dicom_waveform(cut)
    assert err.value.path.endswith("cut.dcm")
