"""Leakage and integrity audit of a prepared store (`climb audit STORE [NAME...]`).

Reports, and fails on:

- patients of one dataset found in more than one split;
- identical content (hash of every input's bytes) in different splits, within a dataset or
  across the audited datasets;
- shards whose sha256 differs from the manifest, and rows whose split disagrees with
  ``splits.csv``.

Identical content within one split is counted but is not a leak.

Two cases are reported but do not fail, because they are declared or inherent, not leaks:

- a dataset whose catalog entry says ``split.single_subject: true`` (one subject's recording
  split by time) has its one subject in several splits by construction;
- identical *text* in different splits from different patients (short normal reports such as
  "No acute cardiopulmonary abnormality." recur across patients). Identical arrays or encoded
  media in two splits still fail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from climb.split import read_splits_csv
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

    @property
    def ok(self) -> bool:
        return not (self.patient_overlaps or self.cross_split_duplicates
                    or self.checksum_errors or self.split_mismatches)

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


def audit(store: str | Path, names: Sequence[str] | None = None,
          verify_checksums: bool = True) -> AuditReport:
    """Audit the given prepared datasets of ``store`` (all when ``names`` is empty)."""
    report = AuditReport()
    by_hash: dict[str, list[tuple[str, str, str]]] = {}
    text_only: dict[str, bool] = {}
    for ds in open_store(store, names or None):
        report.datasets.append(ds.name)
        patients: dict[str, set[str]] = {}
        csv_path = ds.path / "splits.csv"
        listed = read_splits_csv(csv_path) if csv_path.exists() else {}
        for shard in ds.manifest["shards"]:
            path = ds.path / shard["path"]
            if verify_checksums:
                got = sha256_file(path)
                if got != shard["sha256"]:
                    report.checksum_errors.append({"dataset": ds.name, "path": shard["path"],
                                                   "expected": shard["sha256"], "got": got})
            pf = pq.ParquetFile(str(path), memory_map=True)
            payload = _payload_columns(pf.schema_arrow)
            for g in range(pf.num_row_groups):
                table = pf.read_row_group(g, columns=["sample_id", "patient_id", "split",
                                                      *payload])
                sids = table.column("sample_id").to_pylist()
                pids = table.column("patient_id").to_pylist()
                splits = table.column("split").to_pylist()
                cols = [table.column(c).combine_chunks() for c in payload]
                for i, (sid, pid, split) in enumerate(zip(sids, pids, splits, strict=True)):
                    report.samples += 1
                    if pid:
                        patients.setdefault(pid, set()).add(split)
                    if listed and listed.get(sid, (None, split))[1] != split:
                        report.split_mismatches.append({"dataset": ds.name, "sample_id": sid,
                                                        "store": split,
                                                        "splits_csv": listed[sid][1]})
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
        overlaps = report.patient_overlaps
        if _single_subject(ds.manifest.get("dataset", ds.name)):
            overlaps = report.expected_overlaps
        for pid, splits_of in sorted(patients.items()):
            if len(splits_of) > 1:
                overlaps.append(
                    {"dataset": ds.name, "patient_id": pid, "splits": sorted(splits_of)}
                )
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
