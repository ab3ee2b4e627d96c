"""`climb audit` fails (exit 1, the file named, no traceback) on every inconsistency between
manifest.json, splits.csv, the shards on disk and the index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from climb.store.audit import audit
from tests.store import synthetic

NAME = synthetic.NAME


@pytest.fixture()
def copy(store, tmp_path) -> Path:
    dest = tmp_path / "store"
    shutil.copytree(store, dest)
    return dest


def _manifest(store: Path) -> dict:
    return json.loads((store / NAME / "manifest.json").read_text())


def _save_manifest(store: Path, manifest: dict) -> None:
    (store / NAME / "manifest.json").write_text(json.dumps(manifest))


def _csv_rows(store: Path) -> list[list[str]]:
    return [line.split(",") for line in (store / NAME / "splits.csv").read_text().splitlines()]


def _save_csv(store: Path, rows: list[list[str]]) -> None:
    (store / NAME / "splits.csv").write_text("".join(",".join(r) + "\n" for r in rows))


def _fails_naming(store: Path, cli, file: str, words: str) -> list[dict]:
    """The audit fails; an integrity error names ``file`` and says ``words``; the CLI exits 1
    and prints it."""
    report = audit(store)
    assert not report.ok
    hits = [e for e in report.integrity_errors if e["file"] == file and words in e["problem"]]
    assert hits, report.integrity_errors
    result = cli(["audit", str(store)])
    assert result.exit_code == 1
    assert file in result.output and "Traceback" not in result.output
    return hits


def test_clean_store_has_no_integrity_errors(store):
    assert audit(store).integrity_errors == []


def test_patient_in_two_splits_only_in_splits_csv(copy, cli):
    rows = _csv_rows(copy)
    by_split = {r[2]: r for r in rows[1:]}
    train, other = by_split["train"], next(r for s, r in by_split.items() if s != "train")
    other[1] = train[1]  # a patient of train now also listed in another split
    _save_csv(copy, rows)
    _fails_naming(copy, cli, "splits.csv", f"patient {train[1]} is in splits")


def test_deleted_splits_csv_row(copy, cli):
    rows = _csv_rows(copy)
    gone = rows.pop(3)
    _save_csv(copy, rows)
    _fails_naming(copy, cli, "splits.csv", "1 stored record(s) not listed")
    assert gone[0] in audit(copy).integrity_errors[0]["problem"]


def test_added_splits_csv_row(copy, cli):
    rows = _csv_rows(copy)
    rows.append(["rec9999", "p999", "test"])
    _save_csv(copy, rows)
    _fails_naming(copy, cli, "splits.csv", "1 listed record(s) not in any shard")


def test_missing_splits_csv(copy, cli):
    (copy / NAME / "splits.csv").unlink()
    _fails_naming(copy, cli, "splits.csv", "missing")


def test_shard_removed_from_manifest(copy, cli):
    m = _manifest(copy)
    removed = m["shards"].pop(0)
    _save_manifest(copy, m)
    _fails_naming(copy, cli, removed["path"], "not listed in manifest.json")
    problems = {e["file"] for e in audit(copy).integrity_errors}
    assert {"manifest.json", "splits.csv", "_index/index.parquet"} <= problems


def test_unlisted_parquet_file(copy, cli):
    d = copy / NAME
    first = _manifest(copy)["shards"][0]["path"]
    pq.write_table(pq.read_table(d / first), d / "extra.parquet")
    _fails_naming(copy, cli, "extra.parquet", "not listed in manifest.json")
    (d / "extra.parquet").unlink()
    (d / "more").mkdir()
    pq.write_table(pq.read_table(d / first), d / "more" / "part.parquet")
    _fails_naming(copy, cli, "more/part.parquet", "not listed in manifest.json")


def test_truncated_shard(copy, cli):
    shard = _manifest(copy)["shards"][1]["path"]
    path = copy / NAME / shard
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _fails_naming(copy, cli, shard, "unreadable")
    assert [e["path"] for e in audit(copy).checksum_errors] == [shard]


def test_deleted_shard(copy, cli):
    shard = _manifest(copy)["shards"][1]["path"]
    (copy / NAME / shard).unlink()
    _fails_naming(copy, cli, shard, "missing on disk")


def test_manifest_counts_differ_from_rows(copy, cli):
    m = _manifest(copy)
    m["counts"]["train"]["samples"] += 1
    _save_manifest(copy, m)
    _fails_naming(copy, cli, "manifest.json", "counts.train.samples")


def test_shard_rows_differ_from_manifest(copy, cli):
    m = _manifest(copy)
    m["shards"][0]["rows"] += 1
    _save_manifest(copy, m)
    _fails_naming(copy, cli, m["shards"][0]["path"], "manifest.json says")


def test_missing_index(copy, cli):
    (copy / NAME / "_index" / "index.parquet").unlink()
    _fails_naming(copy, cli, "_index/index.parquet", "missing on disk")
