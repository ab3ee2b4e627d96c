"""MIMIC-IV EHR adapter on the official-layout fixture (gzipped hosp/icu module CSVs)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.adapt.ehr.mimic_iv import icd_chapter, top_icd_codes
from climb.catalog import load_catalog
from climb.errors import RecordError
from climb.record import META_WHITELIST
from climb.store.prepare import prepare
from tests.fixtures import mimic_iv as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("mimic_iv"))


@pytest.fixture(scope="module")
def adapter_and_records(raw, tmp_path_factory):
    cache = tmp_path_factory.mktemp("mimic_cache")
    adapter = get_adapter("mimic_iv", {"cache_dir": str(cache)})
    items = adapter.items(raw)
    records = {r.sample_id: r for item in items for r in adapter.load(raw, item)}
    return adapter, items, records


def _tables(raw: Path) -> dict[str, pd.DataFrame]:
    hosp = raw / fixture.FOLDER / "hosp"
    return {
        "adm": pd.read_csv(hosp / "admissions.csv.gz", parse_dates=["admittime", "dischtime"]),
        "labs": pd.read_csv(hosp / "labevents.csv.gz", parse_dates=["charttime"]),
    }


def test_catalog_names_the_adapter():
    assert has_adapter(load_catalog().get("mimic_iv"))


def test_one_record_per_admission_with_patient_ids(adapter_and_records, raw):
    _, _, records = adapter_and_records
    adm = _tables(raw)["adm"]
    assert sorted(records) == sorted(str(h) for h in adm["hadm_id"])
    for row in adm.itertuples():
        assert records[str(row.hadm_id)].patient_id == str(row.subject_id)


def test_mortality_label_matches_pandas(adapter_and_records, raw):
    """Eligible: stay >= 48 h; label: expire flag or deathtime (computed here with pandas)."""
    _, _, records = adapter_and_records
    adm = _tables(raw)["adm"]
    stay_h = (adm["dischtime"] - adm["admittime"]).dt.total_seconds() / 3600
    died = (adm["hospital_expire_flag"] == 1) | adm["deathtime"].notna()
    expected = np.where(stay_h >= 48, died.astype(int), -1)
    got = [records[str(h)].labels["mortality_48h"] for h in adm["hadm_id"]]
    assert got == expected.tolist()
    assert records["20003"].labels["mortality_48h"] == -1  # 23-h stay: excluded
    assert records["20004"].labels["mortality_48h"] == 1  # died at 72 h
    los = (stay_h / 24).tolist()
    for hadm, days in zip(adm["hadm_id"], los, strict=True):
        assert records[str(hadm)].labels["length_of_stay"] == pytest.approx(days)


def test_lab_aggregate_matches_pandas(adapter_and_records, raw):
    """Creatinine (50912) last/mean/count in [admittime, +48 h), matched by subject and window
    (ED rows without hadm_id count; rows filed under another admission do not)."""
    adapter, _, records = adapter_and_records
    tables = _tables(raw)
    adm, labs = tables["adm"], tables["labs"]
    channels = adapter.channels()
    for row in adm.itertuples():
        sel = labs[
            (labs["subject_id"] == row.subject_id)
            & (labs["hadm_id"].isna() | (labs["hadm_id"] == row.hadm_id))
            & (labs["itemid"] == 50912)
            & labs["valuenum"].notna()
            & (labs["charttime"] >= row.admittime)
            & (labs["charttime"] < row.admittime + pd.Timedelta(hours=48))
        ].sort_values("charttime")
        vector = records[str(row.hadm_id)].inputs["ehr"].data
        got = {s: vector[channels.index(f"lab:50912:{s}")] for s in ("last", "mean", "count")}
        assert got["count"] == len(sel)
        if len(sel):
            assert got["last"] == pytest.approx(sel["valuenum"].iloc[-1], rel=1e-6)
            assert got["mean"] == pytest.approx(sel["valuenum"].mean(), rel=1e-6)
        else:
            assert math.isnan(got["last"]) and math.isnan(got["mean"])
    # 20001: the pre-admission (3.5) and 60-h (2.9) values are out, the ED value (1.1) is in
    assert records["20001"].inputs["ehr"].data[channels.index("lab:50912:count")] == 3


def test_vitals_and_empty_admission(adapter_and_records):
    adapter, _, records = adapter_and_records
    channels = adapter.channels()
    hr = records["20004"].inputs["ehr"].data
    assert hr[channels.index("vital:220045:count")] == 2  # the 51-h value is out
    assert hr[channels.index("vital:220045:last")] == 118.0
    empty = records["20005"].inputs["ehr"]
    assert empty.data.dtype == np.float32 and empty.data.shape == (len(channels),)
    counts = [v for c, v in zip(channels, empty.data, strict=True) if c.endswith(":count")]
    assert all(c == 0 for c in counts)
    assert np.isnan([v for c, v in zip(channels, empty.data, strict=True)
                     if not c.endswith(":count")]).all()  # fmt: skip


def test_demographics_split_and_no_phi(adapter_and_records):
    _, _, records = adapter_and_records
    assert records["20001"].meta["age_bucket"] == "50-59"  # 52 in 2150
    assert records["20002"].meta["age_bucket"] == "50-59"  # 52 + 3 years
    assert records["20003"].meta["age_bucket"] == "90+"  # anchor_age 91 (> 89)
    assert records["20001"].meta["sex"] == "female"
    assert records["20001"].split == records["20002"].split  # one patient, one split
    for record in records.values():
        assert set(record.meta) <= META_WHITELIST
        text = repr(record.meta)
        assert "2150" not in text and "10001" not in text


def test_icd_chapters(adapter_and_records):
    adapter, _, records = adapter_and_records
    classes = adapter.task_classes()["icd_diagnoses"]
    positives = {
        h: sorted(classes[i] for i in np.flatnonzero(r.labels["icd_diagnoses"] == 1))
        for h, r in records.items()
    }
    assert positives["20004"] == ["A00-B99", "N00-N99", "R00-R99"]
    assert positives["20005"] == ["I00-I99", "Z00-Z99"]  # ICD-9 4019 and V5861
    assert icd_chapter("D649", 10) == "D50-D89" and icd_chapter("D051", 10) == "C00-D49"
    assert icd_chapter("H6690", 10) == "H60-H95" and icd_chapter("E8497", 9) == "V00-Y99"
    assert icd_chapter("2791", 9) == "D50-D89" and icd_chapter("25000", 9) == "E00-E89"


def test_top_codes_from_training_split_only(adapter_and_records):
    adapter, items, _ = adapter_and_records
    codes = {20001: [("I10", 10)], 20002: [("I10", 10), ("N179", 10)], 20003: [("4019", 9)]}
    assert top_icd_codes(codes, [20001, 20002], 5) == ["ICD10:I10", "ICD10:N179"]
    assert top_icd_codes(codes, [20001, 20002], 1) == ["ICD10:I10"]
    test_hadm = {int(i.key) for i in items if i.info["split"] != "train"}
    assert test_hadm == {20005}  # the ICD-9-coded patient is outside train with seed 0
    assert "ICD9:4019" not in adapter.top_codes and adapter.top_codes[0] == "ICD10:I10"


def test_missing_table_is_a_record_error(raw, tmp_path):
    copy = shutil.copytree(raw, tmp_path / "raw")
    (copy / fixture.FOLDER / "hosp" / "labevents.csv.gz").unlink()
    adapter = get_adapter("mimic_iv", {"cache_dir": str(tmp_path / "cache")})
    with pytest.raises(RecordError, match=r"labevents\.csv\.gz"):
        adapter.items(copy)


def test_corrupt_table_is_a_record_error_without_values(raw, tmp_path):
    copy = shutil.copytree(raw, tmp_path / "raw")
    path = copy / fixture.FOLDER / "hosp" / "labevents.csv.gz"
    path.write_bytes(path.read_bytes()[:40])  # truncated gzip
    adapter = get_adapter("mimic_iv", {"cache_dir": str(tmp_path / "cache")})
    with pytest.raises(RecordError, match=r"labevents\.csv\.gz") as err:
        adapter.items(copy)
    assert "50912" not in str(err.value)


def test_prepare_store(raw, tmp_path):
    manifest = prepare(
        "mimic_iv", raw, tmp_path / "store", workers=1, progress=False,
        config={"cache_dir": str(tmp_path / "cache")},
    )  # fmt: skip
    counts = manifest["counts"]
    assert sum(counts[s]["samples"] for s in ("train", "val", "test")) == 6
    assert counts["train"]["labels"]["mortality_48h"] == {"survived": 3, "died": 1, "missing": 1}
    assert not manifest["quarantined"]
