"""What makes `prepare` scale with workers: chunk size adapted to the dataset, workers started
before the items are listed (and reused by the run), a cheap per-item crash note."""

from __future__ import annotations

import os
import time

from climb.store import engines
from climb.store.prepare import (
    DEFAULT_CHUNK_ITEMS,
    MIN_CHUNKS,
    _note_progress,
    _read_progress,
    auto_chunk_items,
    prepare,
)
from tests.store import synthetic

NAME = synthetic.NAME


def worker_pid(job: int) -> tuple[int, int]:
    """A job that says which process ran it (module level: picklable for spawn)."""
    return job, os.getpid()


def test_auto_chunk_items_gives_small_datasets_enough_chunks():
    assert auto_chunk_items(0) == 1
    assert auto_chunk_items(1) == 1
    assert auto_chunk_items(24) == 2  # 12 chunks, not one of 24
    assert auto_chunk_items(100) == 7  # ceil(100 / 16)
    assert auto_chunk_items(MIN_CHUNKS * DEFAULT_CHUNK_ITEMS) == DEFAULT_CHUNK_ITEMS
    assert auto_chunk_items(100_000) == DEFAULT_CHUNK_ITEMS
    for n in (1, 5, 16, 17, 40, 511, 513):
        chunks = -(-n // auto_chunk_items(n))
        assert chunks >= min(n, MIN_CHUNKS // 2 + 1)


def test_progress_note_keeps_only_the_latest_position(tmp_path):
    path = tmp_path / "000000.progress"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for position in (0, 12, 3):  # a shorter number after a longer one
            _note_progress(fd, position)
            assert _read_progress(str(path)) == position
    finally:
        os.close(fd)


def test_run_local_uses_the_workers_started_ahead():
    started = engines.LocalWorkers(worker_pid, 2, ["climb.store.prepare"])
    ahead = {w.process.pid for w in started.idle}
    try:
        results = dict(engines.run_local(worker_pid, list(range(6)), 2, started=started))
    finally:
        started.stop()
    assert sorted(results) == list(range(6))
    assert {pid for _, pid in results.values()} <= ahead  # no other process was spawned
    assert started.idle == []  # handed over to the run, which stopped them


def test_unused_started_workers_stop_at_once():
    started = engines.LocalWorkers(worker_pid, 2, ["climb.store.prepare"])
    processes = [w.process for w in started.idle]
    begin = time.perf_counter()
    started.stop()
    assert time.perf_counter() - begin < 3.0  # not a wait for their imports
    assert all(not p.is_alive() for p in processes)


def test_two_workers_auto_chunks_same_bytes_as_one_worker(tmp_path, raw, overlay, store):
    """Workers started before the listing, default chunk size: the session store's bytes."""
    prepare(
        NAME, raw, tmp_path, catalog=overlay, workers=2, config={"shard_rows": 4}, progress=False
    )
    ours, ref = tmp_path / NAME, store / NAME
    files = sorted(p.name for p in ours.iterdir() if p.is_file() and p.name[0] != ".")
    assert files == sorted(p.name for p in ref.iterdir() if p.is_file() and p.name[0] != ".")
    for name in files:
        assert (ours / name).read_bytes() == (ref / name).read_bytes(), name
