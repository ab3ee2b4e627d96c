"""Leakage and integrity audit of a prepared store (`climb audit STORE [NAME...]`).

Reports, and fails on:

- patients of one dataset found in more than one split;
- identical content (hash of every input's bytes) in different splits, within a dataset or
  across the audited datasets;
- shards whose sha256 differs from the manifest, and rows whose split disagrees with
  ``splits.csv``;
- any inconsistency between ``manifest.json``, ``splits.csv``, the shards on disk and the
  index (``integrity_errors``, each naming the file): shards listed but missing or unreadable
  (truncated), row counts that differ from the manifest's (per shard, per split, patients),
  Parquet files in the dataset folder the manifest does not list, records stored but not in
  ``splits.csv`` or listed but not stored, a patient in two splits of ``splits.csv``, a
  sample_id stored twice, an index that disagrees with the shards.

Identical content within one split is counted but is not a leak.

Two cases are reported but do not fail, because they are declared or inherent, not leaks:

- a dataset whose catalog entry says ``split.single_subject: true`` (one subject's recording
  split by time) has its one subject in several splits by construction;
- identical *text* in different splits from different patients (short normal reports such as
  "No acute cardiopulmonary abnormality." recur across patients). Identical arrays or encoded
  media in two splits still fail.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from climb.store.index import INDEX
from climb.store.manifest import MANIFEST
from climb.store.reader import open_store
from climb.store.writer import INPUT_PREFIX, sha256_file


@dataclass
class AuditReport:
    datasets: list[str] = field(default_factory=list)
    samples: int = 0
    patient_overlaps: list[dict] = field(default_factory=list)  # {dataset, patient_id, splits}
    cross_split_duplicates: list[dict] = field(default_factory=list)  # {hash, samples: [...]}
    within_split_duplicates: int = 0
    checksum_errors: list[dict] = field(default_factory=list)  # {dataset, path, expected, got}
    split_mismatches: list[dict] = field(default_factory=list)
    expected_overlaps: list[dict] = field(default_factory=list)  # single-subject datasets
    cross_split_text_duplicates: list[dict] = field(default_factory=list)  # warnings only
    integrity_errors: list[dict] = field(default_factory=list)  # {dataset, file, problem}

    @property
    def ok(self) -> bool:
        return not (self.patient_overlaps or self.cross_split_duplicates
                    or self.checksum_errors or self.split_mismatches or self.integrity_errors)

    def problem(self, dataset: str, file: str, problem: str) -> None:
        """Record an inconsistency of the store, naming the file."""
        self.integrity_errors.append({"dataset": dataset, "file": file, "problem": problem})

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "datasets": self.datasets,
            "samples": self.samples,
            "patient_overlaps": self.patient_overlaps,
            "cross_split_duplicates": self.cross_split_duplicates,
            "within_split_duplicates": self.within_split_duplicates,
            "checksum_errors": self.checksum_errors,
            "split_mismatches": self.split_mismatches,
            "expected_overlaps": self.expected_overlaps,
            "cross_split_text_duplicates": self.cross_split_text_duplicates,
            "integrity_errors": self.integrity_errors,
        }


def _payload_columns(schema) -> list[str]:
    return sorted(n for n in schema.names if n.startswith(INPUT_PREFIX) and n.count(".") == 1)


def _single_subject(dataset: str) -> bool:
    """Whether the catalog declares ``dataset`` a single subject split by time."""
    from climb.catalog import load_catalog
    from climb.errors import CatalogError

    try:
        return load_catalog().get(dataset).split.single_subject
    except CatalogError:  # a dataset the catalog does not know: no exemption
        return False


def _is_text(column: pa.ChunkedArray | pa.Array) -> bool:
    return pa.types.is_string(column.type) or pa.types.is_large_string(column.type)


def _splits_csv_rows(path: Path, report: AuditReport, dataset: str) -> list[list[str]] | None:
    """The (sample_id, patient_id, split) rows of ``splits.csv``; None (reported) when it is
    missing or malformed."""
    if not path.exists():
        report.problem(dataset, path.name, "missing (every stored record must be listed)")
        return None
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        report.problem(dataset, path.name, f"unreadable ({type(err).__name__})")
        return None
    if not rows or rows[0] != ["sample_id", "patient_id", "split"]:
        report.problem(dataset, path.name, "header is not sample_id,patient_id,split")
        return None
    bad = [i for i, r in enumerate(rows[1:], start=2) if len(r) != 3]
    if bad:
        report.problem(dataset, path.name, f"{len(bad)} row(s) without 3 fields (line {bad[0]})")
    return [r for r in rows[1:] if len(r) == 3]


def _examples(ids: Sequence[str] | set[str], n: int = 3) -> str:
    first = sorted(ids)[:n]
    return ", ".join(first) + (", ..." if len(ids) > n else "")


def _check_splits_csv(ds, report: AuditReport, stored: dict[str, tuple[str, str]],
                      single_subject: bool) -> None:
    """splits.csv against itself (duplicates, patient overlap) and against the shards."""
    rows = _splits_csv_rows(ds.path / "splits.csv", report, ds.name)
    if rows is None:
        return
    listed: dict[str, tuple[str, str]] = {}
    duplicated = set()
    patients: dict[str, set[str]] = {}
    for sid, pid, split in rows:
        if sid in listed:
            duplicated.add(sid)
        listed[sid] = (pid, split)
        if pid:
            patients.setdefault(pid, set()).add(split)
    if duplicated:
        report.problem(ds.name, "splits.csv", f"{len(duplicated)} sample_id(s) listed more than "
                       f"once ({_examples(duplicated)})")
    if not single_subject:
        shard_leaks = {(o["patient_id"], tuple(o["splits"])) for o in report.patient_overlaps
                       if o["dataset"] == ds.name}
        for pid, splits_of in sorted(patients.items()):
            if len(splits_of) > 1 and (pid, tuple(sorted(splits_of))) not in shard_leaks:
                report.problem(ds.name, "splits.csv", f"patient {pid} is in splits "
                               f"{', '.join(sorted(splits_of))}")
    missing = set(stored) - set(listed)
    if missing:
        report.problem(ds.name, "splits.csv", f"{len(missing)} stored record(s) not listed "
                       f"({_examples(missing)})")
    extra = set(listed) - set(stored)
    if extra:
        report.problem(ds.name, "splits.csv", f"{len(extra)} listed record(s) not in any shard "
                       f"of manifest.json ({_examples(extra)})")
    for sid in sorted(set(listed) & set(stored)):
        if listed[sid][1] != stored[sid][1]:
            report.split_mismatches.append({"dataset": ds.name, "sample_id": sid,
                                            "store": stored[sid][1],
                                            "splits_csv": listed[sid][1]})
        elif listed[sid][0] != stored[sid][0]:
            report.problem(ds.name, "splits.csv", f"{sid}: patient_id differs from the shard's")


def _check_counts(ds, report: AuditReport, present: dict[str, int],
                  patients: dict[str, set[str]]) -> None:
    """The manifest's per-split sample and patient counts against the rows present."""
    counts = ds.manifest.get("counts") or {}
    for split in sorted(set(counts) | set(present)):
        want = (counts.get(split) or {}).get("samples", 0)
        got = present.get(split, 0)
        if want != got:
            report.problem(ds.name, MANIFEST, f"counts.{split}.samples is {want} but the shards "
                           f"hold {got} {split} record(s)")
        n_patients = len(patients.get(split, ()))
        want_p = (counts.get(split) or {}).get("patients", n_patients)
        if want_p != n_patients:
            report.problem(ds.name, MANIFEST, f"counts.{split}.patients is {want_p} but the "
                           f"shards hold {n_patients}")


def _check_index(ds, report: AuditReport, shard_rows: dict[str, int], total: int,
                 verify_checksums: bool) -> None:
    """``_index/index.parquet`` against the manifest and the shards."""
    entry = ds.manifest.get("index")
    if not entry:
        return
    path = ds.path / entry["path"]
    if not path.exists():
        report.problem(ds.name, entry["path"], "listed in manifest.json but missing on disk")
        return
    if verify_checksums and sha256_file(path) != entry.get("sha256"):
        report.checksum_errors.append({"dataset": ds.name, "path": entry["path"],
                                       "expected": entry.get("sha256"), "got": sha256_file(path)})
    try:
        shards = pq.read_table(path, columns=["shard"]).column("shard").to_pylist()
    except (pa.ArrowException, OSError) as err:
        report.problem(ds.name, entry["path"], f"unreadable ({type(err).__name__}): truncated "
                       "or not Parquet")
        return
    if len(shards) != entry.get("rows") or len(shards) != total:
        report.problem(ds.name, entry["path"], f"has {len(shards)} rows; manifest.json says "
                       f"{entry.get('rows')}, the shards hold {total}")
    per_shard: dict[str, int] = {}
    for name in shards:
        per_shard[name] = per_shard.get(name, 0) + 1
    for name in sorted(set(per_shard) | set(shard_rows)):
        if per_shard.get(name, 0) != shard_rows.get(name, 0):
            report.problem(ds.name, entry["path"], f"indexes {per_shard.get(name, 0)} rows of "
                           f"{name}, which holds {shard_rows.get(name, 0)}")


def _unlisted_parquet(ds, report: AuditReport) -> None:
    """Parquet files in the dataset folder that the manifest does not list (pyarrow.dataset
    and DuckDB globs would read them as part of the dataset)."""
    listed = {s["path"] for s in ds.manifest.get("shards", [])}
    index = (ds.manifest.get("index") or {}).get("path", INDEX)
    for path in sorted(ds.path.rglob("*.parquet")):
        rel = path.relative_to(ds.path).as_posix()
        if rel in listed or rel == index or rel.startswith(".work/"):
            continue
        report.problem(ds.name, rel, "Parquet file not listed in manifest.json (pyarrow.dataset "
                       "and DuckDB would read it as part of the dataset)")


def audit(store: str | Path, names: Sequence[str] | None = None,
          verify_checksums: bool = True) -> AuditReport:
    """Audit the given prepared datasets of ``store`` (all when ``names`` is empty)."""
    report = AuditReport()
    by_hash: dict[str, list[tuple[str, str, str]]] = {}
    text_only: dict[str, bool] = {}
    for ds in open_store(store, names or None):
        report.datasets.append(ds.name)
        patients: dict[str, set[str]] = {}
        stored: dict[str, tuple[str, str]] = {}  # sample_id -> (patient_id, split)
        present: dict[str, int] = {}
        patients_of_split: dict[str, set[str]] = {}
        shard_rows: dict[str, int] = {}
        twice: set[str] = set()
        for shard in ds.manifest.get("shards", []):
            path = ds.path / shard["path"]
            if not path.is_file():
                report.problem(ds.name, shard["path"], "listed in manifest.json but missing on "
                               "disk (its records are gone)")
                continue
            if verify_checksums:
                got = sha256_file(path)
                if got != shard["sha256"]:
                    report.checksum_errors.append({"dataset": ds.name, "path": shard["path"],
                                                   "expected": shard["sha256"], "got": got})
            try:
                pf = pq.ParquetFile(str(path), memory_map=True)
                payload = _payload_columns(pf.schema_arrow)
                groups = [pf.read_row_group(g, columns=["sample_id", "patient_id", "split",
                                                        *payload])
                          for g in range(pf.num_row_groups)]
            except (pa.ArrowException, OSError) as err:
                report.problem(ds.name, shard["path"], f"unreadable ({type(err).__name__}): "
                               "truncated or not Parquet")
                continue
            rows_here = sum(t.num_rows for t in groups)
            shard_rows[shard["path"]] = rows_here
            if rows_here != shard.get("rows"):
                report.problem(ds.name, shard["path"], f"holds {rows_here} rows; manifest.json "
                               f"says {shard.get('rows')}")
            wrong_split = 0
            for table in groups:
                sids = table.column("sample_id").to_pylist()
                pids = table.column("patient_id").to_pylist()
                splits = table.column("split").to_pylist()
                cols = [table.column(c).combine_chunks() for c in payload]
                for i, (sid, pid, split) in enumerate(zip(sids, pids, splits, strict=True)):
                    report.samples += 1
                    present[split] = present.get(split, 0) + 1
                    wrong_split += split != shard.get("split")
                    if sid in stored:
                        twice.add(sid)
                    stored[sid] = (pid or "", split)
                    if pid:
                        patients.setdefault(pid, set()).add(split)
                        patients_of_split.setdefault(split, set()).add(pid)
                    h = hashlib.blake2b(digest_size=16)
                    for name, col in zip(payload, cols, strict=True):
                        cell = col[i]
                        if cell.is_valid:
                            h.update(name.encode() + b"\0")
                            buf = cell.as_buffer() if hasattr(cell, "as_buffer") else None
                            h.update(memoryview(buf) if buf is not None
                                     else str(cell.as_py()).encode())
                    digest = h.hexdigest()
                    by_hash.setdefault(digest, []).append((ds.name, sid, split))
                    text_only[digest] = bool(cols) and all(
                        _is_text(c) for c in cols
                    )
            if wrong_split:
                report.problem(ds.name, shard["path"], f"{wrong_split} row(s) not of split "
                               f"{shard.get('split')}, the shard's split in manifest.json")
        if twice:
            report.problem(ds.name, "shards", f"{len(twice)} sample_id(s) stored more than once "
                           f"({_examples(twice)})")
        single = _single_subject(ds.manifest.get("dataset", ds.name))
        overlaps = report.expected_overlaps if single else report.patient_overlaps
        for pid, splits_of in sorted(patients.items()):
            if len(splits_of) > 1:
                overlaps.append(
                    {"dataset": ds.name, "patient_id": pid, "splits": sorted(splits_of)}
                )
        _check_splits_csv(ds, report, stored, single)
        _check_counts(ds, report, present, patients_of_split)
        _check_index(ds, report, shard_rows, sum(present.values()), verify_checksums)
        _unlisted_parquet(ds, report)
    for digest, samples in sorted(by_hash.items()):
        if len(samples) < 2:
            continue
        if len({s for _, _, s in samples}) > 1:
            target = report.cross_split_duplicates
            if text_only.get(digest):
                target = report.cross_split_text_duplicates
            target.append({
                "hash": digest,
                "samples": [{"dataset": d, "sample_id": s, "split": sp} for d, s, sp in samples],
            })
        else:
            report.within_split_duplicates += len(samples) - 1
    return report
