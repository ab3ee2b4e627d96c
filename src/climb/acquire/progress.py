"""Rich progress bars: one per file being fetched, and one for the whole download."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from climb.acquire.http import ProgressHook


class RichProgress(ProgressHook):
    """Progress bars on stderr. Use as a context manager around the download."""

    def __init__(self, total_bytes: int | None, console: Console | None = None):
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._done: dict[str, int] = {}
        self.total = self.progress.add_task("total", total=total_bytes or None)

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def start(self, label: str, total: int | None, completed: int) -> None:
        with self._lock:
            task = self._tasks.get(label)
            if task is None:
                self._tasks[label] = self.progress.add_task(label, total=total,
                                                            completed=completed)
                self._done[label] = completed
                self.progress.advance(self.total, completed)
            else:
                self.progress.update(task, total=total)

    def advance(self, label: str, n: int) -> None:
        with self._lock:
            self.progress.advance(self._tasks[label], n)
            self._done[label] = self._done.get(label, 0) + n
            self.progress.advance(self.total, n)

    def reset(self, label: str, completed: int) -> None:
        with self._lock:
            task = self._tasks.get(label)
            if task is None:
                return
            self.progress.advance(self.total, completed - self._done.get(label, 0))
            self._done[label] = completed
            self.progress.update(task, completed=completed)

    def finish(self, label: str) -> None:
        with self._lock:
            task = self._tasks.pop(label, None)
            if task is not None:
                self.progress.remove_task(task)

    def skipped(self, size: int) -> None:
        """Count a file that was already complete towards the total."""
        with self._lock:
            self.progress.advance(self.total, size)
