"""`climb prepare`: layout, manifest, bit-exact round trip, quarantine, determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from climb.errors import ClimbError
from climb.read.wfdb import read_wfdb
from climb.store.prepare import prepare
from climb.store.reader import iter_rows, open_store
from tests.store import synthetic

NAME = synthetic.NAME


def _files(d):
    """The store's files (not prepare's dot-file journal of source fingerprints)."""
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())
            if p.is_file() and not p.name.startswith(".")}


def test_layout_and_manifest(store):
    d = store / NAME
    names = sorted(p.name for p in d.iterdir())
    assert "manifest.json" in names and "splits.csv" in names
    assert not (d / ".work").exists()
    assert not [n for n in names if n.endswith(".tmp")]
    m = json.loads((d / "manifest.json").read_text())
    for key in ("schema_version", "dataset", "catalog_entry_hash", "climb_version", "config",
                "config_hash", "tasks", "shards", "counts", "quarantined", "label_vocabulary"):
        assert key in m, key
    assert m["tasks"] == [
        {"name": "rhythm", "type": "multiclass", "classes": ["normal", "paced", "other"]},
        {"name": "beats", "type": "multilabel", "classes": ["N", "A", "V"]},
    ]
    shard_files = sorted(n for n in names if n.endswith(".parquet"))
    assert shard_files == sorted(s["path"] for s in m["shards"])
    for s in m["shards"]:
        assert s["path"].startswith(s["split"] + "-") and s["path"][-13:-8].isdigit()
        assert pq.ParquetFile(d / s["path"]).metadata.num_rows == s["rows"] <= 4
    from climb.store.index import INDEX
    from climb.store.writer import sha256_file

    assert m["index"] == {"path": INDEX, "rows": 23, "sha256": sha256_file(d / INDEX)}
    index = pq.read_table(d / INDEX)
    assert "input.ecg" not in index.column_names and "input.ecg.nbytes" in index.column_names
    assert index.column("shard").to_pylist()[0] == m["shards"][0]["path"]
    total = sum(c["samples"] for c in m["counts"].values())
    assert total == 23 == sum(s["rows"] for s in m["shards"])  # 24 minus the corrupt one
    assert m["counts"]["train"]["labels"]["rhythm"].keys() == {"normal", "paced", "other",
                                                               "missing"}


def test_schema_and_bit_exact_round_trip(store, raw):
    d = store / NAME
    m = json.loads((d / "manifest.json").read_text())
    table = pq.read_table(d / m["shards"][0]["path"])
    schema = table.schema
    assert schema.field("label.beats").type == pa.list_(pa.float32())
    assert schema.field("label.rhythm").type == pa.int32()
    assert schema.field("input.ecg").metadata[b"climb.kind"] == b"array"
    for col in ("sample_id", "patient_id", "study_id", "split", "dataset", "modality", "meta"):
        assert col in schema.names
    (ds,) = open_store(store, [NAME])
    seen = 0
    for row in iter_rows(ds):
        expected = read_wfdb(raw / "records" / row["sample_id"]).data
        got = row["inputs"]["ecg"]
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes()
        assert row["meta"]["source_file"] == f"records/{row['sample_id']}"
        assert row["input_attrs"]["ecg"]["sampling_rate"] == 360.0
        seen += 1
    assert seen == 23


def test_labels_are_stored_harmonized(store):
    (ds,) = open_store(store, [NAME])
    rows = {r["sample_id"]: r for r in iter_rows(ds)}
    # rhythm cycles normal, paced, other, "" (missing); beats cycles N, N;A, V, N;V, ""
    assert rows["rec0000"]["labels"]["rhythm"] == 0
    assert rows["rec0003"]["labels"]["rhythm"] == -1
    assert rows["rec0001"]["labels"]["beats"].tolist() == [1.0, 1.0, 0.0]
    assert rows["rec0004"]["labels"]["beats"].tolist() == [0.0, 0.0, 0.0]


def test_splits_are_patient_level_and_sorted(store):
    d = store / NAME
    lines = (d / "splits.csv").read_text().splitlines()
    assert lines[0] == "sample_id,patient_id,split"
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    by_patient: dict[str, set[str]] = {}
    for _, patient, split in rows:
        by_patient.setdefault(patient, set()).add(split)
    assert all(len(s) == 1 for s in by_patient.values())
    m = json.loads((d / "manifest.json").read_text())
    for s in m["shards"]:
        ids = pq.read_table(d / s["path"], columns=["sample_id", "split"]).to_pydict()
        assert set(ids["split"]) == {s["split"]}
        assert ids["sample_id"] == sorted(ids["sample_id"])


def test_corrupt_source_is_quarantined(store):
    m = json.loads((store / NAME / "manifest.json").read_text())
    assert len(m["quarantined"]) == 1
    q = m["quarantined"][0]
    assert q["source"] == "records/rec0005"
    assert "rec0005.dat" in q["error"] and "truncated" in q["error"]
    assert "/tmp" not in q["error"]  # paths relative to the raw root


def test_max_quarantined_fails_the_run(tmp_path, raw, overlay):
    with pytest.raises(ClimbError, match="max-quarantined"):
        prepare(NAME, raw, tmp_path, catalog=overlay, workers=1, max_quarantined=0,
                progress=False)
    assert not (tmp_path / NAME / "manifest.json").exists()
    # finished work is kept; with a higher threshold the run completes
    m = prepare(NAME, raw, tmp_path, catalog=overlay, workers=1, max_quarantined=1,
                progress=False)
    assert len(m["quarantined"]) == 1


def test_two_runs_are_byte_identical(tmp_path, raw, overlay, store):
    """Same inputs + config -> same bytes, whatever the worker count and chunking."""
    prepare(NAME, raw, tmp_path, catalog=overlay, workers=2, chunk_items=5,
            config={"shard_rows": 4}, progress=False)
    assert _files(tmp_path / NAME) == _files(store / NAME)


def test_config_change_rebuilds(tmp_path, raw, overlay):
    prepare(NAME, raw, tmp_path, catalog=overlay, workers=1, config={"shard_rows": 3},
            progress=False)
    m1 = json.loads((tmp_path / NAME / "manifest.json").read_text())
    assert prepare(NAME, raw, tmp_path, catalog=overlay, workers=1,
                   config={"shard_rows": 3}, progress=False) == m1  # nothing to do
    m2 = prepare(NAME, raw, tmp_path, catalog=overlay, workers=1,
                 config={"shard_rows": 50, "split_seed": 5}, progress=False)
    assert m2["config_hash"] != m1["config_hash"]
    on_disk = sorted(p.name for p in (tmp_path / NAME).glob("*.parquet"))
    assert on_disk == sorted(s["path"] for s in m2["shards"])


def test_limit(tmp_path, raw, overlay):
    m = prepare(NAME, raw, tmp_path, catalog=overlay, workers=1, limit=5, progress=False)
    assert sum(s["rows"] for s in m["shards"]) == 5  # rec0000-rec0004 (rec0005 is 6th)
    assert m["source"]["items"] == 5 and m["config"]["limit"] == 5


def test_official_split_and_conflicts(tmp_path, overlay):
    folds = {f"rec{i:04d}": ("train" if i < 12 else "test") for i in range(18)}
    folds["rec0013"] = "val"  # patient p004 (rec0012-14) ends up in test and val
    raw = synthetic.build(tmp_path / "src", n=18, folds=folds)
    m = prepare(NAME, raw, tmp_path / "out", catalog=overlay, workers=1, progress=False)
    assert m["counts"]["train"]["samples"] == 12
    assert m["counts"]["val"]["samples"] == 1
    assert m["split"]["patient_conflicts"] == {"p004": ["test", "val"]}
    from climb.store.audit import audit

    report = audit(tmp_path / "out")
    assert not report.ok
    assert report.patient_overlaps == [
        {"dataset": NAME, "patient_id": "p004", "splits": ["test", "val"]}
    ]


def test_split_config_from_cli_values(tmp_path, raw, overlay):
    m = prepare(NAME, raw, tmp_path, catalog=overlay, workers=1,
                config={"split_ratios": "0.5,0.25,0.25", "split_seed": 1}, progress=False)
    assert m["split"]["ratios"] == [0.5, 0.25, 0.25]
    assert m["counts"]["test"]["samples"] + m["counts"]["val"]["samples"] > 0
    assert not math.isnan(m["counts"]["train"]["samples"])


def test_cli_prepare_and_audit(tmp_path, raw, overlay, cli):
    out = tmp_path / "store"
    result = cli(["prepare", NAME, "--raw", str(raw), "--out", str(out), "--catalog",
                  str(overlay), "--workers", "1", "--config", "shard_rows=10"])
    assert result.exit_code == 0, result.output
    assert "prepared" in result.output and "1 quarantined" in result.output
    assert cli(["audit", str(out)]).exit_code == 0
    report = json.loads(cli(["audit", str(out), NAME, "--json"]).output)
    assert report["ok"] and report["samples"] == 23


def test_unknown_dataset_and_missing_raw(tmp_path, overlay):
    with pytest.raises(ClimbError, match="not found"):
        prepare(NAME, tmp_path / "nope", tmp_path, catalog=overlay, progress=False)
    with pytest.raises(ClimbError, match="unknown dataset"):
        prepare("no_such_dataset", tmp_path, tmp_path, catalog=overlay, progress=False)


def test_array_dtypes_round_trip(tmp_path):
    """Every numeric dtype and shape round-trips bit-exactly through the row encoding."""
    from climb.record import Input, Record
    from climb.store.reader import RowGroupView
    from climb.store.writer import build_schema, input_kind, record_row

    arrays = [np.arange(24, dtype=dt).reshape(2, 3, 4) for dt in
              (np.uint8, np.int16, np.float32, np.float64, ">i4")]
    arrays.append(np.asfortranarray(np.random.default_rng(0).random((5, 7))))
    rows, kinds = [], {}
    for i, arr in enumerate(arrays):
        rec = Record(sample_id=f"s{i}", dataset="d", modality="ct",
                     inputs={"volume": Input(arr, spacing=(1.0, 0.5, 0.5))}, labels={})
        kinds["volume"] = input_kind(rec.inputs["volume"])
        rows.append(record_row(rec, "train", []))
    schema = build_schema([], kinds)
    view = RowGroupView(pa.Table.from_pylist(rows, schema=schema), kinds)
    for i, arr in enumerate(arrays):
        got = view.row(i)["inputs"]["volume"]
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)
        assert view.row(i)["input_attrs"]["volume"]["spacing"] == [1.0, 0.5, 0.5]
