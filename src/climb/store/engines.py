"""Execution engines of `prepare`: the same per-chunk work on a process pool or on Ray.

An engine takes a list of jobs and a picklable function, runs ``fn(job)`` for each, and
yields ``(job, result)`` pairs as they finish (any order: results are journaled by chunk
index, so the output does not depend on completion order).

Pool workers never outlive the process that started them: on Linux each asks the kernel to
SIGKILL it when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and a watchdog thread exits it
when its parent pid changes (every platform). The multiprocessing resource tracker exits by
itself once the parent and the workers, which hold its pipe, are gone.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
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


def run_local(
    fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int
) -> Iterator[tuple[Any, Any]]:
    """Run jobs in a process pool of ``workers`` processes (inline when workers <= 1)."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield job, fn(job)
        return
    # spawn: safe whatever the parent imported (torch, threads); workers import climb once.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=worker_init,
                             initargs=(os.getpid(),)) as pool:
        pending = {}
        queue = list(jobs)
        limit = workers * 2  # bounded in-flight work
        while queue or pending:
            while queue and len(pending) < limit:
                job = queue.pop(0)
                pending[pool.submit(fn, job)] = job
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                job = pending.pop(fut)
                yield job, fut.result()


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
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        elif workers > 0:
            kwargs["num_cpus"] = workers
        ray.init(**kwargs)
        started = True
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
                yield job, ray.get(ref)
    finally:
        if started:
            ray.shutdown()


def run(
    engine: str, fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int, address: str | None
) -> Iterator[tuple[Any, Any]]:
    """Dispatch to :func:`run_local` or :func:`run_ray`."""
    if engine == "local":
        return run_local(fn, jobs, workers)
    if engine == "ray":
        return run_ray(fn, jobs, workers, address)
    raise ClimbError(f"unknown engine {engine!r}; choose one of {ENGINES}")
