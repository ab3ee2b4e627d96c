"""Killing `prepare` (SIGKILL) at any point and running it again: finished work is kept and
the result is byte-identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from climb.store.prepare import THROTTLE_ENV, prepare
from tests.store import synthetic

NAME = synthetic.NAME
ARGS = ["--workers", "1", "--chunk-items", "3", "--config", "shard_rows=2"]


def _start(raw: Path, out: Path, overlay: Path, throttle: float) -> subprocess.Popen:
    env = {**os.environ, THROTTLE_ENV: str(throttle)}
    cmd = [sys.executable, "-m", "climb.cli", "prepare", NAME, "--raw", str(raw), "--out",
           str(out), "--catalog", str(overlay), *ARGS]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"prepare ended before the kill: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("prepare made no progress")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _stat(paths) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, raw, overlay) -> Path:
    out = tmp_path_factory.mktemp("reference")
    prepare(NAME, raw, out, catalog=overlay, workers=1, chunk_items=3,
            config={"shard_rows": 2}, progress=False)
    return out / NAME


def _same_as_reference(d: Path, reference: Path) -> None:
    for name in ("manifest.json", "splits.csv"):
        assert (d / name).read_bytes() == (reference / name).read_bytes(), name
    assert sorted(p.name for p in d.iterdir()) == sorted(p.name for p in reference.iterdir())


def test_kill_during_decode_then_resume(tmp_path, raw, overlay, reference):
    chunks = tmp_path / NAME / ".work" / "chunks"
    proc = _start(raw, tmp_path, overlay, throttle=0.05)
    _kill_when(proc, lambda: len(list(chunks.glob("*.json"))) >= 2)
    done = sorted(chunks.glob("*.json"))
    before = _stat([*done, *(p.with_suffix(".arrow") for p in done)])
    # second interrupted run: the chunks finished by the first are not redone
    proc = _start(raw, tmp_path, overlay, throttle=0.05)
    _kill_when(proc, lambda: len(list(chunks.glob("*.json"))) >= len(done) + 2)
    assert _stat(Path(chunks / name) for name in before) == before
    prepare(NAME, raw, tmp_path, catalog=overlay, workers=1, chunk_items=3,
            config={"shard_rows": 2}, progress=False)
    _same_as_reference(tmp_path / NAME, reference)


def test_kill_during_shard_writing_then_resume(tmp_path, raw, overlay, reference):
    d = tmp_path / NAME
    proc = _start(raw, tmp_path, overlay, throttle=0.03)
    _kill_when(proc, lambda: len(list(d.glob("*.parquet"))) >= 2)
    before = _stat(d.glob("*.parquet"))
    assert not (d / "manifest.json").exists()
    prepare(NAME, raw, tmp_path, catalog=overlay, workers=1, chunk_items=3,
            config={"shard_rows": 2}, progress=False)
    after = _stat(d.glob("*.parquet"))
    assert {k: after[k] for k in before} == before  # finished shards untouched
    assert len(after) > len(before)
    _same_as_reference(d, reference)
