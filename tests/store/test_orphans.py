"""SIGKILL of the `climb prepare` process alone leaves none of its pool workers (or the
multiprocessing resource tracker) running."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import psutil

from climb.store.prepare import THROTTLE_ENV
from tests.store import synthetic

NAME = synthetic.NAME


def test_killing_prepare_leaves_no_worker_alive(tmp_path, raw, overlay):
    env = {**os.environ, THROTTLE_ENV: "0.5"}  # slow enough to be killed mid-decode
    cmd = [
        sys.executable,
        "-m",
        "climb.cli",
        "prepare",
        NAME,
        "--raw",
        str(raw),
        "--out",
        str(tmp_path),
        "--catalog",
        str(overlay),
        "--workers",
        "2",
        "--chunk-items",
        "1",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    main = psutil.Process(proc.pid)
    descendants: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 30
        while len(descendants) < 3:  # two workers + the resource tracker
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the pool never started"
            time.sleep(0.05)
            descendants = main.children(recursive=True)
        chunks = tmp_path / NAME / ".work" / "chunks"
        while not list(chunks.glob("*.json")):  # workers busy decoding
            assert time.monotonic() < deadline, "no chunk finished"
            time.sleep(0.05)
        descendants = main.children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        gone, alive = psutil.wait_procs(descendants, timeout=5)
        assert not alive, [(p.pid, p.name()) for p in alive]
        assert len(gone) >= 3
    finally:
        for p in descendants:  # only the processes this test started
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
