"""`climb audit`: passes on a clean store, fails on injected leaks and tampered shards."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from climb.store.audit import audit
from climb.store.writer import sha256_file
from tests.store import synthetic

NAME = synthetic.NAME


@pytest.fixture()
def copy(store, tmp_path):
    dest = tmp_path / "store"
    shutil.copytree(store, dest)
    return dest


def _inject(store_dir, *, new_ids: bool) -> str:
    """Append a train row to a val shard (split column set to val); fix the manifest hash."""
    d = store_dir / NAME
    m = json.loads((d / "manifest.json").read_text())
    train = next(s for s in m["shards"] if s["split"] == "train")
    val = next(s for s in m["shards"] if s["split"] == "val")
    row = pq.read_table(d / train["path"]).slice(0, 1)
    leaked = row.column("sample_id")[0].as_py()
    row = row.set_column(row.schema.get_field_index("split"), "split",
                         pa.array(["val"], pa.string()))
    if new_ids:  # same content under another sample and patient id
        for col in ("sample_id", "patient_id"):
            idx = row.schema.get_field_index(col)
            row = row.set_column(idx, col, pc.binary_join_element_wise(
                row.column(col), pa.array(["copy"]), ""))
    table = pa.concat_tables([pq.read_table(d / val["path"]), row])
    pq.write_table(table, d / val["path"])
    val["sha256"] = sha256_file(d / val["path"])
    val["rows"] += 1
    (d / "manifest.json").write_text(json.dumps(m))
    return leaked


def test_clean_store_passes(store, cli):
    report = audit(store)
    assert report.ok and report.samples == 23
    assert cli(["audit", str(store), NAME]).exit_code == 0


def test_patient_leak_fails(copy, cli):
    leaked = _inject(copy, new_ids=False)
    report = audit(copy)
    assert not report.ok
    assert len(report.patient_overlaps) == 1
    assert report.patient_overlaps[0]["splits"] == ["train", "val"]
    dup = report.cross_split_duplicates[0]["samples"]
    assert {(s["sample_id"], s["split"]) for s in dup} == {(leaked, "train"), (leaked, "val")}
    result = cli(["audit", str(copy)])
    assert result.exit_code == 1
    assert "leak" in result.output and "duplicate" in result.output


def test_duplicate_content_under_new_ids_fails(copy):
    leaked = _inject(copy, new_ids=True)
    report = audit(copy)
    assert not report.ok
    assert report.patient_overlaps == []
    ids = {s["sample_id"] for s in report.cross_split_duplicates[0]["samples"]}
    assert ids == {leaked, leaked + "copy"}


def test_tampered_shard_fails(copy):
    d = copy / NAME
    m = json.loads((d / "manifest.json").read_text())
    path = d / m["shards"][0]["path"]
    table = pq.read_table(path)
    pq.write_table(table, path, compression="gzip")  # same rows, different bytes
    report = audit(copy)
    assert [e["path"] for e in report.checksum_errors] == [m["shards"][0]["path"]]
    assert not report.ok


def test_single_subject_overlap_is_expected_and_text_duplicates_only_warn(tmp_path):
    """Declared single-subject datasets and repeated normal report texts do not fail the audit,
    but are reported; the bundled stores audit clean."""
    from climb import demo_data
    from climb.store.audit import audit
    from climb.store.prepare import prepare

    store = tmp_path / "store"
    for name in ("demo_eeg_eyes", "demo_iu_xray_reports"):
        prepare(name, demo_data.path(name), store, workers=1, progress=False)
    report = audit(store)
    assert report.ok, report.to_dict()
    assert [o["dataset"] for o in report.expected_overlaps] == ["demo_eeg_eyes"]
    assert report.cross_split_text_duplicates  # e.g. identical "no acute disease" reports
    assert not report.patient_overlaps and not report.cross_split_duplicates
