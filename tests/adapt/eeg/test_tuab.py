"""TUAB adapter on a v3-layout fixture of real EEG in TUH-style EDF files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from scipy.signal import resample_poly

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.errors import RecordError
from climb.read.standardize import TCP_NAMES
from climb.record import META_WHITELIST
from tests.fixtures import tuab as fixture
from tests.fixtures._eeg import write_tuh_edf


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("tuab"))


@pytest.fixture(scope="module")
def records(raw):
    return list(get_adapter("tuab").records(raw))


def test_windows_labels_splits_patients(raw, records):
    assert has_adapter(load_catalog().get("tuab"))
    expected = {}
    for split, label, stem, _, _ in fixture.FILES:
        path = raw / "v3.0.1" / "edf" / split / label / "01_tcp_ar" / f"{stem}.edf"
        with pyedflib.EdfReader(str(path)) as reader:
            n_windows = int(reader.getFileDuration() // 10)
        for k in range(n_windows):
            expected[f"{stem}-w{k:04d}"] = (
                {"train": "train", "eval": "test"}[split],
                {"normal": 0, "abnormal": 1}[label],
                stem.split("_")[0],
            )
    got = {r.sample_id: (r.split, r.labels["abnormal"], r.patient_id) for r in records}
    assert got == expected and len(got) == 13
    train = {r.patient_id for r in records if r.split == "train"}
    test = {r.patient_id for r in records if r.split == "test"}
    assert not train & test


def test_tcp_window_matches_the_edf(raw, records):
    rec = next(r for r in records if r.sample_id == "aaaaaaav_s004_t000-w0001")
    eeg = rec.inputs["eeg"]
    assert eeg.shape == (22, 2000) and eeg.sampling_rate == 200.0 and eeg.channels == TCP_NAMES
    assert eeg.units == "uV" and rec.meta["window_start_s"] == 10.0
    path = raw / "v3.0.1/edf/train/normal/01_tcp_ar/aaaaaaav_s004_t000.edf"
    with pyedflib.EdfReader(str(path)) as reader:
        labels = reader.getSignalLabels()
        fp1 = reader.readSignal(labels.index("EEG FP1-REF"))
        f7 = reader.readSignal(labels.index("EEG F7-REF"))
    expected = resample_poly(fp1 - f7, 4, 5)[2000:4000]
    np.testing.assert_allclose(eeg.data[0], expected, atol=1e-2)
    assert rec.meta["fs_native"] == 250.0 and "EEG EKG1-REF" not in rec.meta["channels_native"]


def test_meta_whitelisted_without_edf_patient_fields(records):
    for rec in records:
        assert set(rec.meta) <= META_WHITELIST
    text = repr([r.meta for r in records])
    assert "1960" not in text and "Male" not in text


def test_bad_files_are_record_errors(raw, tmp_path):
    dst = tmp_path / "tuab"
    shutil.copytree(raw, dst)
    folder = dst / "v3.0.1/edf/train/normal/01_tcp_ar"
    bad = folder / "aaaaaaaw_s001_t001.edf"
    data = bytearray(bad.read_bytes())
    data[236:244] = b"-1      "  # number of data records
    bad.write_bytes(bytes(data))
    no_t3 = folder / "aaaaaaxx_s001_t000.edf"
    write_tuh_edf(no_t3, "aaaaaaxx", 0.0, 10.0)
    with pyedflib.EdfReader(str(no_t3)) as reader:
        labels = reader.getSignalLabels()
        signals = [reader.readSignal(i) for i in range(len(labels)) if labels[i] != "EEG T3-REF"]
        headers = [
            reader.getSignalHeader(i) for i in range(len(labels)) if labels[i] != "EEG T3-REF"
        ]
    pyedflib.highlevel.write_edf(str(no_t3), signals, headers)
    adapter = get_adapter("tuab")
    items = {i.key: i for i in adapter.items(dst)}
    with pytest.raises(RecordError) as err:
        list(adapter.load(dst, items["aaaaaaaw_s001_t001"]))
    assert (
        err.value.path.endswith("aaaaaaaw_s001_t001.edf") and "-1 data records" in err.value.problem
    )
    with pytest.raises(RecordError, match=r"missing or all-NaN electrodes \['T3'\]") as err:
        list(adapter.load(dst, items["aaaaaaxx_s001_t000"]))
    assert err.value.path.endswith("aaaaaaxx_s001_t000.edf")
    assert len(list(adapter.load(dst, items["aaaaaaav_s004_t000"]))) == 3
