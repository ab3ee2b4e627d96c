"""Execution engines of `prepare`: the same per-chunk work on a process pool or on Ray.

An engine takes a list of jobs and a picklable function, runs ``fn(job)`` for each, and
yields ``(job, result)`` pairs as they finish (any order: results are journaled by chunk
index, so the output does not depend on completion order).

Pool workers never outlive the process that started them: on Linux each asks the kernel to
SIGKILL it when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and a watchdog thread exits it
when its parent pid changes (every platform). The multiprocessing resource tracker exits by
itself once the parent and the workers, which hold its pipe, are gone. Each local worker runs
one job at a time, so a worker that dies hard is tied to its job (see :func:`run_local`).
A local Ray instance started here is guarded too (:class:`RayGuard`): Ray ends its GCS
server, raylet and workers with a killed driver but leaves its agents running.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as mp_wait
from typing import Any

from climb.errors import ClimbError

ENGINES = ("local", "ray")
PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCHDOG_INTERVAL_S = 0.5


def _exit_when_orphaned(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(WATCHDOG_INTERVAL_S)


def worker_init(parent_pid: int) -> None:
    """Pool initializer: tie this worker's life to its parent's (``parent_pid``)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog still works
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True,
                     name="climb-parent-watchdog").start()


def describe_exit(exitcode: int | None) -> str:
    """``signal SIGKILL`` / ``exit code 137``: how a worker process ended (no other text)."""
    if exitcode is None:
        return "exit code unknown"
    if exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerDied(Exception):
    """A worker process ended (signal, ``os._exit``, OOM killer) while it ran a job."""

    def __init__(self, exitcode: int | None, job: Any = None):
        self.exitcode = exitcode
        self.job = job
        super().__init__(describe_exit(exitcode))


def _worker_main(conn: Connection, parent_pid: int, fn: Callable[[Any], Any],
                 preload: tuple[str, ...] = ()) -> None:
    """Body of a pool worker: import the ``preload`` modules (e.g. the adapter's, while the
    parent still lists the items), then run the jobs received on ``conn`` one at a time, send
    back ``("ok", result)`` or ``("error", exception)``; stop on ``None`` or a closed pipe."""
    worker_init(parent_pid)
    for module in preload:
        with contextlib.suppress(Exception):  # the job's own import reports the problem
            importlib.import_module(module)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(job))
        except Exception as err:  # re-raised by the parent, like ProcessPoolExecutor does
            reply = ("error", err)
        try:
            conn.send(reply)
        except Exception as err:  # an unpicklable result or exception
            conn.send(("error", ClimbError(f"a worker's reply cannot be sent back "
                                           f"({type(err).__name__})")))


class _Worker:
    """One spawned worker process and the parent's end of its pipe."""

    def __init__(self, ctx: Any, fn: Callable[[Any], Any], preload: tuple[str, ...] = ()):
        self.conn, child = ctx.Pipe()
        # not daemonic: a worker may start processes of its own
        self.process = ctx.Process(target=_worker_main, args=(child, os.getpid(), fn, preload),
                                   daemon=False, name="climb-prepare-worker")
        self.process.start()
        child.close()
        self.job: Any = None

    def stop(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()

    def kill(self) -> int | None:
        """Reap a worker that died (or kill one that hangs); its exit code."""
        self.process.join(1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        return self.process.exitcode


def run_isolated(fn: Callable[[Any], Any], job: Any) -> int | None:
    """Run ``fn(job)`` alone in a fresh worker process; 0 when it returned or raised, else
    the process's exit code (negative: the signal that ended it). The result is dropped."""
    ctx = multiprocessing.get_context("spawn")
    worker = _Worker(ctx, fn)
    try:
        worker.conn.send(job)
        mp_wait([worker.conn, worker.process.sentinel])
        if worker.conn.poll():
            with contextlib.suppress(EOFError, OSError):
                worker.conn.recv()
                return 0
        return worker.kill()
    finally:
        if worker.process.is_alive():
            worker.stop()


class LocalWorkers:
    """Worker processes started ahead of :func:`run_local` (``prepare`` starts them before it
    lists the items, so that their start-up - a new interpreter importing climb and the
    adapter's libraries, about a second each - overlaps the parent's listing). Stop the ones
    no run took with :meth:`stop`."""

    def __init__(self, fn: Callable[[Any], Any], workers: int, preload: Sequence[str] = ()):
        ctx = multiprocessing.get_context("spawn")  # see run_local
        self.fn = fn
        self.idle = [_Worker(ctx, fn, tuple(preload)) for _ in range(max(0, workers))]

    def take(self) -> list[_Worker]:
        """Hand the started workers over (to :func:`run_local`, which stops them)."""
        taken, self.idle = self.idle, []
        return taken

    def stop(self) -> None:
        """End the workers no run took (at once: they hold no work)."""
        for worker in self.take():
            worker.stop(timeout=0)


def run_local(
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    workers: int,
    on_death: Callable[[Any, int | None], list[Any]] | None = None,
    started: LocalWorkers | None = None,
) -> Iterator[tuple[Any, Any]]:
    """Run jobs in ``workers`` spawned worker processes (inline when workers <= 1), first
    the ones ``started`` ahead (for the same ``fn``).

    Each worker runs one job at a time, so a worker that dies (a segfault, ``os._exit``, the
    OOM killer) is tied to the job it held; the other workers carry on. ``on_death(job,
    exitcode)`` returns the jobs to run in its place (e.g. the job without the item that
    killed it); without it, or after more than :func:`death_limit` deaths in a row with no
    job finished (a machine-wide problem, not one bad input), the run stops with a
    :class:`~climb.errors.ClimbError` (:class:`WorkerDied` without ``on_death``).
    """
    if workers <= 1:
        for job in jobs:
            yield job, fn(job)
        return
    # spawn: safe whatever the parent imported (torch, threads); workers import climb once.
    ctx = multiprocessing.get_context("spawn")
    queue = deque(jobs)
    idle: list[_Worker] = started.take() if started is not None and started.fn is fn else []
    busy: list[_Worker] = []
    limit = death_limit(workers)
    deaths: list[str] = []  # since the last finished job
    try:
        while queue or busy:
            while queue and len(busy) < workers:
                worker = idle.pop() if idle else _Worker(ctx, fn)
                worker.job = queue.popleft()
                busy.append(worker)
                with contextlib.suppress(OSError):  # a dead worker is found below
                    worker.conn.send(worker.job)
            ready = set(mp_wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for worker in list(busy):
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                job, reply = worker.job, None
                if worker.conn.poll():
                    with contextlib.suppress(EOFError, OSError):
                        reply = worker.conn.recv()
                busy.remove(worker)
                if reply is None:  # the process ended without a reply: it died
                    exitcode = worker.kill()
                    deaths.append(describe_exit(exitcode))
                    if on_death is None:
                        raise WorkerDied(exitcode, job)
                    if len(deaths) > limit:
                        raise ClimbError(
                            f"{len(deaths)} worker processes died in a row with no work "
                            f"finished ({', '.join(sorted(set(deaths)))}): a problem of the "
                            "machine (out of memory? a broken native library?), not of one "
                            "input; try fewer --workers"
                        )
                    queue.extendleft(reversed(on_death(job, exitcode)))
                    continue
                idle.append(worker)
                status, value = reply
                if status == "error":
                    raise value
                deaths.clear()
                yield job, value
    finally:
        for worker in idle + busy:  # one started ahead that got no job may still be importing
            worker.stop(timeout=0 if busy or worker.job is None else 5.0)


def death_limit(workers: int) -> int:
    """How many worker deaths in a row (no job finished in between) stop a run: a few bad
    inputs being decoded at once are expected, every worker dying over and over is not."""
    return 2 * max(1, workers) + 2


# Run by a guard process: reads its stdin until the driver says "done" or dies (EOF), then
# SIGKILLs the listed Ray processes that are still the same processes (same start time).
_RAY_GUARD = """
import json, os, signal, sys
procs = json.loads(sys.argv[1])
if sys.stdin.readline().strip() == "done":
    sys.exit(0)
def started(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
for pid, start in procs:
    if started(pid) == start:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
"""


def _proc_table() -> dict[int, tuple[int, str]]:
    """Linux: pid -> (parent pid, start time) of every process, from /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            table[int(name)] = (int(fields[1]), fields[19])
        except (OSError, IndexError, ValueError):
            continue
    return table


def _descendants(pid: int) -> list[tuple[int, str]]:
    """Linux: (pid, start time) of every descendant of ``pid``."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    out, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out.append((child, table[child][1]))
        todo += children.get(child, [])
    return out


def existing_children() -> set[int]:
    """Linux: the pids of the current process's descendants now (empty elsewhere)."""
    if not sys.platform.startswith("linux"):
        return set()
    return {pid for pid, _ in _descendants(os.getpid())}


class RayGuard:
    """Kills the processes of the local Ray instance a driver started when the driver dies
    without ``ray.shutdown()`` (SIGKILL, OOM killer). Ray ends its GCS server, raylet and
    workers with the driver, but its dashboard and runtime-env agents, reparented to init,
    live on; a small guard process, holding the read end of a pipe only the driver writes,
    sees EOF when the driver dies and kills what is left of the processes the driver had
    started. Linux only (elsewhere: a no-op)."""

    def __init__(self, before: set[int] | None = None) -> None:
        """``before``: the driver's descendants before Ray started (``existing_children()``);
        only processes that were not there then are guarded, so a notebook's or a test
        runner's own children are never touched."""
        self.process: subprocess.Popen[bytes] | None = None
        if not sys.platform.startswith("linux"):
            return
        procs = [(pid, start) for pid, start in _descendants(os.getpid())
                 if pid not in (before or set())]
        if procs:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _RAY_GUARD, json.dumps(procs)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C of the terminal does not end it first
            )

    def release(self) -> None:
        """The driver shut Ray down itself: let the guard exit without killing anything."""
        if self.process is None:
            return
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.write(b"done\n")
            self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.process = None


def run_ray(
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    workers: int,
    address: str | None = None,
) -> Iterator[tuple[Any, Any]]:
    """Run jobs as Ray tasks (``address``: a cluster, "auto", or None for a local instance)."""
    try:
        import ray
    except ImportError as err:  # pragma: no cover - ray is a dependency
        raise ClimbError("the ray engine needs `pip install ray`") from err
    started = False
    before = existing_children()
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        elif workers > 0:
            kwargs["num_cpus"] = workers
        ray.init(**kwargs)
        started = True
    guard = RayGuard(before) if started and not address else None
    try:
        remote = ray.remote(fn)
        limit = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        queue = list(jobs)
        pending: dict[Any, Any] = {}
        while queue or pending:
            while queue and len(pending) < limit:
                job = queue.pop(0)
                pending[remote.remote(job)] = job
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except (ray.exceptions.WorkerCrashedError,
                        ray.exceptions.OutOfMemoryError) as err:  # after Ray's own retries
                    raise WorkerDied(None, job) from err
                yield job, result
    finally:
        if started:
            ray.shutdown()
        if guard is not None:
            guard.release()


def run(
    engine: str,
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    workers: int,
    address: str | None,
    on_death: Callable[[Any, int | None], list[Any]] | None = None,
    started: LocalWorkers | None = None,
) -> Iterator[tuple[Any, Any]]:
    """Dispatch to :func:`run_local` (``on_death``, ``started``: see there) or
    :func:`run_ray`."""
    if engine == "local":
        return run_local(fn, jobs, workers, on_death, started)
    if engine == "ray":
        return run_ray(fn, jobs, workers, address)
    raise ClimbError(f"unknown engine {engine!r}; choose one of {ENGINES}")
