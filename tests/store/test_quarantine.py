"""`prepare` quarantines any exception one item raises (never dies, never leaks the
exception's text), and decodes a quarantined source again once its files change."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

import climb.adapt.testing.synthetic as synthetic_adapter
from climb.errors import ClimbError, LabelMappingError, RecordError
from climb.store.prepare import prepare
from tests.store import synthetic

NAME = synthetic.NAME
FAKE_NAME = "DOE^JANE"  # stands for a patient name a header could hold

# item key -> the exception its load raises (after real decoding of the record)
FAILURES: dict[str, Exception] = {
    "rec0001": TypeError(f"unsupported operand for PatientName={FAKE_NAME}"),
    "rec0002": AttributeError(f"'NoneType' has no attribute {FAKE_NAME!r}"),
    "rec0003": OverflowError(f"gain of {FAKE_NAME} too large"),
    "rec0004": Image.DecompressionBombError(f"{FAKE_NAME}: image too large"),
    "rec0006": KeyError(FAKE_NAME),
    "rec0007": OSError(errno.EIO, f"I/O error reading {FAKE_NAME}"),
    "rec0008": LabelMappingError(f"native label {FAKE_NAME!r} has no entry"),
    "rec0009": ZeroDivisionError(FAKE_NAME),
    "rec0010": RecordError("records/rec0010.dat", "truncated: 10 of 720 samples"),
}


class FailingECG(synthetic_adapter.SyntheticECG):
    """The synthetic adapter, but some items raise after their record was decoded."""

    def load(self, raw_dir, item):
        records = list(super().load(raw_dir, item))
        if item.key == "rec0011":  # fails after yielding a good record: whole item goes
            yield from records
        if item.key in FAILURES or item.key == "rec0011":
            raise FAILURES.get(item.key, ValueError(f"late failure {FAKE_NAME}"))
        yield from records


@pytest.fixture()
def failing_adapter(monkeypatch):
    monkeypatch.setattr(synthetic_adapter, "ADAPTER", FailingECG)
    monkeypatch.setattr("climb.store.prepare._ADAPTERS", {})


def test_any_exception_quarantines_only_its_item_without_its_text(
    tmp_path, overlay, failing_adapter, cli, caplog
):
    raw = synthetic.build(tmp_path / "src", n=14, corrupt=("rec0005",))
    caplog.set_level(logging.DEBUG)
    result = cli(
        [
            "prepare",
            NAME,
            "--raw",
            str(raw),
            "--out",
            str(tmp_path / "out"),
            "--catalog",
            str(overlay),
            "--workers",
            "1",
            "--chunk-items",
            "4",
        ]
    )
    assert result.exit_code == 0, result.output
    manifest_text = (tmp_path / "out" / NAME / "manifest.json").read_text()
    manifest = json.loads(manifest_text)
    quarantined = {q["source"]: q for q in manifest["quarantined"]}
    expected = {f"records/{k}" for k in [*FAILURES, "rec0005", "rec0011"]}
    assert set(quarantined) == expected
    assert sum(s["rows"] for s in manifest["shards"]) == 14 - len(expected)
    # no exception text anywhere: manifest, console, logs, journal-free store
    for text in (manifest_text, result.output, caplog.text):
        assert FAKE_NAME not in text and "PatientName" not in text
    assert not list((tmp_path / "out").rglob("*.tmp"))
    # type and place of unexpected errors are recorded
    q = quarantined["records/rec0001"]
    assert q["type"] == "TypeError"
    assert q["where"].startswith("tests.store.test_quarantine:load:")
    assert "unexpected error while decoding" in q["error"]
    assert quarantined["records/rec0004"]["type"] == "DecompressionBombError"
    assert "EIO" in quarantined["records/rec0007"]["error"]
    assert "label mapping" in quarantined["records/rec0008"]["error"]
    assert "unexpected" not in quarantined["records/rec0008"]["error"]
    # a RecordError keeps its (PHI-free) message
    assert quarantined["records/rec0010"]["error"] == (
        "records/rec0010.dat: truncated: 10 of 720 samples"
    )
    assert quarantined["records/rec0005"]["type"] == "RecordError"
    assert "unexpected error" in result.output and "quarantined" in result.output


def test_store_io_error_stops_the_run_with_a_clear_message(tmp_path, raw, overlay, monkeypatch):
    def disk_full(path, table):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("climb.store.prepare.write_ipc", disk_full)
    with pytest.raises(ClimbError, match=r"writing the store failed \(No space left"):
        prepare(NAME, raw, tmp_path, catalog=overlay, workers=1, progress=False)


def _fix(raw: Path, clean: Path, record: str) -> None:
    for suffix in (".hea", ".dat"):
        shutil.copyfile(
            clean / "records" / f"{record}{suffix}", raw / "records" / f"{record}{suffix}"
        )


class CountingECG(synthetic_adapter.SyntheticECG):
    """The synthetic adapter, noting which items it decodes."""

    loaded: list[str] = []

    def load(self, raw_dir, item):
        CountingECG.loaded.append(item.key)
        yield from super().load(raw_dir, item)


def test_fixed_source_is_decoded_again_on_resume(tmp_path, overlay, monkeypatch):
    """A run stopped by --max-quarantined; the file is fixed; the rerun decodes the chunk that
    reads it and the chunk never reached, not the finished one, and quarantines nothing."""
    monkeypatch.setattr(synthetic_adapter, "ADAPTER", CountingECG)
    monkeypatch.setattr("climb.store.prepare._ADAPTERS", {})
    monkeypatch.setattr(CountingECG, "loaded", [])
    clean = synthetic.build(tmp_path / "clean", n=9)
    raw = synthetic.build(tmp_path / "src", n=9, corrupt=("rec0004",))
    out = tmp_path / "out"
    with pytest.raises(ClimbError, match="max-quarantined"):
        prepare(
            NAME,
            raw,
            out,
            catalog=overlay,
            workers=1,
            chunk_items=3,
            max_quarantined=0,
            progress=False,
        )
    assert CountingECG.loaded == [f"rec{i:04d}" for i in range(6)]  # chunks 0 and 1
    CountingECG.loaded.clear()
    with pytest.raises(ClimbError, match="max-quarantined"):  # unchanged: nothing redone
        prepare(
            NAME,
            raw,
            out,
            catalog=overlay,
            workers=1,
            chunk_items=3,
            max_quarantined=0,
            progress=False,
        )
    assert CountingECG.loaded == []
    _fix(raw, clean, "rec0004")
    m = prepare(
        NAME, raw, out, catalog=overlay, workers=1, chunk_items=3, max_quarantined=0, progress=False
    )
    assert CountingECG.loaded == [f"rec{i:04d}" for i in range(3, 9)]  # not chunk 0
    assert m["quarantined"] == []
    assert sum(s["rows"] for s in m["shards"]) == 9
    reference = prepare(
        NAME, clean, tmp_path / "ref", catalog=overlay, workers=1, chunk_items=3, progress=False
    )
    assert m["shards"] == reference["shards"]


def test_fixed_source_is_decoded_again_after_a_finished_run(tmp_path, overlay, monkeypatch):
    """A finished run quarantined a file; it is fixed; the rerun decodes only the chunk that
    reads it (the other chunks come back from the store) and equals a run on fixed files."""
    monkeypatch.setattr(synthetic_adapter, "ADAPTER", CountingECG)
    monkeypatch.setattr("climb.store.prepare._ADAPTERS", {})
    monkeypatch.setattr(CountingECG, "loaded", [])
    clean = synthetic.build(tmp_path / "clean", n=9)
    raw = synthetic.build(tmp_path / "src", n=9, corrupt=("rec0004",))
    out = tmp_path / "out"
    kwargs = {
        "catalog": overlay,
        "workers": 1,
        "chunk_items": 3,
        "progress": False,
        "config": {"shard_rows": 2},
    }
    m1 = prepare(NAME, raw, out, **kwargs)
    assert [q["source"] for q in m1["quarantined"]] == ["records/rec0004"]
    _fix(raw, clean, "rec0004")
    CountingECG.loaded.clear()
    m2 = prepare(NAME, raw, out, **kwargs)
    assert CountingECG.loaded == ["rec0003", "rec0004", "rec0005"]
    assert m2["quarantined"] == [] and sum(s["rows"] for s in m2["shards"]) == 9
    reference = prepare(NAME, clean, tmp_path / "ref", **kwargs)
    for name in ("manifest.json", "splits.csv", "_index/index.parquet"):
        assert (out / NAME / name).read_bytes() == (tmp_path / "ref" / NAME / name).read_bytes()
    assert m2["shards"] == reference["shards"]  # same bytes as a run on the fixed files
    # nothing changed since: the finished store is returned as is
    CountingECG.loaded.clear()
    mtime = (out / NAME / "manifest.json").stat().st_mtime_ns
    assert prepare(NAME, raw, out, **kwargs) == m2
    assert (out / NAME / "manifest.json").stat().st_mtime_ns == mtime
    assert CountingECG.loaded == []
    assert not (out / NAME / ".work").exists()


def test_fix_with_same_size_and_mtime_is_seen_by_content(tmp_path, overlay):
    """A header fixed in place with its old size and mtime (e.g. restored with cp -p)."""
    raw = synthetic.build(tmp_path / "src", n=4)
    header = raw / "records" / "rec0001.hea"
    good = header.read_text()
    st = header.stat()
    header.write_text(good.replace(".dat 16 ", ".dat 99 "))  # unknown format code
    os.utime(header, ns=(st.st_atime_ns, st.st_mtime_ns))
    out = tmp_path / "out"
    m1 = prepare(NAME, raw, out, catalog=overlay, workers=1, progress=False)
    assert [q["source"] for q in m1["quarantined"]] == ["records/rec0001"]
    header.write_text(good)
    os.utime(header, ns=(st.st_atime_ns, st.st_mtime_ns))
    m2 = prepare(NAME, raw, out, catalog=overlay, workers=1, progress=False)
    assert m2["quarantined"] == [] and sum(s["rows"] for s in m2["shards"]) == 4
