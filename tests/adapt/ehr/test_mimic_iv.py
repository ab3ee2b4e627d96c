"""MIMIC-IV EHR adapter on the official-layout fixture (gzipped hosp/icu module CSVs)."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.adapt.ehr.mimic_iv import icd_chapter, top_icd_codes
from climb.adapt.imaging import decode_image
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
    adapter = get_adapter("mimic_iv", {"work_dir": str(cache)})
    items = adapter.items(raw)
    records = {r.sample_id: r for item in items for r in adapter.load(raw, item)}
    return adapter, items, records


def _tables(raw: Path) -> dict[str, pd.DataFrame]:
    hosp = raw / fixture.FOLDER / "hosp"
    return {
        "adm": pd.read_csv(hosp / "admissions.csv.gz",
                           parse_dates=["admittime", "dischtime", "deathtime"]),
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
    """Eligible: stay >= 48 h and no deathtime before 48 h; label: expire flag or deathtime
    (computed here with pandas from the raw table)."""
    _, _, records = adapter_and_records
    adm = _tables(raw)["adm"]
    stay_h = (adm["dischtime"] - adm["admittime"]).dt.total_seconds() / 3600
    death_h = (adm["deathtime"] - adm["admittime"]).dt.total_seconds() / 3600
    died = (adm["hospital_expire_flag"] == 1) | adm["deathtime"].notna()
    eligible = (stay_h >= 48) & ~(death_h < 48)
    expected = np.where(eligible, died.astype(int), -1)
    got = [records[str(h)].labels["mortality_48h"] for h in adm["hadm_id"]]
    assert got == expected.tolist()
    assert records["20003"].labels["mortality_48h"] == -1  # 23-h stay: excluded
    assert records["20004"].labels["mortality_48h"] == 1  # died at 72 h
    assert records["20007"].labels["mortality_48h"] == -1  # 72-h stay, but died at 20 h
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


def test_top_codes_from_training_split_only(adapter_and_records, raw):
    """The icd_codes label space: the most frequent codes of the training admissions, counted
    here with pandas from diagnoses_icd and the adapter's patient split; test-only codes
    (ICD10:I214, the ICD-9 codes) never become classes."""
    adapter, items, records = adapter_and_records
    split = {int(i.key): i.info["split"] for i in items}
    diag = pd.read_csv(raw / fixture.FOLDER / "hosp" / "diagnoses_icd.csv.gz")
    diag["code"] = [f"ICD{v}:{c.replace('.', '').upper()}"
                    for c, v in zip(diag["icd_code"], diag["icd_version"], strict=True)]
    train = diag[diag["hadm_id"].map(split) == "train"].drop_duplicates(["hadm_id", "code"])
    counts = train["code"].value_counts()
    expected = sorted(counts.index, key=lambda c: (-counts[c], c))
    assert adapter.top_codes == expected[:50]
    assert adapter.task_classes()["icd_codes"] == adapter.top_codes
    assert adapter.top_codes[:2] == ["ICD10:I10", "ICD10:N179"]
    assert "ICD10:I214" not in adapter.top_codes and "ICD9:4019" not in adapter.top_codes
    assert {h for h, s in split.items() if s != "train"} == {20005, 20007}
    for hadm, record in records.items():
        own = set(diag.loc[diag["hadm_id"] == int(hadm), "code"])
        vector = record.labels["icd_codes"]
        assert vector.shape == (len(adapter.top_codes),)
        assert {c for c, v in zip(adapter.top_codes, vector, strict=True) if v == 1} == (
            own & set(adapter.top_codes))
    assert records["20007"].labels["icd_codes"].tolist() == [
        1.0 if c == "ICD10:I10" else 0.0 for c in adapter.top_codes]  # I21.4 is no class


def test_top_k_from_config_and_ties(raw, tmp_path):
    adapter = get_adapter("mimic_iv", {"work_dir": str(tmp_path), "icd_top_k": 3})
    items = adapter.items(raw)
    # counts among train: I10 3, N179 2, then A419/J189/R6521 once each: the tie goes by code
    assert adapter.top_codes == ["ICD10:I10", "ICD10:N179", "ICD10:A419"]
    record = next(iter(adapter.load(raw, next(i for i in items if i.key == "20004"))))
    assert record.labels["icd_codes"].tolist() == [0.0, 1.0, 1.0]
    codes = {20001: [("I10", 10)], 20002: [("I10", 10), ("N17.9", 10)], 20003: [("4019", 9)]}
    assert top_icd_codes(codes, [20001, 20002], 5) == ["ICD10:I10", "ICD10:N179"]
    assert top_icd_codes(codes, [20001, 20002], 1) == ["ICD10:I10"]


def test_missing_table_is_a_record_error(raw, tmp_path):
    copy = shutil.copytree(raw, tmp_path / "raw")
    (copy / fixture.FOLDER / "hosp" / "labevents.csv.gz").unlink()
    adapter = get_adapter("mimic_iv", {"work_dir": str(tmp_path / "cache")})
    with pytest.raises(RecordError, match=r"labevents\.csv\.gz"):
        adapter.items(copy)


def test_corrupt_table_is_a_record_error_without_values(raw, tmp_path):
    copy = shutil.copytree(raw, tmp_path / "raw")
    path = copy / fixture.FOLDER / "hosp" / "labevents.csv.gz"
    path.write_bytes(path.read_bytes()[:40])  # truncated gzip
    adapter = get_adapter("mimic_iv", {"work_dir": str(tmp_path / "cache")})
    with pytest.raises(RecordError, match=r"labevents\.csv\.gz") as err:
        adapter.items(copy)
    assert "50912" not in str(err.value)


def test_prepare_store(raw, tmp_path):
    """prepare: the work cache goes to <store>/.work/mimic_iv (outside the dataset folder, not
    in the config), the manifest's icd_codes classes are the training top codes."""
    store = tmp_path / "store"
    manifest = prepare("mimic_iv", raw, store, workers=1, progress=False)
    counts = manifest["counts"]
    assert sum(counts[s]["samples"] for s in ("train", "val", "test")) == 7
    assert counts["train"]["labels"]["mortality_48h"] == {"survived": 3, "died": 1, "missing": 1}
    assert not manifest["quarantined"]
    tasks = {t["name"]: t for t in manifest["tasks"]}
    assert tasks["icd_codes"]["classes"] == [
        "ICD10:I10", "ICD10:N179", "ICD10:A419", "ICD10:J189", "ICD10:R6521"]
    assert "work_dir" not in manifest["config"]["adapter"]
    caches = list((store / ".work" / "mimic_iv").glob("*/admissions.parquet"))
    assert len(caches) == 1
    stamp = caches[0].stat().st_mtime_ns
    shutil.rmtree(store / "mimic_iv")
    prepare("mimic_iv", raw, store, workers=1, progress=False)
    assert caches[0].stat().st_mtime_ns == stamp  # the rerun reused the cache


# -- linkage to MIMIC-CXR-JPG and MIMIC-IV-ECG ------------------------------------------------


@pytest.fixture(scope="module")
def cxr_root(raw) -> Path:
    return fixture.build_cxr(raw.parent)


@pytest.fixture(scope="module")
def linked_records(raw, cxr_root, tmp_path_factory):
    """Records with both roots given: ids and attached pixels/signals."""
    config = {"work_dir": str(tmp_path_factory.mktemp("linked_work")),
              "cxr_root": str(cxr_root), "ecg_root": str(raw / fixture.ECG_FOLDER),
              "cxr_size": 64}  # fmt: skip
    adapter = get_adapter("mimic_iv", config)
    return adapter, {r.sample_id: r for r in adapter.records(raw)}


def _study_time(date: int, time: float) -> pd.Timestamp:
    """StudyDate YYYYMMDD + StudyTime HHMMSS.fff (a float: leading zeros dropped)."""
    hours, rest = divmod(float(time), 10000)
    minutes, seconds = divmod(rest, 100)
    return pd.Timestamp(str(date)) + pd.Timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _expected_links(raw: Path) -> dict[str, dict[str, list[str]]]:
    """Per admission, the CXR images and ECGs of the subject in [admittime, admittime + 48 h),
    computed here from the fixture's rows (independently of DuckDB's parsing)."""
    adm = _tables(raw)["adm"]
    out = {}
    for row in adm.itertuples():
        start, end = row.admittime, row.admittime + pd.Timedelta(hours=48)
        cxr = sorted(
            (_study_time(date, time), dicom, study)
            for subject, study, dicom, date, time, _ in fixture.CXR
            if subject == row.subject_id and start <= _study_time(date, time) < end
        )
        ecg = sorted(
            (pd.Timestamp(when), study)
            for subject, study, when, _ in fixture.ECGS
            if subject == row.subject_id and start <= pd.Timestamp(when) < end
        )
        out[str(row.hadm_id)] = {"cxr": [f"s{s}/{d}" for _, d, s in cxr],
                                 "ecg": [f"s{s}" for _, s in ecg]}
    return out


def test_linkage_by_subject_and_window_matches_times_computed_here(linked_records, raw):
    _, records = linked_records
    expected = _expected_links(raw)
    for hadm, record in records.items():
        assert record.meta["linked"] == expected[hadm], hadm
    # edges: 48 h exactly is out, 47:59:59.999 is in, admittime itself is in, 1 s before is out
    assert records["20001"].meta["linked"]["cxr"] == [
        "s50000001/0a1b2c3d-00000001-pa", "s50000001/0a1b2c3d-00000002-lat",
        "s50000002/0a1b2c3d-00000003-ap"]
    assert records["20004"].meta["linked"] == {
        "cxr": ["s50000006/0a1b2c3d-00000007-ap"], "ecg": ["s40000004", "s40000005"]}
    assert records["20006"].meta["linked"] == {"cxr": [], "ecg": []}


def test_attached_cxr_is_the_last_frontal_image_of_the_window(linked_records, cxr_root):
    _, records = linked_records
    config = {"size": 64, "fit": "crop", "mode": "L"}
    expected = {  # 20001: the AP of 23 h (after the PA/LAT study); 20002: only a lateral
        "20001": "files/p10/p10001/s50000002/0a1b2c3d-00000003-ap.jpg",
        "20002": "files/p10/p10001/s50000005/0a1b2c3d-00000006-ll.jpg",
        "20004": "files/p10/p10003/s50000006/0a1b2c3d-00000007-ap.jpg",
    }
    for hadm, rel in expected.items():
        want = decode_image(cxr_root / rel, rel, config).data
        got = records[hadm].inputs["cxr"].data
        assert got.dtype == np.uint8 and got.shape == want.shape == (64, 64)
        np.testing.assert_array_equal(got, want)
    others = {h for h, r in records.items() if "cxr" in r.inputs}
    assert others == set(expected)  # no image in the window: no cxr input (masked)


def test_attached_ecg_is_the_last_ecg_of_the_window(linked_records):
    _, records = linked_records
    ecg = records["20004"].inputs["ecg"]
    assert ecg.data.shape == (12, 5000) and ecg.sampling_rate == 500.0
    lead_ii = ecg.data[ecg.channels.index("II")]
    # the piece written for study 40000005 (offset 14400), resampled 360 -> 500 Hz here
    piece = fixture.ecg_piece(14400)[:, 0]
    t_src = np.arange(len(piece)) / fixture.ECG_FS
    resampled = np.interp(np.arange(5000) / 500.0, t_src, piece)
    assert np.corrcoef(lead_ii[50:-50], resampled[50:-50])[0, 1] > 0.99
    assert not ecg.data[ecg.channels.index("V1")].any()  # absent lead: zero-filled
    assert {h for h, r in records.items() if "ecg" in r.inputs} == {"20001", "20003", "20004",
                                                                   "20007"}


def test_ids_only_without_roots(adapter_and_records, raw):
    """Without cxr_root/ecg_root: the ECG table the catalog downloads beside MIMIC-IV is found
    and its ids listed, no signal is attached, and CXR (no table under the raw root) is absent."""
    _, _, records = adapter_and_records
    expected = _expected_links(raw)
    for hadm, record in records.items():
        assert record.meta["linked"] == {"ecg": expected[hadm]["ecg"]}
        assert set(record.inputs) == {"ehr"}


def test_link_window_config(raw, cxr_root, tmp_path):
    adapter = get_adapter("mimic_iv", {"work_dir": str(tmp_path), "link_window_h": 24.0,
                                       "cxr_root": str(cxr_root)})
    records = {r.sample_id: r for r in adapter.records(raw)}
    assert records["20001"].meta["linked"]["cxr"] == [
        "s50000001/0a1b2c3d-00000001-pa", "s50000001/0a1b2c3d-00000002-lat",
        "s50000002/0a1b2c3d-00000003-ap"]  # 2 h and 23 h
    assert records["20004"].meta["linked"]["cxr"] == []  # 47:59:59.999 > 24 h


def test_missing_linked_file_is_a_record_error(raw, cxr_root, tmp_path):
    cxr = shutil.copytree(cxr_root, tmp_path / "cxr")
    (cxr / "files/p10/p10003/s50000006/0a1b2c3d-00000007-ap.jpg").unlink()
    adapter = get_adapter("mimic_iv", {"work_dir": str(tmp_path / "w"), "cxr_root": str(cxr)})
    item = next(i for i in adapter.items(raw) if i.key == "20004")
    with pytest.raises(RecordError, match=r"0a1b2c3d-00000007-ap\.jpg"):
        list(adapter.load(raw, item))
    with pytest.raises(RecordError, match="ecg_root"):
        get_adapter("mimic_iv", {"work_dir": str(tmp_path / "w"),
                                 "ecg_root": str(tmp_path / "nowhere")}).items(raw)


# -- the work cache ---------------------------------------------------------------------------


def test_work_cache_is_reused_and_keyed_on_file_fingerprints(raw, tmp_path):
    copy = shutil.copytree(raw, tmp_path / "raw")
    adapter = get_adapter("mimic_iv", {"work_dir": str(tmp_path / "work")})
    adapter.items(copy)
    cache = adapter.cache_path(copy)
    stamp = cache.stat().st_mtime_ns
    again = get_adapter("mimic_iv", {"work_dir": str(tmp_path / "work")})
    again.items(copy)
    assert again.cache_path(copy) == cache and cache.stat().st_mtime_ns == stamp  # reused
    labs = copy / fixture.FOLDER / "hosp" / "labevents.csv.gz"
    os.utime(labs, ns=(labs.stat().st_atime_ns, labs.stat().st_mtime_ns + 10**9))
    assert again.cache_path(copy) != cache  # a changed table: a new fingerprint, rebuilt
    assert len(again.items(copy)) == 7 and again.cache_path(copy).exists()


def test_load_reads_one_row_group(raw, tmp_path):
    """The cache rewritten in row groups of 2 admissions (DuckDB writes >= 2,048): every record
    loads from its own group and matches the records streamed with iter_batches."""
    adapter = get_adapter("mimic_iv", {"work_dir": str(tmp_path)})
    items = adapter.items(raw)
    streamed = {r.sample_id: r for r in adapter.records(raw)}
    cache = adapter.cache_path(raw)
    pq.write_table(pq.read_table(cache), cache, row_group_size=2)
    assert pq.ParquetFile(cache).metadata.num_row_groups == 4
    for item in reversed(items):
        (record,) = adapter.load(raw, item)
        np.testing.assert_array_equal(record.inputs["ehr"].data,
                                      streamed[item.key].inputs["ehr"].data)
        assert record.labels["mortality_48h"] == streamed[item.key].labels["mortality_48h"]
