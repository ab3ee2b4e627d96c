"""Job functions for the engine tests: imported by spawned workers, so kept import-light."""

from __future__ import annotations

import os
import signal


def square_or_die(job: int) -> int:
    """``job ** 2``; a negative job kills its worker (-1: SIGKILL, other: ``os._exit(-job)``)."""
    if job == -1:
        os.kill(os.getpid(), signal.SIGKILL)
    if job < 0:
        os._exit(-job)
    return job * job


def always_die(job: int) -> int:
    """Every job kills its worker: a machine-wide problem."""
    os._exit(137)


def raise_value_error(job: int) -> int:
    raise ValueError(f"job {job} failed")
