"""A pool worker that dies hard (SIGKILL, ``os._exit``: a segfault or the OOM killer) does not
end `prepare`: the item whose decoding kills it is quarantined as ``WorkerDied`` and every
other item is prepared; workers that keep dying stop the run with a clear error."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import pytest

import climb.adapt.testing.synthetic as synthetic_adapter
from climb.errors import ClimbError, RecordError
from climb.store import engines
from climb.store.prepare import prepare
from tests.store import _dying, synthetic

NAME = synthetic.NAME
PARENT_ENV = "CLIMB_TEST_PARENT_PID"
ONCE_ENV = "CLIMB_TEST_DIED_ONCE"
KILLED = {"rec0002": "sigkill", "rec0009": "exit137"}  # item key -> how its decoding dies


class KillingECG(synthetic_adapter.SyntheticECG):
    """The synthetic adapter, but decoding some items kills the worker process."""

    def load(self, raw_dir, item):
        how = KILLED.get(item.key)
        if how is not None:
            if os.getpid() == int(os.environ[PARENT_ENV]):  # never kill the test process
                raise RuntimeError("a killing item was decoded in the test process")
            if how == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(137)
        yield from super().load(raw_dir, item)


class SkippingECG(synthetic_adapter.SyntheticECG):
    """The reference: the same items fail, with a RecordError instead of a dead worker."""

    def load(self, raw_dir, item):
        if item.key in KILLED:
            raise RecordError(item.source, "skipped")
        yield from super().load(raw_dir, item)


def _use(monkeypatch, adapter) -> None:
    monkeypatch.setattr(synthetic_adapter, "ADAPTER", adapter)
    monkeypatch.setattr("climb.store.prepare._ADAPTERS", {})
    monkeypatch.setenv(PARENT_ENV, str(os.getpid()))


def test_item_that_kills_its_worker_is_quarantined_and_the_rest_prepared(
    tmp_path, overlay, monkeypatch, cli
):
    raw = synthetic.build(tmp_path / "src", n=12)
    _use(monkeypatch, KillingECG)
    out = tmp_path / "out"
    result = cli(
        [
            "prepare",
            NAME,
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--catalog",
            str(overlay),
            "--workers",
            "2",
            "--chunk-items",
            "4",
        ]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / NAME / "manifest.json").read_text())
    assert manifest["quarantined"] == [
        {
            "source": "records/rec0002",
            "type": "WorkerDied",
            "where": "signal SIGKILL",
            "error": "records/rec0002: the worker process decoding it died (signal SIGKILL)",
        },
        {
            "source": "records/rec0009",
            "type": "WorkerDied",
            "where": "exit code 137",
            "error": "records/rec0009: the worker process decoding it died (exit code 137)",
        },
    ]
    console = " ".join(result.output.split())
    assert "2 quarantined" in console and "died (signal SIGKILL)" in console
    # every other item is in the store, byte for byte as when those two fail cleanly
    _use(monkeypatch, SkippingECG)
    reference = prepare(
        NAME, raw, tmp_path / "ref", catalog=overlay, workers=1, chunk_items=4, progress=False
    )
    assert sum(s["rows"] for s in manifest["shards"]) == 10
    assert manifest["shards"] == reference["shards"]
    assert (out / NAME / "splits.csv").read_bytes() == (
        tmp_path / "ref" / NAME / "splits.csv"
    ).read_bytes()
    assert not (out / NAME / ".work").exists()


class DyingOnceECG(synthetic_adapter.SyntheticECG):
    """Decoding rec0001 kills the worker the first time only (as the OOM killer might)."""

    def load(self, raw_dir, item):
        marker = Path(os.environ[ONCE_ENV])
        if item.key == "rec0001" and not marker.exists():
            if os.getpid() == int(os.environ[PARENT_ENV]):
                raise RuntimeError("a killing item was decoded in the test process")
            marker.write_text("died once")
            os.kill(os.getpid(), signal.SIGKILL)
        yield from super().load(raw_dir, item)


def test_death_the_item_does_not_repeat_alone_quarantines_nothing(
    tmp_path, overlay, monkeypatch, caplog
):
    raw = synthetic.build(tmp_path / "src", n=4)
    _use(monkeypatch, DyingOnceECG)
    monkeypatch.setenv(ONCE_ENV, str(tmp_path / "died-once"))
    caplog.set_level(logging.WARNING)
    m = prepare(
        NAME, raw, tmp_path / "out", catalog=overlay, workers=2, chunk_items=2, progress=False
    )
    assert (tmp_path / "died-once").exists()  # the worker did die
    assert m["quarantined"] == []
    assert sum(s["rows"] for s in m["shards"]) == 4
    assert "died (signal SIGKILL) decoding records/rec0001, which decodes alone" in caplog.text


def test_engine_replaces_the_job_of_a_dead_worker_and_goes_on():
    deaths: list[tuple[int, int | None]] = []

    def on_death(job, exitcode):
        deaths.append((job, exitcode))
        return [100 + len(deaths)]  # a replacement job

    got = dict(engines.run_local(_dying.square_or_die, [1, -1, 2, -3, 4], 2, on_death))
    assert sorted(deaths) == [(-3, 3), (-1, -signal.SIGKILL)]
    assert got == {1: 1, 2: 4, 4: 16, 101: 101**2, 102: 102**2}
    assert engines.describe_exit(-signal.SIGSEGV) == "signal SIGSEGV"
    assert engines.describe_exit(137) == "exit code 137"


def test_engine_without_on_death_names_the_job_and_exit():
    with pytest.raises(engines.WorkerDied, match="signal SIGKILL") as info:
        list(engines.run_local(_dying.square_or_die, [1, -1], 2))
    assert info.value.job == -1


def test_engine_reraises_a_job_exception():
    with pytest.raises(ValueError, match="job 3 failed"):
        list(engines.run_local(_dying.raise_value_error, [3], 2))


def test_workers_dying_again_and_again_stop_with_a_clear_error():
    calls: list[int] = []

    def retry(job, exitcode):
        calls.append(job)
        return [job]

    with pytest.raises(ClimbError, match=r"died in a row.*exit code 137.*fewer --workers"):
        list(engines.run_local(_dying.always_die, [1, 2], 2, retry))
    assert len(calls) == engines.death_limit(2)  # bounded: no endless respawning


def test_isolated_run_reports_how_the_process_ended():
    assert engines.run_isolated(_dying.square_or_die, 3) == 0
    assert engines.run_isolated(_dying.square_or_die, -1) == -signal.SIGKILL
    assert engines.run_isolated(_dying.square_or_die, -7) == 7
