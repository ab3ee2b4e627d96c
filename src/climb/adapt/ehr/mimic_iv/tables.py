"""The one out-of-core pass: MIMIC-IV module CSVs (+ the CXR/ECG linkage tables) -> one
per-admission Parquet file, built inside DuckDB.

Nothing here holds an event table, or a per-admission result, in Python: every step is a
DuckDB statement over ``read_csv`` (which streams the gzip), run under ``memory_limit`` with a
``temp_directory`` to spill to, in a file-backed working database beside the output; the last
statement ``COPY``s the joined, pivoted result, sorted by hadm_id, to Parquet in small row
groups (:data:`ROW_GROUP_ROWS`) that the adapter then reads a batch at a time.

Output columns (one row per admission, every admission of admissions.csv.gz):
``hadm_id, subject_id, stay_h, died, died_in_window, age, gender, codes`` (list of
``ICD<v>:<code>``, NULL without diagnoses), ``cxr`` (list of {study_id, dicom_id, view}, in
time order, NULL when none), ``ecg`` (list of {study_id, path}), then the ``lab:<itemid>:<stat>``
and ``vital:<itemid>:<stat>`` feature columns (DOUBLE; count 0 and NaN where never measured).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from climb.adapt.ehr.mimic_iv.icd import CODE_SQL
from climb.errors import RecordError

PATIENTS = "hosp/patients.csv.gz"
ADMISSIONS = "hosp/admissions.csv.gz"
LABEVENTS = "hosp/labevents.csv.gz"
DIAGNOSES = "hosp/diagnoses_icd.csv.gz"
CHARTEVENTS = "icu/chartevents.csv.gz"
REQUIRED = (PATIENTS, ADMISSIONS, LABEVENTS, DIAGNOSES)
STATS = ("last", "mean", "count")
ROW_GROUP_ROWS = 2048  # admissions per Parquet row group: the unit load() reads


@dataclass(frozen=True)
class BuildSpec:
    """What the pass reads and how: tables, items, windows, DuckDB limits."""

    root: Path
    lab_items: Sequence[int]
    vital_items: Sequence[int]
    window_h: float
    link_window_h: float
    cxr_table: Path | None
    ecg_table: Path | None
    memory_limit: str
    threads: int


def feature_columns(lab_items: Sequence[int], vital_items: Sequence[int]) -> list[str]:
    """``lab:<itemid>:<stat>`` then ``vital:<itemid>:<stat>`` names, in config order."""
    out = []
    for kind, items in (("lab", lab_items), ("vital", vital_items)):
        for itemid in items:
            out.extend(f"{kind}:{int(itemid)}:{stat}" for stat in STATS)
    return out


def _quote(path: Path | str) -> str:
    return str(path).replace("'", "''")


def _csv(path: Path, types: dict[str, str]) -> str:
    """A DuckDB ``read_csv`` expression over one (gzipped) table, typed columns."""
    spec = ", ".join(f"'{k}': '{v}'" for k, v in types.items())
    return f"read_csv('{_quote(path)}', header=true, types={{{spec}}})"


def _interval(hours: float) -> str:
    return f"to_microseconds(CAST({float(hours)} * 3600e6 AS BIGINT))"


def _run(con: duckdb.DuckDBPyConnection, sql: str, path: Path, what: str) -> None:
    """Execute; a DuckDB error is a RecordError naming the table (DuckDB's text may quote
    values, so it is dropped)."""
    try:
        con.execute(sql)
    except duckdb.Error as err:
        raise RecordError(path, f"could not read the {what} table ({type(err).__name__})") from None


def _events(con: duckdb.DuckDBPyConnection, name: str, path: Path, items: Sequence[int],
            by_subject: bool) -> None:
    """Temp table ``name``: (hadm_id, itemid, last, mean, n) of numeric values charted in each
    admission's window. ``by_subject`` matches on subject and time (a row with an empty hadm_id,
    e.g. an ED lab, counts; one filed under another admission does not; labevents), else on
    hadm_id (chartevents). ``last``: the value charted latest (ties: the larger value)."""
    if not items:
        con.execute(f"CREATE TABLE {name} (hadm_id BIGINT, itemid BIGINT, last DOUBLE, "
                    "mean DOUBLE, n BIGINT)")
        return
    source = _csv(path, {"subject_id": "BIGINT", "hadm_id": "BIGINT", "itemid": "BIGINT",
                         "charttime": "TIMESTAMP", "valuenum": "DOUBLE"})
    match = ("e.subject_id = a.subject_id AND (e.hadm_id IS NULL OR e.hadm_id = a.hadm_id)"
             if by_subject else "e.hadm_id = a.hadm_id")
    item_list = ", ".join(str(int(i)) for i in items)
    _run(con, f"""
        CREATE TABLE {name} AS
        SELECT a.hadm_id, e.itemid,
               arg_max(e.valuenum, (e.charttime, e.valuenum)) AS last,
               avg(e.valuenum) AS mean, count(*) AS n
        FROM (SELECT subject_id, hadm_id, itemid, charttime, valuenum FROM {source}
              WHERE itemid IN ({item_list}) AND valuenum IS NOT NULL AND NOT isnan(valuenum)
                AND charttime IS NOT NULL) e
        JOIN adm a ON {match}
        WHERE e.charttime >= a.admittime AND e.charttime < a.cutoff
        GROUP BY ALL""", path, "event")


def _pivot(kind: str, table: str, items: Sequence[int]) -> tuple[str, list[str]]:
    """(a per-admission wide SELECT over ``table``, the final column expressions)."""
    parts, finals = ["hadm_id"], []
    for itemid in items:
        i = int(itemid)
        for stat, col in (("last", "last"), ("mean", "mean"), ("count", "n")):
            name = f"{kind}:{i}:{stat}"
            parts.append(f'max({col}) FILTER (WHERE itemid = {i}) AS "{name}"')
            default = "0.0" if stat == "count" else "'NaN'::DOUBLE"
            finals.append(f'coalesce(CAST({kind}."{name}" AS DOUBLE), {default}) AS "{name}"')
    return f"SELECT {', '.join(parts)} FROM {table} GROUP BY hadm_id", finals


def build(spec: BuildSpec, out: Path, work: Path) -> None:
    """Run the pass and write ``out`` (Parquet, atomically); ``work`` holds DuckDB's database
    and spill files while it runs."""
    work.mkdir(parents=True, exist_ok=True)
    db = work / "build.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    try:
        con.execute(f"SET memory_limit = '{_quote(spec.memory_limit)}'")
        con.execute(f"SET threads = {int(spec.threads)}")
        con.execute(f"SET temp_directory = '{_quote(work / 'spill')}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # DuckDB prints it to stdout
        _build(con, spec, out)
    finally:
        con.close()
        db.unlink(missing_ok=True)
        Path(f"{db}.wal").unlink(missing_ok=True)


def _build(con: duckdb.DuckDBPyConnection, spec: BuildSpec, out: Path) -> None:
    root = spec.root
    adm = _csv(root / ADMISSIONS, {
        "subject_id": "BIGINT", "hadm_id": "BIGINT", "admittime": "TIMESTAMP",
        "dischtime": "TIMESTAMP", "deathtime": "TIMESTAMP", "hospital_expire_flag": "INTEGER"})
    _run(con, f"""
        CREATE TABLE adm AS
        SELECT subject_id, hadm_id, admittime, dischtime, deathtime, hospital_expire_flag,
               admittime + {_interval(spec.window_h)} AS cutoff,
               admittime + {_interval(spec.link_window_h)} AS link_cutoff
        FROM {adm} WHERE hadm_id IS NOT NULL AND admittime IS NOT NULL""",
         root / ADMISSIONS, "admissions")
    pat = _csv(root / PATIENTS, {"subject_id": "BIGINT", "gender": "VARCHAR",
                                 "anchor_age": "INTEGER", "anchor_year": "INTEGER"})
    _run(con, f"CREATE TABLE pat AS SELECT subject_id, any_value(gender) AS gender, "
              f"any_value(anchor_age) AS anchor_age, any_value(anchor_year) AS anchor_year "
              f"FROM {pat} GROUP BY subject_id", root / PATIENTS, "patients")
    _events(con, "labs", root / LABEVENTS, spec.lab_items, by_subject=True)
    has_charts = (root / CHARTEVENTS).exists()
    _events(con, "vitals", root / CHARTEVENTS, spec.vital_items if has_charts else [], False)
    diag = _csv(root / DIAGNOSES, {"hadm_id": "BIGINT", "icd_code": "VARCHAR",
                                   "icd_version": "INTEGER"})
    _run(con, f"""
        CREATE TABLE diag AS
        SELECT hadm_id, list(DISTINCT code ORDER BY code) AS codes
        FROM (SELECT hadm_id, {CODE_SQL} AS code FROM {diag}
              WHERE hadm_id IS NOT NULL AND icd_code IS NOT NULL AND trim(icd_code) <> '')
        GROUP BY hadm_id""", root / DIAGNOSES, "diagnoses")
    _link_cxr(con, spec.cxr_table)
    _link_ecg(con, spec.ecg_table)

    lab_sql, lab_cols = _pivot("lab", "labs", spec.lab_items)
    vital_sql, vital_cols = _pivot("vital", "vitals", spec.vital_items)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    con.execute(f"""
        COPY (
          SELECT a.hadm_id, a.subject_id,
                 epoch(a.dischtime - a.admittime) / 3600.0 AS stay_h,
                 coalesce(a.hospital_expire_flag, 0) = 1 OR a.deathtime IS NOT NULL AS died,
                 coalesce(a.deathtime < a.cutoff, false) AS died_in_window,
                 p.anchor_age + (year(a.admittime) - p.anchor_year) AS age, p.gender,
                 d.codes, c.cxr, g.ecg,
                 {", ".join([*lab_cols, *vital_cols]) or "NULL AS no_features"}
          FROM adm a
          LEFT JOIN pat p USING (subject_id)
          LEFT JOIN diag d USING (hadm_id)
          LEFT JOIN cxr_links c USING (hadm_id)
          LEFT JOIN ecg_links g USING (hadm_id)
          LEFT JOIN ({lab_sql}) lab USING (hadm_id)
          LEFT JOIN ({vital_sql}) vital USING (hadm_id)
          ORDER BY a.hadm_id
        ) TO '{_quote(tmp)}' (FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_ROWS},
                              COMPRESSION zstd)""")
    tmp.replace(out)


def _link_cxr(con: duckdb.DuckDBPyConnection, table: Path | None) -> None:
    """Temp table ``cxr_links``: per admission, the MIMIC-CXR-JPG images whose study time
    (StudyDate YYYYMMDD + StudyTime HHMMSS[.fff], leading zeros possibly dropped) lies in
    [admittime, admittime + link window), same subject, ordered by time then dicom_id."""
    if table is None:
        con.execute("CREATE TABLE cxr_links (hadm_id BIGINT, "
                    "cxr STRUCT(study_id BIGINT, dicom_id VARCHAR, view VARCHAR)[])")
        return
    source = _csv(table, {"dicom_id": "VARCHAR", "subject_id": "BIGINT", "study_id": "BIGINT",
                          "StudyDate": "VARCHAR", "StudyTime": "VARCHAR",
                          "ViewPosition": "VARCHAR"})
    _run(con, f"""
        CREATE TABLE cxr_links AS
        WITH img AS (
          SELECT subject_id, study_id, trim(dicom_id) AS dicom_id,
                 nullif(upper(trim(ViewPosition)), '') AS view,
                 try_strptime(trim(StudyDate) || lpad(split_part(trim(StudyTime), '.', 1), 6, '0'),
                              '%Y%m%d%H%M%S')
                   + to_microseconds(CAST(round(coalesce(try_cast(
                       '0.' || split_part(trim(StudyTime), '.', 2) AS DOUBLE), 0) * 1e6)
                       AS BIGINT)) AS taken
          FROM {source} WHERE subject_id IS NOT NULL AND dicom_id IS NOT NULL)
        SELECT a.hadm_id,
               list({{'study_id': i.study_id, 'dicom_id': i.dicom_id, 'view': i.view}}
                    ORDER BY i.taken, i.dicom_id) AS cxr
        FROM img i JOIN adm a ON i.subject_id = a.subject_id
        WHERE i.taken >= a.admittime AND i.taken < a.link_cutoff
        GROUP BY a.hadm_id""", table, "MIMIC-CXR-JPG metadata")


def _link_ecg(con: duckdb.DuckDBPyConnection, table: Path | None) -> None:
    """Temp table ``ecg_links``: per admission, the MIMIC-IV-ECG records (record_list.csv)
    whose ecg_time lies in [admittime, admittime + link window), same subject, in time order."""
    if table is None:
        con.execute("CREATE TABLE ecg_links (hadm_id BIGINT, "
                    "ecg STRUCT(study_id BIGINT, path VARCHAR)[])")
        return
    source = _csv(table, {"subject_id": "BIGINT", "study_id": "BIGINT",
                          "ecg_time": "TIMESTAMP", "path": "VARCHAR"})
    _run(con, f"""
        CREATE TABLE ecg_links AS
        SELECT a.hadm_id,
               list({{'study_id': e.study_id, 'path': trim(e.path)}}
                    ORDER BY e.ecg_time, e.study_id) AS ecg
        FROM {source} e JOIN adm a ON e.subject_id = a.subject_id
        WHERE e.ecg_time >= a.admittime AND e.ecg_time < a.link_cutoff AND e.path IS NOT NULL
        GROUP BY a.hadm_id""", table, "MIMIC-IV-ECG record_list")
