"""MIMIC-IV (v2.2 / 3.1) EHR: one record per hospital admission, built out of core.

Layout (the PhysioNet zip, extracted under the raw root, at any depth up to three folders)::

    hosp/patients.csv.gz        subject_id, gender, anchor_age, anchor_year, anchor_year_group, dod
    hosp/admissions.csv.gz      subject_id, hadm_id, admittime, dischtime, deathtime, ...,
                                hospital_expire_flag
    hosp/labevents.csv.gz       labevent_id, subject_id, hadm_id, itemid, charttime, valuenum, ...
    hosp/diagnoses_icd.csv.gz   subject_id, hadm_id, seq_num, icd_code, icd_version
    icu/chartevents.csv.gz      subject_id, hadm_id, stay_id, itemid, charttime, valuenum, ...
                                (optional: without the icu module the vitals are all NaN)

``procedures_icd``, ``prescriptions`` and ``d_labitems`` are not read (no task uses them yet).

Record (``sample_id`` = hadm_id, ``patient_id`` = subject_id): input ``ehr`` is a float32
vector with, for every selected item, the ``last`` value, the ``mean`` and the ``count`` of
its numeric values (``valuenum``) charted in [admittime, admittime + 48 h); NaN (count 0)
where the item was never measured. Channels are named ``lab:<itemid>:<stat>`` and
``vital:<itemid>:<stat>``. Labs are matched to an admission by subject and time window (a
lab row with an empty hadm_id, e.g. drawn in the ED, counts; one filed under another
admission does not). The default items (config ``lab_items`` / ``vital_items``) are
:data:`DEFAULT_LAB_ITEMS` and :data:`DEFAULT_VITAL_ITEMS`.

Meta: ``age_bucket`` from anchor_age shifted by (admission year - anchor_year) (MIMIC's
anchor_age 91 means > 89: "90+"), ``sex`` from gender. Dates never leave the adapter.

Tasks:

* ``mortality_48h`` — in-hospital death after the first 48 h: defined only for admissions
  that last >= 48 h (else -1, missing); died = hospital_expire_flag 1 or a deathtime.
* ``length_of_stay`` — (dischtime - admittime) in days (NaN when not positive/known).
* ``icd_diagnoses`` — ICD-10-CM chapters of the admission's diagnoses_icd codes; ICD-9 codes
  are mapped by chapter range (:func:`icd_chapter`, a chapter-level crosswalk, not the CMS
  GEMs). An admission without diagnoses is all-NaN.

:func:`top_icd_codes` gives the k most frequent codes of the *training* admissions only
(``adapter.top_codes`` after ``items()``); a store task over them is not wired yet (store
task classes are fixed before ``items()`` runs).

Split: the catalog's patient-level 70/10/20 split, a seeded hash of subject_id
(config ``patient_split_seed``), set by the adapter so that it is known when ``items()``
computes training-split statistics; prepare's ``split_seed``/``split_ratios`` do not apply.

Streaming and caching: ``items()`` runs the aggregation once in DuckDB (``read_csv`` streams
the gzip; ``memory_limit`` config, spilling to the cache folder) and writes the per-admission
features to ``<cache_dir>/<fingerprint>/features.parquet`` (cache_dir: config, default
``<tempdir>/climb-mimic_iv``; fingerprint: raw path, size/mtime of the tables, item config).
``load()`` reads that parquet (once per process) and builds the record.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.record import Input, Record, age_bucket, normalize_sex
from climb.split import SplitConfig, hashed_split

PATIENTS = "hosp/patients.csv.gz"
ADMISSIONS = "hosp/admissions.csv.gz"
LABEVENTS = "hosp/labevents.csv.gz"
DIAGNOSES = "hosp/diagnoses_icd.csv.gz"
CHARTEVENTS = "icu/chartevents.csv.gz"
REQUIRED = (PATIENTS, ADMISSIONS, LABEVENTS, DIAGNOSES)
STATS = ("last", "mean", "count")
SPLIT_RATIOS = (0.7, 0.1, 0.2)  # the catalog's split definition

# Common labs (hosp/d_labitems itemids, blood chemistry/hematology).
DEFAULT_LAB_ITEMS: dict[int, str] = {
    50912: "creatinine (mg/dL)",
    50971: "potassium (mEq/L)",
    50983: "sodium (mEq/L)",
    50902: "chloride (mEq/L)",
    50882: "bicarbonate (mEq/L)",
    51006: "urea nitrogen (mg/dL)",
    50931: "glucose (mg/dL)",
    50868: "anion gap (mEq/L)",
    50813: "lactate (mmol/L)",
    51222: "hemoglobin (g/dL)",
    51301: "white blood cells (K/uL)",
    51265: "platelet count (K/uL)",
}
# Common vitals (icu/d_items itemids, MetaVision).
DEFAULT_VITAL_ITEMS: dict[int, str] = {
    220045: "heart rate (bpm)",
    220179: "non-invasive BP systolic (mmHg)",
    220180: "non-invasive BP diastolic (mmHg)",
    220181: "non-invasive BP mean (mmHg)",
    220210: "respiratory rate (insp/min)",
    220277: "SpO2 (%)",
    223761: "temperature (F)",
}

_ICD9_RANGES = (  # (last 3-digit code of the ICD-9-CM chapter, ICD-10-CM chapter)
    (139, "A00-B99"), (239, "C00-D49"), (278, "E00-E89"), (289, "D50-D89"),
    (319, "F01-F99"), (359, "G00-G99"), (379, "H00-H59"), (389, "H60-H95"),
    (459, "I00-I99"), (519, "J00-J99"), (579, "K00-K95"), (629, "N00-N99"),
    (679, "O00-O9A"), (709, "L00-L99"), (739, "M00-M99"), (759, "Q00-Q99"),
    (779, "P00-P96"), (799, "R00-R99"), (999, "S00-T88"),
)  # fmt: skip
_ICD10_LETTERS = {
    "A": "A00-B99", "B": "A00-B99", "C": "C00-D49", "E": "E00-E89", "F": "F01-F99",
    "G": "G00-G99", "I": "I00-I99", "J": "J00-J99", "K": "K00-K95", "L": "L00-L99",
    "M": "M00-M99", "N": "N00-N99", "O": "O00-O9A", "P": "P00-P96", "Q": "Q00-Q99",
    "R": "R00-R99", "S": "S00-T88", "T": "S00-T88", "U": "U00-U85", "V": "V00-Y99",
    "W": "V00-Y99", "X": "V00-Y99", "Y": "V00-Y99", "Z": "Z00-Z99",
}  # fmt: skip


def icd_chapter(code: str, version: int) -> str | None:
    """ICD-10-CM chapter (catalog class) of one diagnosis code; None when not recognized.

    ICD-9-CM codes map by chapter range (001-139 infectious ... 800-999 injury, E -> external
    causes, V -> factors influencing health status; 279 immunity -> D50-D89 as in ICD-10).
    """
    code = str(code).strip().upper().replace(".", "")
    if not code:
        return None
    if int(version) == 9:
        if code[0] == "V":
            return "Z00-Z99"
        if code[0] == "E":
            return "V00-Y99"
        if not code[:3].isdigit():
            return None
        number = int(code[:3])
        return next((chapter for last, chapter in _ICD9_RANGES if number <= last), None)
    letter = code[0]
    if letter in ("D", "H"):
        if not code[1:3].isdigit():
            return None
        number = int(code[1:3])
        if letter == "D":
            return "C00-D49" if number < 50 else "D50-D89"
        return "H00-H59" if number < 60 else "H60-H95"
    return _ICD10_LETTERS.get(letter)


def find_root(raw_dir: Path) -> Path:
    """The folder holding ``hosp/admissions.csv.gz``: ``raw_dir`` or a folder <= 3 levels down."""
    raw_dir = Path(raw_dir)
    for pattern in ("", "*/", "*/*/", "*/*/*/"):
        found = sorted(raw_dir.glob(f"{pattern}{ADMISSIONS}"))
        if found:
            return found[0].parent.parent
    raise RecordError(raw_dir / ADMISSIONS, "MIMIC-IV admissions table not found")


def _csv(path: Path, types: dict[str, str]) -> str:
    """A DuckDB ``read_csv`` expression over one gzipped module table (typed columns)."""
    spec = ", ".join(f"'{k}': '{v}'" for k, v in types.items())
    quoted = str(path).replace("'", "''")
    return f"read_csv('{quoted}', header=true, types={{{spec}}})"


def _fail(path: Path, what: str, err: Exception) -> RecordError:
    """A RecordError for a table DuckDB could not read; DuckDB's text may quote values: dropped."""
    return RecordError(path, f"could not read the {what} table ({type(err).__name__})")


def aggregate_events(
    con: duckdb.DuckDBPyConnection,
    events: Path,
    admissions: str,
    items: Sequence[int],
    window_h: float,
    by_subject: bool,
) -> dict[tuple[int, int], tuple[float, float, int]]:
    """{(hadm_id, itemid): (last, mean, count)} of numeric values in the first ``window_h``.

    Streams ``events`` (never loaded whole): filter to ``items``, join to the admission window,
    group by admission and item. ``by_subject`` matches on subject_id and the time window and
    accepts rows with an empty hadm_id (labevents); else on hadm_id (chartevents). ``last`` is
    the value charted latest (ties: the larger value, for determinism).
    """
    if not items:
        return {}
    source = _csv(
        events,
        {"subject_id": "BIGINT", "hadm_id": "BIGINT", "itemid": "BIGINT",
         "charttime": "TIMESTAMP", "valuenum": "DOUBLE"},
    )  # fmt: skip
    match = (
        "e.subject_id = a.subject_id AND (e.hadm_id IS NULL OR e.hadm_id = a.hadm_id)"
        if by_subject
        else "e.hadm_id = a.hadm_id"
    )
    item_list = ", ".join(str(int(i)) for i in items)
    query = f"""
        SELECT a.hadm_id, e.itemid,
               arg_max(e.valuenum, (e.charttime, e.valuenum)) AS last,
               avg(e.valuenum) AS mean, count(*) AS n
        FROM (SELECT subject_id, hadm_id, itemid, charttime, valuenum FROM {source}
              WHERE itemid IN ({item_list}) AND valuenum IS NOT NULL
                AND valuenum = valuenum AND charttime IS NOT NULL) e
        JOIN {admissions} a ON {match}
        WHERE e.charttime >= a.admittime
          AND e.charttime < a.admittime + to_microseconds(CAST({window_h} * 3600e6 AS BIGINT))
        GROUP BY a.hadm_id, e.itemid
    """
    try:
        rows = con.execute(query).fetchall()
    except duckdb.Error as err:
        raise _fail(events, "event", err) from None
    return {(int(h), int(i)): (float(last), float(mean), int(n)) for h, i, last, mean, n in rows}


def top_icd_codes(
    codes_by_admission: dict[int, list[tuple[str, int]]], admissions: Iterable[int], k: int
) -> list[str]:
    """The ``k`` most frequent ``ICD<version>:<code>`` among ``admissions`` (each counted once
    per admission; ties broken by code). Pass the training admissions only."""
    counts: Counter[str] = Counter()
    for hadm in admissions:
        counts.update({f"ICD{v}:{c}" for c, v in codes_by_admission.get(hadm, [])})
    return [code for code, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


@functools.lru_cache(maxsize=2)
def _features(path: str) -> tuple[dict[int, int], np.ndarray, list[str]]:
    """The cached feature table: {hadm_id: row}, float32 matrix, channel names."""
    try:
        table = pq.read_table(path)
    except OSError as err:
        raise RecordError(path, f"feature cache unreadable ({type(err).__name__})") from None
    hadm = table.column("hadm_id").to_pylist()
    names = [n for n in table.column_names if n != "hadm_id"]
    matrix = np.column_stack(
        [table.column(n).to_numpy(zero_copy_only=False).astype(np.float32) for n in names]
    ) if names else np.zeros((len(hadm), 0), np.float32)  # fmt: skip
    return {int(h): i for i, h in enumerate(hadm)}, matrix, names


class MimicIvAdapter(Adapter):
    name = "mimic_iv"
    default_config = {
        "window_h": 48.0,
        "lab_items": sorted(DEFAULT_LAB_ITEMS),
        "vital_items": sorted(DEFAULT_VITAL_ITEMS),
        "icd_top_k": 50,
        "patient_split_seed": 0,
        "cache_dir": None,
        "memory_limit": "2GB",
        "threads": 2,
    }

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.top_codes: list[str] = []

    # -- layout -------------------------------------------------------------------------------
    def item_files(self, raw_dir: Path, item: Item) -> list[Path]:
        """The module tables every admission reads (for prepare's change detection)."""
        root = find_root(raw_dir)
        return [root / t for t in (*REQUIRED, CHARTEVENTS) if (root / t).exists()]

    def channels(self) -> list[str]:
        """Names of the ``ehr`` vector's entries, in order."""
        out = []
        for kind, key in (("lab", "lab_items"), ("vital", "vital_items")):
            for itemid in self.config[key]:
                out.extend(f"{kind}:{int(itemid)}:{stat}" for stat in STATS)
        return out

    def cache_path(self, raw_dir: Path) -> Path:
        """Where ``items()`` writes the feature table of this raw folder and config."""
        root = find_root(raw_dir)
        stamp = []
        for table in (*REQUIRED, CHARTEVENTS):
            path = root / table
            if path.exists():
                st = path.stat()
                stamp.append((table, st.st_size, st.st_mtime_ns))
        key = json.dumps(
            [str(root.resolve()), stamp, self.config["window_h"], list(self.config["lab_items"]),
             list(self.config["vital_items"])],
            default=str,
        )  # fmt: skip
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        base = self.config.get("cache_dir") or Path(tempfile.gettempdir()) / "climb-mimic_iv"
        return Path(base) / digest / "features.parquet"

    def _connect(self, spill: Path) -> duckdb.DuckDBPyConnection:
        spill.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{self.config['memory_limit']}'")
        con.execute(f"SET threads = {int(self.config['threads'])}")
        con.execute(f"SET temp_directory = '{str(spill / 'spill').replace(chr(39), '')}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # DuckDB prints it to stdout
        return con

    # -- items: the one aggregation pass -------------------------------------------------------
    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir)
        prefix = root.relative_to(raw_dir).as_posix()
        for table in REQUIRED:
            if not (root / table).exists():
                raise RecordError(root / table, "MIMIC-IV table missing")
        cache = self.cache_path(raw_dir)
        con = self._connect(cache.parent)
        try:
            admissions = self._admissions(con, root)
            codes = self._diagnoses(con, root)
            if not cache.exists():
                self._write_features(con, root, cache)
        finally:
            con.close()
        seed = int(self.config["patient_split_seed"])
        split_cfg = SplitConfig(seed=seed, ratios=SPLIT_RATIOS)
        items = []
        for row in admissions:
            hadm, subject = int(row["hadm_id"]), int(row["subject_id"])
            split = hashed_split(f"patient:{subject}", split_cfg)
            chapters = sorted(
                {c for code, v in codes.get(hadm, []) if (c := icd_chapter(code, v)) is not None}
            )
            source = f"{ADMISSIONS}#{hadm}" if prefix == "." else f"{prefix}/{ADMISSIONS}#{hadm}"
            items.append(
                Item(
                    source=source,
                    key=str(hadm),
                    info={
                        "patient_id": str(subject),
                        "split": split,
                        "stay_h": row["stay_h"],
                        "died": bool(row["died"]),
                        "chapters": chapters,
                        "has_diagnoses": hadm in codes,
                        "age_bucket": age_bucket(row["age"]),
                        "sex": normalize_sex(row["gender"]),
                    },
                )
            )
        train = [int(i.key) for i in items if i.info["split"] == "train"]
        self.top_codes = top_icd_codes(codes, train, int(self.config["icd_top_k"]))
        return sorted(items, key=lambda i: int(i.key))

    def _admissions(self, con: duckdb.DuckDBPyConnection, root: Path) -> list[dict[str, Any]]:
        """One row per admission: ids, stay length (h), death flag, age at admission, gender."""
        adm = _csv(
            root / ADMISSIONS,
            {"subject_id": "BIGINT", "hadm_id": "BIGINT", "admittime": "TIMESTAMP",
             "dischtime": "TIMESTAMP", "deathtime": "TIMESTAMP",
             "hospital_expire_flag": "INTEGER"},
        )  # fmt: skip
        pat = _csv(
            root / PATIENTS,
            {"subject_id": "BIGINT", "gender": "VARCHAR", "anchor_age": "INTEGER",
             "anchor_year": "INTEGER"},
        )  # fmt: skip
        query = f"""
            SELECT a.subject_id, a.hadm_id,
                   epoch(a.dischtime - a.admittime) / 3600.0 AS stay_h,
                   coalesce(a.hospital_expire_flag, 0) = 1 OR a.deathtime IS NOT NULL AS died,
                   p.anchor_age + (year(a.admittime) - p.anchor_year) AS age, p.gender
            FROM {adm} a LEFT JOIN {pat} p USING (subject_id)
            WHERE a.hadm_id IS NOT NULL AND a.admittime IS NOT NULL
            ORDER BY a.hadm_id
        """
        try:
            cursor = con.execute(query)
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        except duckdb.Error as err:
            raise _fail(root / ADMISSIONS, "admissions/patients", err) from None
        for row in rows:  # MIMIC's anchor_age 91 (> 89) stays >= 90 after the shift: "90+"
            row["stay_h"] = None if row["stay_h"] is None else float(row["stay_h"])
        return rows

    def _diagnoses(
        self, con: duckdb.DuckDBPyConnection, root: Path
    ) -> dict[int, list[tuple[str, int]]]:
        """{hadm_id: [(icd_code, icd_version), ...]} (distinct codes)."""
        source = _csv(
            root / DIAGNOSES,
            {"hadm_id": "BIGINT", "icd_code": "VARCHAR", "icd_version": "INTEGER"},
        )
        try:
            rows = con.execute(
                f"SELECT DISTINCT hadm_id, trim(icd_code), icd_version FROM {source} "
                "WHERE hadm_id IS NOT NULL AND icd_code IS NOT NULL ORDER BY ALL"
            ).fetchall()
        except duckdb.Error as err:
            raise _fail(root / DIAGNOSES, "diagnoses", err) from None
        out: dict[int, list[tuple[str, int]]] = {}
        for hadm, code, version in rows:
            out.setdefault(int(hadm), []).append((str(code), int(version or 10)))
        return out

    def _write_features(self, con: duckdb.DuckDBPyConnection, root: Path, cache: Path) -> None:
        """Aggregate labs and vitals over each admission's window into the parquet cache."""
        adm = _csv(
            root / ADMISSIONS,
            {"subject_id": "BIGINT", "hadm_id": "BIGINT", "admittime": "TIMESTAMP"},
        )
        con.execute(
            f"CREATE TEMP TABLE adm AS SELECT subject_id, hadm_id, admittime FROM {adm} "
            "WHERE hadm_id IS NOT NULL AND admittime IS NOT NULL"
        )
        window = float(self.config["window_h"])
        labs = aggregate_events(
            con, root / LABEVENTS, "adm", self.config["lab_items"], window, by_subject=True
        )
        vitals = {}
        if (root / CHARTEVENTS).exists():
            vitals = aggregate_events(
                con, root / CHARTEVENTS, "adm", self.config["vital_items"], window, False
            )
        hadm_ids = [int(h) for (h,) in con.execute("SELECT hadm_id FROM adm ORDER BY 1").fetchall()]
        columns: dict[str, list[Any]] = {"hadm_id": hadm_ids}
        for kind, key, values in (("lab", "lab_items", labs), ("vital", "vital_items", vitals)):
            for itemid in self.config[key]:
                stats = [values.get((h, int(itemid))) for h in hadm_ids]
                columns[f"{kind}:{int(itemid)}:last"] = [s[0] if s else math.nan for s in stats]
                columns[f"{kind}:{int(itemid)}:mean"] = [s[1] if s else math.nan for s in stats]
                columns[f"{kind}:{int(itemid)}:count"] = [float(s[2]) if s else 0.0 for s in stats]
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp")
        pq.write_table(pa.table(columns), tmp)
        tmp.replace(cache)

    # -- load: one admission -> one record ------------------------------------------------------
    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        cache = self.cache_path(raw_dir)
        if not cache.exists():  # e.g. a worker on another machine: aggregate here once
            self.items(raw_dir)
        rows, matrix, names = _features(str(cache))
        hadm = int(item.key)
        if hadm not in rows:
            raise RecordError(item.source, "admission missing from the feature cache")
        if names != self.channels():
            raise RecordError(cache, "feature cache columns differ from the configured items")
        info = item.info
        stay_h = info["stay_h"]
        window = float(self.config["window_h"])
        if stay_h is None or stay_h < window:
            mortality = -1  # not eligible: the stay ends before the prediction time
        else:
            mortality = self.mapper("mortality_48h").multiclass(
                "died" if info["died"] else "survived"
            )
        los = float(stay_h) / 24.0 if stay_h is not None and stay_h > 0 else math.nan
        icd = self.mapper("icd_diagnoses")
        if info["has_diagnoses"]:
            chapters = icd.multilabel_from_positives(info["chapters"])
        else:
            chapters = np.full(len(icd.classes), np.nan, np.float32)
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality="ehr",
            patient_id=info["patient_id"],
            study_id=item.key,
            split=info["split"],
            inputs={"ehr": Input(data=matrix[rows[hadm]].copy(), channels=list(names))},
            labels={"mortality_48h": mortality, "length_of_stay": los, "icd_diagnoses": chapters},
            meta={
                "age_bucket": info["age_bucket"],
                "sex": info["sex"],
                "source_file": item.source.split("#")[0],
                "notes": f"labs/vitals over the first {window:g} h",
            },
        ).validate()


ADAPTER = MimicIvAdapter
