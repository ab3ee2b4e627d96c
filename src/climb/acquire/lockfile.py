"""ROOT/NAME/.climb-download.json: size and sha256 of everything fetched, for `climb verify`.

Written atomically (temp file + rename) under a lock, so parallel workers and a killed
process never leave it half-written; with thousands of small files (a --subset of records) it
is saved at most every few seconds and on `flush()`. A file finished but not yet recorded when
the process died is re-hashed (not re-fetched) by the next run. It holds no credentials: URLs
are redacted.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

LOCKFILE = ".climb-download.json"
SCHEMA_VERSION = 1
_CHUNK = 1 << 20


def sha256_file(path: Path, progress=None) -> str:
    """The sha256 of a file, read in 1 MiB chunks (`progress(n)` called per chunk)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


def digests_file(path: Path, algos: tuple[str, ...] = ("sha256",)) -> dict[str, str]:
    """Several digests of a file (e.g. sha256 and a publisher's md5) in one read."""
    hashers = {a: hashlib.new(a) for a in dict.fromkeys(algos)}
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


class Lockfile:
    """The download record of one dataset directory."""

    def __init__(self, dataset_dir: Path, dataset: str, save_every: float = 2.0):
        self.path = dataset_dir / LOCKFILE
        self.dataset = dataset
        self.save_every = save_every
        self._lock = threading.Lock()
        self._dirty = False
        self._saved_at = 0.0
        self.data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION, "dataset": dataset, "files": {}, "extracted": {},
        }
        if self.path.is_file():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError:
                loaded = None  # a corrupt record is rebuilt from what is on disk
            if isinstance(loaded, dict) and isinstance(loaded.get("files"), dict):
                self.data.update(loaded)
                self.data.setdefault("extracted", {})

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.data["files"]

    def entry(self, rel: str) -> dict[str, Any] | None:
        return self.files.get(rel)

    def record(self, rel: str, size: int, sha256: str, url: str | None = None,
               publisher: dict[str, str] | None = None) -> None:
        """Record one fetched (or verified) file and save.

        `publisher` is the publisher's checksum the file was verified against
        (``{"algo", "digest", "from"}``), re-checked by `climb verify`.
        """
        with self._lock:
            self.files[rel] = {
                "size": size, "sha256": sha256, "url": url,
                "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            if publisher:
                self.files[rel]["publisher"] = dict(publisher)
            self._dirty = True
            if time.monotonic() - self._saved_at >= self.save_every:
                self._save()

    def flush(self) -> None:
        """Save pending records now."""
        with self._lock:
            if self._dirty:
                self._save()

    def record_extracted(self, rel: str, members: int, sha256: str) -> None:
        with self._lock:
            self.data["extracted"][rel] = {"members": members, "archive_sha256": sha256}
            self._save()

    def set_mode(self, mode: str) -> None:
        """"full" (catalog sources) or "subset" (records of a --subset download)."""
        with self._lock:
            if self.data.get("mode") != mode:
                self.data["mode"] = "mixed" if self.data.get("mode") else mode
                self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
        self._dirty = False
        self._saved_at = time.monotonic()
