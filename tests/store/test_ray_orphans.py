"""SIGKILL of a `climb prepare --engine ray` that started its own local Ray instance leaves
none of Ray's processes running (GCS server, raylet, workers, dashboard/runtime-env agents)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from climb.store.prepare import THROTTLE_ENV
from tests.store import synthetic


@pytest.mark.slow
def test_killing_a_ray_prepare_leaves_no_ray_process(tmp_path, overlay):
    pytest.importorskip("ray")
    if not sys.platform.startswith("linux"):
        pytest.skip("the guard of Ray's agents is Linux-only")
    raw = synthetic.build(tmp_path / "src", n=12)
    cmd = [
        sys.executable,
        "-m",
        "climb.cli",
        "prepare",
        synthetic.NAME,
        "--raw",
        str(raw),
        "--out",
        str(tmp_path / "out"),
        "--catalog",
        str(overlay),
        "--engine",
        "ray",
        "--workers",
        "2",
        "--chunk-items",
        "1",
    ]
    env = {**os.environ, THROTTLE_ENV: "1.0"}  # slow enough to be killed mid-decode
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    main = psutil.Process(proc.pid)
    seen: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + 90
        while True:  # Ray up, its guard started, tasks running
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "Ray never started its tasks"
            for p in main.children(recursive=True):
                seen.setdefault(p.pid, p)
            names = " ".join(p.name() for p in seen.values() if p.is_running())
            if "ray::process_chunk" in names and "raylet" in names:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        for p in main.children(recursive=True):
            seen.setdefault(p.pid, p)
        agents = [p for p in seen.values() if "Agent" in p.name()]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs(list(seen.values()), timeout=20)
        assert not alive, [(p.pid, p.name()) for p in alive]
        assert agents, "expected Ray's agents among the driver's processes"
    finally:
        for p in seen.values():  # only processes this test's prepare started
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
