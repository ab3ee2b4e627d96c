"""Safe, resumable extraction of zip and tar (plain, gz, bz2, xz) archives.

Every member is checked before anything is written; the whole archive is refused when one
member has an absolute path or a ``..`` component, is a link pointing outside the target, or is
a device/FIFO, or when the declared uncompressed size exceeds ``max_ratio`` times the archive's
size on disk (a decompression bomb). Members are written to a temporary name and renamed, so a
killed run leaves no truncated file under its real name; members already in place with their
declared size are skipped, and a marker per archive makes a finished extraction a no-op.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from climb.acquire.errors import UnsafeArchiveError

log = logging.getLogger("climb.acquire")

ENV_MAX_RATIO = "CLIMB_MAX_EXTRACT_RATIO"
DEFAULT_MAX_RATIO = 200.0
MARKER_DIR = ".climb-extracted"
_TMP_SUFFIX = ".climb-tmp"


@dataclass
class _Member:
    name: str  # normalised relative posix path
    kind: str  # "file" | "dir" | "symlink" | "hardlink"
    size: int
    link: str = ""  # symlink target (as stored) or hardlink source (archive path)
    ref: object = None  # ZipInfo or TarInfo


def is_archive(path: Path) -> bool:
    """Whether `path` is a zip or tar archive (by content, not by name)."""
    return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def marker_path(target: Path, archive: Path) -> Path:
    return target / MARKER_DIR / f"{archive.name}.json"


def is_extracted(archive: Path, target: Path) -> bool:
    """Whether `archive` was fully extracted into `target` (and has not changed since)."""
    marker = marker_path(target, archive)
    if not marker.is_file():
        return False
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return data.get("archive_size") == archive.stat().st_size


def extract(archive: Path, target: Path, *, max_ratio: float | None = None,
            progress=None) -> int:
    """Extract `archive` into `target` safely; returns the number of members written.

    Raises UnsafeArchiveError (naming the archive and the member) and writes nothing when a
    member is unsafe. `max_ratio` defaults to $CLIMB_MAX_EXTRACT_RATIO or 200.
    """
    if max_ratio is None:
        max_ratio = float(os.environ.get(ENV_MAX_RATIO, DEFAULT_MAX_RATIO))
    archive, target = Path(archive), Path(target)
    if is_extracted(archive, target):
        return 0
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = [_zip_member(archive, info) for info in zf.infolist()]
            _check_all(archive, target, members, max_ratio)
            written = _write_all(archive, target, members, zf.open, progress)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive, "r:*") as tf:
            members = [_tar_member(archive, info) for info in tf.getmembers()]
            _check_all(archive, target, members, max_ratio)
            written = _write_all(archive, target, members, tf.extractfile, progress)
    else:
        raise UnsafeArchiveError(f"{archive}: not a zip or tar archive")
    marker = marker_path(target, archive)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"archive": archive.name,
                                  "archive_size": archive.stat().st_size,
                                  "members": len(members)}) + "\n", encoding="utf-8")
    return written


# -- listing --------------------------------------------------------------------------------
def _clean_name(archive: Path, raw: str) -> str:
    name = raw.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"{archive}: member {raw!r} has an absolute path; refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive}: member {raw!r} contains '..'; refused")
    if "\x00" in name:
        raise UnsafeArchiveError(f"{archive}: member {raw!r} contains a NUL byte; refused")
    return "/".join(parts)


def _zip_member(archive: Path, info: zipfile.ZipInfo) -> _Member:
    name = _clean_name(archive, info.filename)
    mode = info.external_attr >> 16
    if info.is_dir():
        return _Member(name, "dir", 0, ref=info)
    if mode and stat.S_ISLNK(mode):
        return _Member(name, "symlink", 0, ref=info)  # target read in _check_all
    if mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)
                 or stat.S_ISSOCK(mode)):
        raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a device or special "
                                 "file; refused")
    return _Member(name, "file", info.file_size, ref=info)


def _tar_member(archive: Path, info: tarfile.TarInfo) -> _Member:
    name = _clean_name(archive, info.name)
    if info.isdir():
        return _Member(name, "dir", 0, ref=info)
    if info.issym():
        return _Member(name, "symlink", 0, link=info.linkname, ref=info)
    if info.islnk():
        return _Member(name, "hardlink", 0, link=info.linkname, ref=info)
    if info.isfile():
        return _Member(name, "file", info.size, ref=info)
    raise UnsafeArchiveError(f"{archive}: member {info.name!r} is a device or special file "
                             "(FIFO, character or block device); refused")


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _check_all(archive: Path, target: Path, members: list[_Member], max_ratio: float) -> None:
    root = target.resolve()
    declared = 0
    for m in members:
        if m.kind == "symlink" and isinstance(m.ref, zipfile.ZipInfo):
            m.link = _read_zip_link(archive, m.ref)
        if not m.name:
            continue
        if not _inside(root, target / m.name):
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} would land outside "
                                     f"{target}; refused")
        if m.kind == "symlink":
            if m.link.startswith("/") or re.match(r"^[A-Za-z]:", m.link):
                raise UnsafeArchiveError(f"{archive}: symlink {m.name!r} points to the absolute "
                                         f"path {m.link!r}; refused")
            dest = (target / PurePosixPath(m.name).parent / m.link)
            if not _inside(root, dest):
                raise UnsafeArchiveError(f"{archive}: symlink {m.name!r} -> {m.link!r} points "
                                         "outside the extraction directory; refused")
        if m.kind == "hardlink":
            link = m.link.replace("\\", "/")
            if link.startswith("/") or ".." in link.split("/") or not _inside(root,
                                                                                target / link):
                raise UnsafeArchiveError(f"{archive}: hard link {m.name!r} -> {m.link!r} points "
                                         "outside the extraction directory; refused")
        declared += m.size
    compressed = max(archive.stat().st_size, 1)
    if declared > max_ratio * compressed:
        raise UnsafeArchiveError(
            f"{archive}: declared uncompressed size {declared:,} bytes is "
            f"{declared / compressed:,.0f}x the archive's {compressed:,} bytes (limit "
            f"{max_ratio:g}x, ${ENV_MAX_RATIO}); refused as a possible decompression bomb")


def _read_zip_link(archive: Path, info: zipfile.ZipInfo) -> str:
    if info.file_size > 4096:
        raise UnsafeArchiveError(f"{archive}: symlink {info.filename!r} is malformed; refused")
    with zipfile.ZipFile(archive) as zf:
        return zf.read(info).decode("utf-8", "replace")


# -- writing --------------------------------------------------------------------------------
def _write_all(archive: Path, target: Path, members: list[_Member], opener, progress) -> int:
    written = 0
    for m in members:
        if not m.name:
            continue
        dest = target / m.name
        if m.kind == "dir":
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if m.kind == "symlink":
            if dest.is_symlink() and os.readlink(dest) == m.link:
                continue
            if dest.is_symlink() or dest.exists():
                dest.unlink()
            os.symlink(m.link, dest)
            written += 1
            continue
        if m.kind == "hardlink":
            source = target / _clean_name(archive, m.link)
            if dest.is_file() and dest.stat().st_size == source.stat().st_size:
                continue
            _copy_atomic(source, dest)
            written += 1
            continue
        if dest.is_file() and not dest.is_symlink() and dest.stat().st_size == m.size:
            continue  # already extracted by an earlier (interrupted) run
        tmp = dest.with_name(dest.name + _TMP_SUFFIX)
        with opener(m.ref) as src, tmp.open("wb") as out:
            remaining = m.size
            while remaining > 0 and (chunk := src.read(min(1 << 20, remaining))):
                out.write(chunk)
                remaining -= len(chunk)
        if tmp.stat().st_size != m.size:
            tmp.unlink()
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} is truncated "
                                     f"({m.size:,} bytes declared)")
        if dest.is_symlink():
            dest.unlink()
        os.replace(tmp, dest)
        written += 1
        if progress is not None:
            progress(m.size)
    log.info("%s: extracted %d members into %s", archive.name, written, target)
    return written


def _copy_atomic(source: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + _TMP_SUFFIX)
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)
