"""A downloader killed with SIGKILL mid-file resumes from the bytes on disk."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

from climb.acquire import download
from tests.acquire.conftest import entry

SCRIPT = (
    "import sys; from climb.acquire import download; "
    "download(['slow'], sys.argv[1], catalog=sys.argv[2], progress=False)"
)


def test_resume_after_sigkill(server, overlay, tmp_path):
    data = os.urandom(600_000)
    url = server.add("/slow.bin", data, trickle=(4096, 0.005))  # ~0.8 MB/s
    ov = overlay(entry("slow", [{"url": url, "path": "slow.bin",
                                 "sha256": hashlib.sha256(data).hexdigest()}]))
    root = tmp_path / "raw"
    part = root / "slow" / "slow.bin.part"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(root), str(ov)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size > 100_000):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    have = part.stat().st_size
    assert 0 < have < len(data) and not (root / "slow" / "slow.bin").exists()

    server.files["/slow.bin"].trickle = None
    report = download("slow", root, catalog=ov, progress=False)
    last = server.requests("/slow.bin")[-1]
    assert last.range == f"bytes={have}-" and last.status == 206
    assert last.body_bytes == len(data) - have  # what was on disk was not fetched again
    assert report.transferred == len(data) - have
    assert (root / "slow" / "slow.bin").read_bytes() == data
