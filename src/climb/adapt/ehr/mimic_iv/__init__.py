"""MIMIC-IV (v2.2 / 3.1) EHR, linked to MIMIC-CXR-JPG and MIMIC-IV-ECG: one record per
hospital admission, built out of core.

Layout (the PhysioNet zip, extracted under the raw root, at any depth up to three folders)::

    hosp/patients.csv.gz        subject_id, gender, anchor_age, anchor_year, anchor_year_group, dod
    hosp/admissions.csv.gz      subject_id, hadm_id, admittime, dischtime, deathtime, ...,
                                hospital_expire_flag
    hosp/labevents.csv.gz       labevent_id, subject_id, hadm_id, itemid, charttime, valuenum, ...
    hosp/diagnoses_icd.csv.gz   subject_id, hadm_id, seq_num, icd_code, icd_version
    icu/chartevents.csv.gz      subject_id, hadm_id, stay_id, itemid, charttime, valuenum, ...
                                (optional: without the icu module the vitals are all NaN)

Linked modalities (optional), each found in its root given by config (``cxr_root``,
``ecg_root``), else searched under the raw root (<= 3 levels; the catalog downloads
MIMIC-IV-ECG to ``mimic-iv-ecg/1.0/``)::

    <cxr_root>/mimic-cxr-2.0.0-metadata.csv[.gz]  dicom_id, subject_id, study_id, StudyDate,
                                                  StudyTime, ViewPosition, ...
    <cxr_root>/files/p10/p10000032/s50414267/<dicom_id>.jpg
    <ecg_root>/record_list.csv                    subject_id, study_id, file_name, ecg_time, path
    <ecg_root>/<path>.hea/.dat                    e.g. files/p1000/p10000032/s40689238/40689238

Record (``sample_id`` = hadm_id, ``patient_id`` = subject_id): input ``ehr`` is a float32
vector with, for every selected item, the ``last`` value, the ``mean`` and the ``count`` of
its numeric values (``valuenum``) charted in [admittime, admittime + ``window_h``) (48 h);
NaN (count 0) where never measured. Channels ``lab:<itemid>:<stat>``, ``vital:<itemid>:<stat>``.
Labs match an admission by subject and time window (a lab row with an empty hadm_id, e.g. drawn
in the ED, counts; one filed under another admission does not). Default items (config
``lab_items`` / ``vital_items``): :data:`DEFAULT_LAB_ITEMS`, :data:`DEFAULT_VITAL_ITEMS`.

Linkage: the CXR images (StudyDate + StudyTime) and ECGs (ecg_time) of the same subject taken
in [admittime, admittime + ``link_window_h``) (default: ``window_h``, the features' window, so
nothing after the prediction time enters) are listed in ``meta["linked"]``: ``{"cxr":
["s<study_id>/<dicom_id>", ...], "ecg": ["s<study_id>", ...]}`` in time order (a key only for a
modality whose table was found; ids only, never paths, which carry the subject id). With
``cxr_root`` given, input ``cxr`` is the last frontal (PA/AP, else any) image of the window,
decoded by :func:`climb.adapt.imaging.decode_image` (``cxr_size``, ``cxr_fit``, grey); with
``ecg_root`` given, input ``ecg`` is the last ECG of the window through
:func:`climb.read.wfdb.read_wfdb` and :func:`climb.adapt.ecg.ecg_windows` (12 leads, 500 Hz,
first 10 s; a missing lead zero-filled). Without linked items the input is absent (masked).

Meta: ``age_bucket`` from anchor_age shifted by (admission year - anchor_year) (anchor_age 91
means > 89: "90+"), ``sex`` from gender. Dates never leave the adapter.

Tasks:

* ``mortality_48h`` — in-hospital death after the prediction time (admittime + ``window_h``):
  died = hospital_expire_flag 1 or a deathtime. Missing (-1) for admissions that end before
  the prediction time (dischtime - admittime < ``window_h``) or whose deathtime is before it.
* ``length_of_stay`` — (dischtime - admittime) in days (NaN when not positive/known).
* ``icd_diagnoses`` — ICD-10-CM chapters of the admission's codes (:mod:`.icd`: ICD-9 mapped
  by chapter range). An admission without diagnoses is all-NaN.
* ``icd_codes`` — multilabel over the ``icd_top_k`` (50) most frequent codes of the *training*
  admissions only (so the label space carries no val/test information); ICD-9 and ICD-10
  codes stay distinct classes (``ICD9:4019``, ``ICD10:I10``). The codes are the task's classes
  in the store manifest (``task_classes()`` after ``items()``; the catalog says
  ``classes_from: train_split``). An admission without diagnoses is all-NaN.

Split: the catalog's patient-level 70/10/20 split, a seeded hash of subject_id (config
``patient_split_seed``), set by the adapter so that it is known when ``items()`` counts the
training codes; prepare's ``split_seed``/``split_ratios`` do not apply.

Work cache: ``items()`` runs :func:`.tables.build` once (DuckDB, ``memory_limit``, spilling to
the cache folder) and writes ``admissions.parquet`` to ``<work_dir>/<fingerprint>/``.
``work_dir``: config; ``prepare`` sets it to ``<store>/.work/mimic_iv`` (outside the dataset
folder; not part of the config hash); default ``<tempdir>/climb-work/mimic_iv``. The
fingerprint covers the tables' paths, sizes and mtimes and the feature/linkage config, so a
rerun on unchanged files reuses the file and a changed table rebuilds it; delete the folder to
reclaim the space. ``items()`` and ``records()`` stream that file with ``iter_batches``;
``load()`` reads only the row group (2,048 admissions) holding its admission (two cached).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from climb.adapt.base import Adapter, Item
from climb.adapt.ecg import ecg_windows
from climb.adapt.ehr.mimic_iv.icd import chapters_of, icd_chapter, top_codes, top_icd_codes
from climb.adapt.ehr.mimic_iv.tables import (
    ADMISSIONS,
    CHARTEVENTS,
    REQUIRED,
    STATS,
    BuildSpec,
    build,
    feature_columns,
)
from climb.adapt.imaging import decode_image
from climb.errors import RecordError
from climb.read.wfdb import read_wfdb
from climb.record import Input, Record, age_bucket, normalize_sex
from climb.split import SplitConfig, hashed_split

__all__ = ["ADAPTER", "STATS", "MimicIvAdapter", "find_root", "icd_chapter", "top_icd_codes"]

SPLIT_RATIOS = (0.7, 0.1, 0.2)  # the catalog's split definition
CXR_TABLES = ("mimic-cxr-2.0.0-metadata.csv", "mimic-cxr-2.0.0-metadata.csv.gz")
ECG_TABLES = ("record_list.csv", "record_list.csv.gz")
FRONTAL = ("PA", "AP")
PARQUET = "admissions.parquet"

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


def find_root(raw_dir: Path) -> Path:
    """The folder holding ``hosp/admissions.csv.gz``: ``raw_dir`` or a folder <= 3 levels down."""
    raw_dir = Path(raw_dir)
    for pattern in ("", "*/", "*/*/", "*/*/*/"):
        found = sorted(raw_dir.glob(f"{pattern}{ADMISSIONS}"))
        if found:
            return found[0].parent.parent
    raise RecordError(raw_dir / ADMISSIONS, "MIMIC-IV admissions table not found")


def find_table(folder: Path | None, names: tuple[str, ...], depth: int = 3) -> Path | None:
    """The first of ``names`` in ``folder`` or up to ``depth`` folders below it (sorted)."""
    if folder is None:
        return None
    for level in range(depth + 1):
        for name in names:
            found = sorted(Path(folder).glob("*/" * level + name))
            if found:
                return found[0]
    return None


def cxr_image_path(subject_id: int, study_id: int, dicom_id: str) -> str:
    """``files/p10/p10000032/s50414267/<dicom_id>.jpg`` (relative to the MIMIC-CXR-JPG root)."""
    subject = str(subject_id)
    return f"files/p{subject[:2]}/p{subject}/s{study_id}/{dicom_id}.jpg"


def pick_cxr(images: list[dict[str, Any]]) -> dict[str, Any]:
    """The image attached as input ``cxr``: the last frontal one (PA/AP) in time, else the
    last one (``images`` come in time order)."""
    frontal = [i for i in images if i.get("view") in FRONTAL]
    return (frontal or images)[-1]


@functools.lru_cache(maxsize=4)
def _row_groups(path: str, mtime_ns: int) -> list[tuple[int, int, int]]:
    """(min hadm_id, max hadm_id, row group) of the cache file, from the Parquet statistics."""
    meta = pq.ParquetFile(path).metadata
    column = meta.schema.to_arrow_schema().get_field_index("hadm_id")
    out = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        if stats is None or not stats.has_min_max:
            raise RecordError(path, "feature cache has no hadm_id statistics")
        out.append((int(stats.min), int(stats.max), i))
    return sorted(out)


@functools.lru_cache(maxsize=2)
def _row_group(path: str, mtime_ns: int, index: int) -> tuple[dict[int, int], pa.Table]:
    """One row group of the cache file: ({hadm_id: row}, the rows)."""
    table = pq.ParquetFile(path).read_row_group(index)
    rows = {int(h): i for i, h in enumerate(table.column("hadm_id").to_pylist())}
    return rows, table


class MimicIvAdapter(Adapter):
    name = "mimic_iv"
    default_config = {
        "window_h": 48.0,
        "link_window_h": None,  # None: window_h
        "lab_items": sorted(DEFAULT_LAB_ITEMS),
        "vital_items": sorted(DEFAULT_VITAL_ITEMS),
        "icd_top_k": 50,
        "patient_split_seed": 0,
        "work_dir": None,
        "memory_limit": "1GB",
        "threads": 2,
        "cxr_root": None,
        "ecg_root": None,
        "cxr_size": 224,
        "cxr_fit": "crop",
        "ecg_fs": 500.0,
        "ecg_window_s": 10.0,
    }

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.top_codes: list[str] = []
        self._links: dict[str, tuple[Path | None, Path | None]] = {}

    # -- configuration -----------------------------------------------------------------------
    def channels(self) -> list[str]:
        """Names of the ``ehr`` vector's entries, in order."""
        return feature_columns(self.config["lab_items"], self.config["vital_items"])

    def _window(self) -> float:
        return float(self.config["window_h"])

    def _link_window(self) -> float:
        value = self.config.get("link_window_h")
        return self._window() if value is None else float(value)

    def _root_or_none(self, key: str) -> Path | None:
        value = self.config.get(key)
        if value in (None, ""):
            return None
        path = Path(str(value))
        if not path.is_dir():
            raise RecordError(path, f"{key} is not a folder")
        return path

    def link_tables(self, raw_dir: Path) -> tuple[Path | None, Path | None]:
        """(MIMIC-CXR-JPG metadata table, MIMIC-IV-ECG record_list) — from ``cxr_root`` /
        ``ecg_root`` when given, else found under the raw root, else None."""
        out = []
        for key, names in (("cxr_root", CXR_TABLES), ("ecg_root", ECG_TABLES)):
            root = self._root_or_none(key)
            table = find_table(root if root is not None else Path(raw_dir), names)
            if root is not None and table is None:
                raise RecordError(root / names[0], f"table not found under {key}")
            out.append(table)
        return out[0], out[1]

    def _tables(self, raw_dir: Path) -> list[Path]:
        root = find_root(raw_dir)
        tables = [root / t for t in (*REQUIRED, CHARTEVENTS) if (root / t).exists()]
        return tables + [t for t in self.link_tables(raw_dir) if t is not None]

    def item_files(self, raw_dir: Path, item: Item) -> list[Path]:
        """The tables every admission reads (for prepare's change detection)."""
        return self._tables(raw_dir)

    def cache_path(self, raw_dir: Path) -> Path:
        """``<work_dir>/<fingerprint>/admissions.parquet`` of this raw folder and config."""
        stamp = []
        for path in self._tables(raw_dir):
            st = path.stat()
            stamp.append((str(path.resolve()), st.st_size, st.st_mtime_ns))
        key = json.dumps(
            [stamp, self._window(), self._link_window(),
             [int(i) for i in self.config["lab_items"]],
             [int(i) for i in self.config["vital_items"]]],
        )  # fmt: skip
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        base = self.config.get("work_dir") or Path(tempfile.gettempdir()) / "climb-work" / self.name
        return Path(base) / digest / PARQUET

    def _top_codes_path(self, cache: Path) -> Path:
        seed, k = int(self.config["patient_split_seed"]), int(self.config["icd_top_k"])
        return cache.with_name(f"top_codes-seed{seed}-k{k}.json")

    def task_classes(self) -> dict[str, list[str]]:
        """As the catalog says, plus ``icd_codes``: the top codes found by ``items()``."""
        classes = super().task_classes()
        classes["icd_codes"] = list(self.top_codes)
        return classes

    # -- items: the one aggregation pass -------------------------------------------------------
    def ensure_cache(self, raw_dir: Path) -> Path:
        """The admissions Parquet file, built when absent (see the module docstring)."""
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir)
        for table in REQUIRED:
            if not (root / table).exists():
                raise RecordError(root / table, "MIMIC-IV table missing")
        cache = self.cache_path(raw_dir)
        if not cache.exists():
            cxr_table, ecg_table = self.link_tables(raw_dir)
            spec = BuildSpec(
                root=root, lab_items=[int(i) for i in self.config["lab_items"]],
                vital_items=[int(i) for i in self.config["vital_items"]],
                window_h=self._window(), link_window_h=self._link_window(),
                cxr_table=cxr_table, ecg_table=ecg_table,
                memory_limit=str(self.config["memory_limit"]),
                threads=int(self.config["threads"]),
            )  # fmt: skip
            build(spec, cache, cache.parent)
        return cache

    def _batches(self, cache: Path, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        try:
            yield from pq.ParquetFile(cache).iter_batches(batch_size=4096, columns=columns)
        except (OSError, pa.ArrowException) as err:
            raise RecordError(cache, f"work cache unreadable ({type(err).__name__})") from None

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir)
        prefix = root.relative_to(raw_dir).as_posix()
        source = ADMISSIONS if prefix == "." else f"{prefix}/{ADMISSIONS}"
        cache = self.ensure_cache(raw_dir)
        split_cfg = SplitConfig(seed=int(self.config["patient_split_seed"]), ratios=SPLIT_RATIOS)
        counts: Counter[str] = Counter()
        items = []
        for batch in self._batches(cache, ["hadm_id", "subject_id", "codes"]):
            columns = batch.to_pydict()
            for hadm, subject, codes in zip(
                columns["hadm_id"], columns["subject_id"], columns["codes"], strict=True
            ):
                split = hashed_split(f"patient:{subject}", split_cfg)
                if split == "train" and codes:
                    counts.update(codes)
                items.append(Item(source=f"{source}#{hadm}", key=str(hadm),
                                  info={"patient_id": str(subject), "split": split}))
        self.top_codes = top_codes(counts, int(self.config["icd_top_k"]))
        path = self._top_codes_path(cache)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.top_codes))
        tmp.replace(path)
        return items

    # -- load: one admission -> one record ------------------------------------------------------
    def _row(self, raw_dir: Path, item: Item) -> dict[str, Any]:
        cache = self.cache_path(raw_dir)
        if not cache.exists():  # e.g. a worker on another machine: build here once
            self.items(raw_dir)
        if not self.top_codes:
            try:
                self.top_codes = json.loads(self._top_codes_path(cache).read_text())
            except (OSError, ValueError):
                self.items(raw_dir)
        mtime = cache.stat().st_mtime_ns
        hadm = int(item.key)
        try:
            groups = _row_groups(str(cache), mtime)
            for low, high, index in groups:
                if low <= hadm <= high:
                    rows, table = _row_group(str(cache), mtime, index)
                    if hadm in rows:
                        return table.slice(rows[hadm], 1).to_pylist()[0]
        except (OSError, pa.ArrowException) as err:
            raise RecordError(cache, f"work cache unreadable ({type(err).__name__})") from None
        raise RecordError(item.source, "admission missing from the work cache")

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        raw_dir = Path(raw_dir)
        yield self.record(self._row(raw_dir, item), item, self._link_tables_of(raw_dir))

    def records(self, raw_dir: Path) -> Iterable[Record]:
        """All records, streamed from the work cache one batch of admissions at a time."""
        raw_dir = Path(raw_dir)
        items = iter(self.items(raw_dir))  # in the cache's order (sorted by hadm_id)
        links = self._link_tables_of(raw_dir)
        for batch in self._batches(self.cache_path(raw_dir)):
            for row in batch.to_pylist():
                item = next(items)
                if item.key != str(row["hadm_id"]):
                    raise RecordError(item.source, "work cache order differs from the items")
                yield self.record(row, item, links)

    def _link_tables_of(self, raw_dir: Path) -> tuple[Path | None, Path | None]:
        key = str(raw_dir)
        if key not in self._links:
            self._links[key] = self.link_tables(raw_dir)
        return self._links[key]

    def record(
        self, row: dict[str, Any], item: Item, links: tuple[Path | None, Path | None]
    ) -> Record:
        """The record of one admission's cache row (``links``: :meth:`link_tables`)."""
        names = self.channels()
        missing = [n for n in names if n not in row]
        if missing:
            raise RecordError(item.source, "work cache columns differ from the configured items")
        ehr = np.array([row[n] for n in names], dtype=np.float32)
        stay_h = row["stay_h"]
        window = self._window()
        if stay_h is None or stay_h < window or row["died_in_window"]:
            mortality = -1  # not eligible: the stay (or the life) ends before prediction time
        else:
            mortality = self.mapper("mortality_48h").multiclass(
                "died" if row["died"] else "survived"
            )
        los = float(stay_h) / 24.0 if stay_h is not None and stay_h > 0 else math.nan
        codes = row["codes"] or []
        chapter_classes = self.mapper("icd_diagnoses").classes
        code_index = {c: i for i, c in enumerate(self.top_codes)}
        if codes:
            chapters = self.mapper("icd_diagnoses").multilabel_from_positives(chapters_of(codes))
            top = np.zeros(len(self.top_codes), np.float32)
            top[[code_index[c] for c in codes if c in code_index]] = 1.0
        else:  # no diagnoses recorded: unknown, not negative
            chapters = np.full(len(chapter_classes), np.nan, np.float32)
            top = np.full(len(self.top_codes), np.nan, np.float32)
        inputs = {"ehr": Input(data=ehr, channels=names)}
        linked: dict[str, list[str]] = {}
        cxr_table, ecg_table = links
        if cxr_table is not None:
            images = row["cxr"] or []
            linked["cxr"] = [f"s{i['study_id']}/{i['dicom_id']}" for i in images]
            if images and self.config.get("cxr_root"):
                inputs["cxr"] = self._cxr(cxr_table.parent, int(row["subject_id"]),
                                          pick_cxr(images))
        if ecg_table is not None:
            ecgs = row["ecg"] or []
            linked["ecg"] = [f"s{e['study_id']}" for e in ecgs]
            if ecgs and self.config.get("ecg_root"):
                inputs["ecg"] = self._ecg(ecg_table.parent, ecgs[-1]["path"])
        return Record(
            sample_id=item.key,
            dataset=self.name,
            modality="ehr",
            patient_id=item.info["patient_id"],
            study_id=item.key,
            split=item.info["split"],
            inputs=inputs,
            labels={"mortality_48h": mortality, "length_of_stay": los,
                    "icd_diagnoses": chapters, "icd_codes": top},
            meta={
                "age_bucket": age_bucket(row["age"]),
                "sex": normalize_sex(row["gender"]),
                "source_file": item.source.split("#")[0],
                "linked": linked,
                "notes": f"labs/vitals over the first {window:g} h",
            },
        ).validate()

    def _cxr(self, root: Path, subject: int, image: dict[str, Any]) -> Input:
        rel = cxr_image_path(subject, image["study_id"], image["dicom_id"])
        config = {"size": int(self.config["cxr_size"]), "fit": self.config["cxr_fit"],
                  "mode": "L"}
        return decode_image(root / rel, str(root / rel), config)

    def _ecg(self, root: Path, path: str) -> Input:
        if Path(path).is_absolute() or ".." in Path(path).parts:
            raise RecordError(root / "record_list.csv", "record path leaves the ECG root")
        source = str(root / path)
        signal = read_wfdb(root / path)
        config = {"fs": float(self.config["ecg_fs"]),
                  "window_s": float(self.config["ecg_window_s"]),
                  "windows": "first", "missing_lead": "zero"}
        return ecg_windows(signal, source, config)[0][1]


ADAPTER = MimicIvAdapter
