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
    assert set(meta) == {
        "format",
        "sop_class",
        "modality",
        "device",
        "multiplex",
        "multiplex_index",
        "duration_s",
    }
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


def ecg_variant(tmp_path: Path, edit, name: str = "edited.dcm") -> Path:
    """pydicom's real ECG with ``edit(dataset)`` applied, written back with pydicom."""
    ds = pydicom.dcmread(ECG)
    with pydicom.config.disable_value_validation():  # NaN/inf are invalid DS on purpose
        edit(ds)
        out = tmp_path / name
        ds.save_as(out)
    return out


def _set_rhythm(keyword: str, value):
    return lambda ds: setattr(ds.WaveformSequence[0], keyword, value)


@pytest.mark.parametrize("fs", ["1e12", "NaN", "-500", "0", "inf", "100001"])
def test_implausible_sampling_frequency_is_refused(tmp_path, fs):
    path = ecg_variant(tmp_path, _set_rhythm("SamplingFrequency", fs))
    with pytest.raises(RecordError, match="SamplingFrequency") as err:
        read_dicom_waveform(path)
    assert err.value.path == str(path)
    assert err.value.problem in (  # the kind of problem, never the raw value
        "multiplex group 0: SamplingFrequency out of range (0, 100000] Hz",
        "multiplex group 0: SamplingFrequency is not finite",
    )


def test_sampling_frequency_bound_is_inclusive(tmp_path):
    path = ecg_variant(tmp_path, _set_rhythm("SamplingFrequency", "100000"))
    assert read_dicom_waveform(path).fs == 100000.0


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("ChannelSensitivity", "NaN"),
        ("ChannelSensitivity", "0"),
        ("ChannelSensitivityCorrectionFactor", "inf"),
        ("ChannelBaseline", "NaN"),
    ],
)
def test_bad_channel_calibration_is_refused(tmp_path, keyword, value):
    def edit(ds):
        setattr(ds.WaveformSequence[0].ChannelDefinitionSequence[3], keyword, value)

    path = ecg_variant(tmp_path, edit)
    with pytest.raises(RecordError, match=f"channel 3 {keyword}") as err:
        read_dicom_waveform(path)
    assert err.value.path == str(path)


@pytest.mark.parametrize(
    ("keyword", "value", "problem"),
    [
        ("NumberOfWaveformSamples", 10001, "WaveformData has 240000 bytes, header declares"),
        ("NumberOfWaveformChannels", 13, "13 channels declared, 12 channel definitions"),
        ("WaveformSampleInterpretation", "MB", "not supported"),
        ("WaveformBitsAllocated", 12, "not supported"),
    ],
)
def test_header_inconsistent_with_data_is_refused(tmp_path, keyword, value, problem):
    path = ecg_variant(tmp_path, _set_rhythm(keyword, value))
    with pytest.raises(RecordError, match=problem):
        read_dicom_waveform(path)


def test_fewer_samples_declared_reads_only_those(tmp_path):
    path = ecg_variant(tmp_path, _set_rhythm("NumberOfWaveformSamples", 5000))
    sig = read_dicom_waveform(path)
    assert sig.data.shape == (12, 5000)
    np.testing.assert_array_equal(sig.data, read_dicom_waveform(ECG).data[:, :5000])


def test_free_text_group_label_stays_out_of_meta(tmp_path):
    path = ecg_variant(tmp_path, _set_rhythm("MultiplexGroupLabel", "Jane Q Doe"))
    sig = read_dicom_waveform(path, group="Jane Q Doe")
    assert sig.meta["multiplex"] is None and sig.meta["multiplex_index"] == 0
    with pytest.raises(RecordError) as err:
        read_dicom_waveform(path, group="RHYTHM")
    assert "Jane" not in str(err.value)
