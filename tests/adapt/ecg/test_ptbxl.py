"""PTB-XL adapter on the official-layout fixture (real PTB s0010_re signals)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.errors import RecordError
from climb.record import META_WHITELIST
from tests.fixtures import ptbxl as fixture

N = math.nan
# ecg_id -> (superclass over NORM, MI, STTC, CD, HYP; climb7 over NORM, CD, HYP, MI, STTC,
# AFIB-AFL, Other), derived by hand from the fixture's scp_codes and the mapping rules
EXPECTED = {
    "00001": ([1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 1]),  # NORM, LVOLT (Other), SR (dropped)
    "00002": ([1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 1]),  # NORM, SBRAD
    "00003": ([1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0]),  # NORM, SR
    "00004": ([0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0, 1]),  # IMI, ABQRS
    "00005": ([0, 0, 0, 0, 1], [0, 0, 1, 0, 0, 1, 0]),  # AFIB, LVH
    "00006": ([0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 0, 1]),  # NDT, PVC
    "00007": ([0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 1, 0]),  # CLBBB, AFLT
    "00008": ([N, N, N, N, N], [0, 0, 0, 0, 0, 0, 1]),  # STACH only: no diagnostic statement
    "00009": ([0, 1, 0, 1, 0], [0, 1, 0, 1, 1, 0, 0]),  # ASMI, IRBBB, STD_
    "00010": ([0, 0, 1, 1, 0], [0, 1, 0, 0, 1, 0, 0]),  # 1AVB, LAFB, ISC_
}


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("ptbxl"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("ptbxl").records(raw)}


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("ptbxl"))


def test_labels(records):
    assert sorted(records) == sorted(EXPECTED)
    for sid, (superclass, climb7) in EXPECTED.items():
        np.testing.assert_array_equal(records[sid].labels["superclass"], superclass)
        np.testing.assert_array_equal(records[sid].labels["climb7"], climb7)


def test_splits_and_patients(raw, records):
    db = pd.read_csv(raw / fixture.FOLDER / "ptbxl_database.csv")
    for row in db.itertuples():
        rec = records[f"{row.ecg_id:05d}"]
        expected = {9: "val", 10: "test"}.get(row.strat_fold, "train")
        assert rec.split == expected and rec.patient_id == str(int(row.patient_id))
    assert records["00002"].patient_id == records["00003"].patient_id == "13243"
    by_patient: dict[str, set] = {}
    for rec in records.values():
        by_patient.setdefault(rec.patient_id, set()).add(rec.split)
    assert all(len(s) == 1 for s in by_patient.values())
    assert {r.split for r in records.values()} == {"train", "val", "test"}


def test_signals_match_the_files(raw, records):
    for sid in ("00001", "00007"):
        rec = records[sid]
        ecg = rec.inputs["ecg"]
        assert ecg.shape == (12, 5000) and ecg.sampling_rate == 500.0 and ecg.dtype == "float32"
        assert ecg.channels[3] == "aVR" and ecg.units == "mV"
        path = raw / fixture.FOLDER / "records500" / "00000" / f"{sid}_hr"
        ref = wfdb.rdrecord(str(path)).p_signal.T
        np.testing.assert_allclose(ecg.data, ref, atol=1e-6)


def test_meta_is_whitelisted_and_deidentified(records):
    rec = records["00005"]
    assert set(rec.meta) <= META_WHITELIST
    assert rec.meta["age_bucket"] == "90+" and rec.meta["sex"] == "female"
    assert rec.meta["source_file"].endswith("records500/00000/00005_hr")
    text = repr([r.meta for r in records.values()])
    assert "1985-11" not in text and "sinusrhythmus" not in text and "'age'" not in text


def test_records100_config(raw):
    adapter = get_adapter("ptbxl", config={"records": "records100", "fs": 100.0})
    rec = next(iter(adapter.load(raw, adapter.items(raw)[0])))
    assert rec.inputs["ecg"].shape == (12, 1000) and rec.meta["fs_native"] == 100.0
    up = get_adapter("ptbxl", config={"records": "records100"})
    rec = next(iter(up.load(raw, up.items(raw)[0])))
    assert rec.inputs["ecg"].shape == (12, 5000) and rec.meta["fs_native"] == 100.0


def _copy(raw: Path, tmp: Path) -> Path:
    dst = tmp / "ptbxl"
    shutil.copytree(raw, dst)
    return dst


def test_truncated_record_is_a_record_error(raw, tmp_path):
    dst = _copy(raw, tmp_path)
    dat = dst / fixture.FOLDER / "records500" / "00000" / "00004_hr.dat"
    dat.write_bytes(dat.read_bytes()[:1000])
    adapter = get_adapter("ptbxl")
    items = {i.key: i for i in adapter.items(dst)}
    with pytest.raises(RecordError) as err:
        list(adapter.load(dst, items["00004"]))
    assert err.value.path.endswith("00004_hr.dat") and "truncated" in err.value.problem
    assert len(list(adapter.load(dst, items["00003"]))) == 1  # the others still load


def test_unmapped_code_and_missing_lead(raw, tmp_path):
    dst = _copy(raw, tmp_path)
    base = dst / fixture.FOLDER
    db = pd.read_csv(base / "ptbxl_database.csv")
    db.loc[0, "scp_codes"] = "{'NORM': 100.0, 'XYZ': 0.0}"
    db.to_csv(base / "ptbxl_database.csv", index=False)
    rec2 = wfdb.rdrecord(str(base / "records500" / "00000" / "00002_hr"))
    wfdb.wrsamp(
        "00002_hr", fs=500, units=["mV"] * 11, sig_name=rec2.sig_name[:11],
        p_signal=rec2.p_signal[:, :11], fmt=["16"] * 11, adc_gain=[1000.0] * 11,
        baseline=[0] * 11, write_dir=str(base / "records500" / "00000"),
    )  # fmt: skip
    adapter = get_adapter("ptbxl")
    items = {i.key: i for i in adapter.items(dst)}
    with pytest.raises(RecordError, match="'XYZ' has no entry") as err:
        list(adapter.load(dst, items["00001"]))
    assert err.value.path.endswith("00001_hr.hea")
    with pytest.raises(RecordError, match=r"missing or all-NaN leads \['V6'\]") as err:
        list(adapter.load(dst, items["00002"]))
    assert err.value.path.endswith("00002_hr.hea")
