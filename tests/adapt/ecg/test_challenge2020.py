"""CPSC 2018, Georgia and Chapman-Shaoxing adapters on Challenge-layout fixtures (real ECG)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.errors import RecordError
from climb.record import META_WHITELIST
from tests.fixtures import chapman_shaoxing, cpsc2018, georgia
from tests.fixtures._challenge import LEADS, write_record

# climb7 order: NORM, CD, HYP, MI, STTC, AFIB-AFL, Other — derived by hand from the Dx codes
EXPECTED = {
    "cpsc2018": {
        "A0001": [0, 1, 0, 0, 0, 0, 0],  # RBBB
        "A0002": [1, 0, 0, 0, 0, 0, 0],  # sinus rhythm
        "A0003": [0, 1, 0, 0, 0, 1, 0],  # AF + RBBB
        "A0004": [0, 0, 0, 0, 1, 0, 0],  # ST depression
        "A0005": [0, 0, 0, 0, 0, 0, 1],  # ventricular ectopics
        "A0006": [0, 1, 0, 0, 1, 0, 0],  # IAVB + ST elevation
    },
    "georgia": {
        "E00001": [1, 0, 0, 0, 1, 0, 0],  # T wave abnormal + sinus rhythm
        "E00002": [0, 0, 0, 0, 0, 0, 1],  # sinus tachycardia
        "E00003": [0, 0, 1, 1, 0, 0, 0],  # MI + LVH
        "E00004": [0, 1, 0, 0, 0, 0, 1],  # LAnFB + left axis deviation
    },
    "chapman_shaoxing": {
        "JS00001": [0, 0, 0, 0, 1, 0, 1],  # sinus bradycardia + T wave abnormal
        "JS00002": [0, 0, 0, 0, 0, 1, 0],  # atrial flutter
        "JS00003": [1, 0, 1, 0, 0, 0, 0],  # LV high voltage + sinus rhythm
        "JS00004": [0, 0, 0, 0, 0, 0, 1],  # supraventricular tachycardia
    },
}
FIXTURES = {"cpsc2018": cpsc2018, "georgia": georgia, "chapman_shaoxing": chapman_shaoxing}
FOLDERS = {
    "cpsc2018": "WFDB_CPSC2018",
    "georgia": "WFDB_Ga",
    "chapman_shaoxing": "WFDB_ChapmanShaoxing",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("challenge")
    return {name: module.build(root) for name, module in FIXTURES.items()}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_labels_patients_and_split(built, name):
    assert has_adapter(load_catalog().get(name))
    records = {r.sample_id: r for r in get_adapter(name).records(built[name])}
    assert sorted(records) == sorted(EXPECTED[name])
    for sid, climb7 in EXPECTED[name].items():
        rec = records[sid]
        np.testing.assert_array_equal(rec.labels["climb7"], climb7)
        assert rec.patient_id == sid and rec.split is None and rec.modality == "ecg"
        assert set(rec.meta) <= META_WHITELIST


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_signal_is_the_mat_file(built, name):
    adapter = get_adapter(name)
    item = adapter.items(built[name])[0]
    rec = next(iter(adapter.load(built[name], item)))
    mat = scipy.io.loadmat(built[name] / FOLDERS[name] / f"{item.key}.mat")["val"]
    ecg = rec.inputs["ecg"]
    assert ecg.shape == (12, 5000) and ecg.sampling_rate == 500.0 and ecg.channels == LEADS
    np.testing.assert_allclose(ecg.data, mat[:, :5000] / 1000.0, atol=1e-6)


def test_cpsc_demographics_and_short_record(built):
    records = {r.sample_id: r for r in get_adapter("cpsc2018").records(built["cpsc2018"])}
    assert records["A0001"].meta["age_bucket"] == "70-79" and records["A0001"].meta["sex"] == "male"
    assert records["A0005"].meta["age_bucket"] == "90+"
    assert records["A0004"].meta["age_bucket"] is None and records["A0004"].meta["sex"] is None
    short = records["A0004"]  # 8 s: zero-padded to the 10-s window, and reported
    assert short.meta["quality"]["padded_s"] == 2.0 and not short.inputs["ecg"].data[:, 4000:].any()
    assert "2020" not in repr([r.meta for r in records.values()])  # header date never copied


def test_all_windows_config(built):
    adapter = get_adapter("cpsc2018", config={"windows": "all"})
    item = next(i for i in adapter.items(built["cpsc2018"]) if i.key == "A0005")  # 30 s
    recs = list(adapter.load(built["cpsc2018"], item))
    assert [r.sample_id for r in recs] == ["A0005", "A0005-w10", "A0005-w20"]
    assert {r.patient_id for r in recs} == {"A0005"}


def _bad_copy(built: Path, tmp: Path) -> Path:
    dst = tmp / "cpsc2018"
    shutil.copytree(built, dst)
    return dst / "WFDB_CPSC2018"


def test_bad_records_are_record_errors(built, tmp_path):
    folder = _bad_copy(built["cpsc2018"], tmp_path)
    data = scipy.io.loadmat(folder / "A0002.mat")["val"] / 1000.0
    write_record(folder, "A0101", data, "999999999", "50", "Male")  # code not in the table
    write_record(folder, "A0102", data[:11], "59118001", "50", "Male", leads=LEADS[:11])
    write_record(folder, "A0103", data * np.nan, "59118001", "50", "Male")  # all samples NaN
    mat = folder / "A0001.mat"
    mat.write_bytes(mat.read_bytes()[:5000])  # truncated signal file
    raw = folder.parent
    adapter = get_adapter("cpsc2018")
    items = {i.key: i for i in adapter.items(raw)}
    problems = {}
    for key in ("A0001", "A0101", "A0102", "A0103"):
        with pytest.raises(RecordError) as err:
            list(adapter.load(raw, items[key]))
        problems[key] = (err.value.path, err.value.problem)
    assert problems["A0001"][0].endswith("A0001.mat") and "truncated" in problems["A0001"][1]
    assert problems["A0101"][0].endswith("A0101.hea") and "'999999999'" in problems["A0101"][1]
    assert "missing or all-NaN leads ['V6']" in problems["A0102"][1]
    assert problems["A0103"][0].endswith("A0103.hea")
    assert "NaN" in problems["A0103"][1]
    assert len(list(adapter.load(raw, items["A0002"]))) == 1  # the rest still loads
