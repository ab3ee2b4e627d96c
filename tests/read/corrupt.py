"""Corruptions for reader fuzz tests, and the one rule every reader must follow on them.

A reader given a corrupt file either raises :class:`climb.errors.RecordError` (naming the
file) or returns a correct read; any other exception is a crash, and a read that takes
longer than ``HANG_SECONDS`` is a hang. ``check_reader`` classifies one attempt; the
outcomes of a session are appended to ``$CLIMB_FUZZ_REPORT`` (JSON lines) when it is set,
which is how the closing-note table (tried / clear errors / crashes / silently wrong /
hangs per reader) is counted: ``python -m tests.read.corrupt REPORT.jsonl``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from climb.errors import RecordError

HANG_SECONDS = 20


def truncations(data: bytes, count: int, seed: int, lo: int = 0) -> Iterator[tuple[str, bytes]]:
    """``count`` cuts of ``data`` at random offsets in ``[lo, len(data))`` (seeded)."""
    rng = random.Random(seed)
    for _ in range(count):
        cut = rng.randrange(lo, max(lo + 1, len(data)))
        yield f"truncated at byte {cut} of {len(data)}", data[:cut]


def byte_flips(
    data: bytes, count: int, seed: int, start: int = 0, stop: int | None = None, flips: int = 4
) -> Iterator[tuple[str, bytes]]:
    """``count`` copies of ``data`` with ``flips`` random bytes in ``[start, stop)`` XORed."""
    rng = random.Random(seed)
    stop = len(data) if stop is None else min(stop, len(data))
    for _ in range(count):
        out = bytearray(data)
        where = sorted(rng.randrange(start, max(start + 1, stop)) for _ in range(flips))
        for pos in where:
            out[pos] ^= rng.randrange(1, 256)
        yield f"bytes flipped at {where}", bytes(out)


def generic(data: bytes, seed: int = 0, header_bytes: int = 256) -> Iterator[tuple[str, bytes]]:
    """The corruptions every format gets: empty, truncations, header and body byte flips,
    non-UTF-8 bytes in the header."""
    yield "empty file", b""
    yield from truncations(data, 4, seed)
    yield from byte_flips(data, 3, seed + 1, 0, header_bytes)
    yield from byte_flips(data, 2, seed + 2, header_bytes, None)
    yield "non-UTF-8 header", b"\xff\xfe\x80\x81" + data[4:]


@contextmanager
def _alarm(seconds: int):
    def _raise(signum, frame):
        raise TimeoutError(f"reader ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check_reader(
    reader_name: str,
    read: Callable[[], Any],
    corruption: str,
    expect: Callable[[Any], bool] | None = None,
) -> str:
    """Run ``read()`` on one corrupt input; return ``"error"`` (a RecordError) or ``"ok"``
    (a read that ``expect`` accepts as correct). Fails the test on a crash (any other
    exception), a hang, or a read ``expect`` rejects (silently wrong)."""
    outcome, detail = "ok", ""
    try:
        with _alarm(HANG_SECONDS):
            result = read()
        if expect is not None and not expect(result):
            outcome, detail = "silently wrong", "the read does not match the source"
    except RecordError as err:
        outcome = "error"
        if not err.path:
            outcome, detail = "crash", "RecordError without a file name"
    except TimeoutError as err:
        outcome, detail = "hang", str(err)
    except Exception as err:  # classifying any other exception as a crash is the point
        outcome, detail = "crash", f"{type(err).__name__}: {err}"
    _report(reader_name, corruption, outcome)
    if outcome not in ("error", "ok"):
        raise AssertionError(f"{reader_name} on '{corruption}': {outcome}: {detail}")
    return outcome


def _report(reader: str, corruption: str, outcome: str) -> None:
    path = os.environ.get("CLIMB_FUZZ_REPORT")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"reader": reader, "corruption": corruption,
                                     "outcome": outcome}) + "\n")


def table(report: Path) -> str:
    """The per-reader Markdown table of a fuzz report."""
    rows: dict[str, dict[str, int]] = {}
    for line in report.read_text().splitlines():
        item = json.loads(line)
        counts = rows.setdefault(item["reader"], {})
        counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
    out = ["| reader | tried | clear errors | correct reads | crashes | silently wrong | hangs |",
           "|---|---|---|---|---|---|---|"]
    for reader, c in sorted(rows.items()):
        out.append(f"| {reader} | {sum(c.values())} | {c.get('error', 0)} | {c.get('ok', 0)} | "
                   f"{c.get('crash', 0)} | {c.get('silently wrong', 0)} | {c.get('hang', 0)} |")
    return "\n".join(out)


if __name__ == "__main__":
    print(table(Path(sys.argv[1])))
