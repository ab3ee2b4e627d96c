"""Which raw files each work item reads, and their fingerprints (for `prepare`'s journal).

An item's files come from the adapter's ``item_files(raw_dir, item)`` when it defines one;
otherwise from its ``source`` path: every file under it when it is a folder, else the file
itself and the files beside it that share its stem (a WFDB record ``records/rec1`` reads
``records/rec1.hea`` and ``records/rec1.dat``; ``a.edf`` also reads ``a.rec``), or the archive
that holds it (``reports.tgz/a/1.xml``). A file's fingerprint is its (size, mtime_ns);
quarantined items also get a content hash, so a fix that keeps size and mtime is still seen.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from climb.adapt.base import Adapter, Item

CONTENT_HASH_LIMIT = 256 * 1024 * 1024  # bytes per item; larger items rely on (size, mtime)


class SourceFiles:
    """Files and fingerprints of the items of one raw folder (directory listings cached)."""

    def __init__(self, adapter: Adapter, raw: Path):
        self.adapter = adapter
        self.raw = Path(raw)
        self._listings: dict[Path, list[str]] = {}
        self._hook = getattr(adapter, "item_files", None)

    def _listing(self, folder: Path) -> list[str]:
        if folder not in self._listings:
            try:
                self._listings[folder] = sorted(os.listdir(folder))
            except OSError:
                self._listings[folder] = []
        return self._listings[folder]

    def files(self, item: Item) -> list[Path]:
        """The raw files ``item`` reads (sorted)."""
        if callable(self._hook):
            return sorted(Path(p) for p in self._hook(self.raw, item))
        path = self.raw / item.source
        if path.is_dir():
            return sorted(p for p in path.rglob("*") if p.is_file())
        out = set(self._siblings(path.parent, path.stem + "."))
        if path.is_file():
            out.add(path)
        if not out:  # a member of an archive ("reports.tgz/a/1.xml"): the archive file
            for parent in path.parents:
                if parent == self.raw or self.raw not in parent.parents:
                    break
                if parent.is_file():
                    return [parent]
        return sorted(out)

    def _siblings(self, folder: Path, prefix: str) -> list[Path]:
        """Files of ``folder`` whose names start with ``prefix`` (``rec1.`` -> rec1.hea...)."""
        names = self._listing(folder)
        out = []
        for name in names[bisect.bisect_left(names, prefix) :]:
            if not name.startswith(prefix):
                break
            out.append(folder / name)
        return out

    def stat_key(self, item: Item) -> list[tuple[str, int, int]]:
        """(relative path, size, mtime_ns) of each file of ``item``; missing files are absent."""
        out = []
        for path in self.files(item):
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((self._relative(path), st.st_size, st.st_mtime_ns))
        return out

    def content_hash(self, item: Item) -> str:
        """sha256 over the names and bytes of the files of ``item`` ("" when too large)."""
        files = self.files(item)
        try:
            if sum(p.stat().st_size for p in files) > CONTENT_HASH_LIMIT:
                return ""
            h = hashlib.sha256()
            for path in files:
                h.update(self._relative(path).encode() + b"\0")
                with path.open("rb") as fh:
                    while block := fh.read(1 << 20):
                        h.update(block)
                h.update(b"\0")
        except OSError:
            return "unreadable"
        return h.hexdigest()

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.raw).as_posix()
        except ValueError:
            return path.as_posix()


def fingerprint(keys: Any) -> str:
    """sha256 of a JSON-able structure of stat keys."""
    return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()
