"""Safe, resumable extraction of zip and tar (plain, gz, bz2, xz) archives.

Every member is checked before anything is written; the whole archive is refused when one
member has an absolute path or a ``..`` component, is a symbolic link (no dataset needs one,
and links written by the archive itself would let later members escape: ``sub/up -> ..``,
``sub/up/up2 -> ..``, ``sub/up/up2/x``), is a hard link to anything but a regular file earlier
in the same archive, is a device/FIFO, would replace one of climb's own files (``.climb-*``,
``*.climb-tmp``) or the archive itself, resolves outside the target through a link already on
disk, or when the declared uncompressed size exceeds ``max_ratio`` times the archive's size on
disk (a decompression bomb). Members are written to a temporary name and renamed, so a
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
from pathlib import Path

from climb.acquire.errors import UnsafeArchiveError

log = logging.getLogger("climb.acquire")

ENV_MAX_RATIO = "CLIMB_MAX_EXTRACT_RATIO"
DEFAULT_MAX_RATIO = 200.0
MARKER_DIR = ".climb-extracted"
_TMP_SUFFIX = ".climb-tmp"


@dataclass
class _Member:
    name: str  # normalised relative posix path
    kind: str  # "file" | "dir" | "hardlink"
    size: int
    link: str = ""  # hardlink source (its archive path, normalised)
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


def extract(archive: Path, target: Path, *, max_ratio: float | None = None, progress=None) -> int:
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
    marker.write_text(
        json.dumps(
            {
                "archive": archive.name,
                "archive_size": archive.stat().st_size,
                "members": len(members),
            }
        )
        + "\n",
        encoding="utf-8",
    )
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
        raise UnsafeArchiveError(
            f"{archive}: member {info.filename!r} is a symbolic link; "
            "links in dataset archives are refused"
        )
    if mode and (
        stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
    ):
        raise UnsafeArchiveError(
            f"{archive}: member {info.filename!r} is a device or special file; refused"
        )
    return _Member(name, "file", info.file_size, ref=info)


def _tar_member(archive: Path, info: tarfile.TarInfo) -> _Member:
    name = _clean_name(archive, info.name)
    if info.isdir():
        return _Member(name, "dir", 0, ref=info)
    if info.issym():
        raise UnsafeArchiveError(
            f"{archive}: member {info.name!r} is a symbolic link; "
            "links in dataset archives are refused"
        )
    if info.islnk():
        try:
            link = _clean_name(archive, info.linkname)
        except UnsafeArchiveError:
            raise UnsafeArchiveError(
                f"{archive}: hard link {info.name!r} -> "
                f"{info.linkname!r} points outside the extraction "
                "directory; refused"
            ) from None
        return _Member(name, "hardlink", 0, link=link, ref=info)
    if info.isfile():
        return _Member(name, "file", info.size, ref=info)
    raise UnsafeArchiveError(
        f"{archive}: member {info.name!r} is a device or special file "
        "(FIFO, character or block device); refused"
    )


def _inside(root: Path, path: Path) -> bool:
    """Whether `path`, with every link already on disk followed, lies under `root`."""
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _is_reserved(name: str) -> bool:
    """Whether a member path would replace one of climb's own files (lockfile, markers, temps)."""
    parts = name.casefold().split("/")
    return any(p.startswith(".climb-") or p.endswith(_TMP_SUFFIX) for p in parts)


def _check_all(archive: Path, target: Path, members: list[_Member], max_ratio: float) -> None:
    root = target.resolve()
    archive_real = archive.resolve()
    files: set[str] = set()  # regular files listed so far (what a hard link may copy)
    declared = 0
    for m in members:
        if not m.name:
            continue
        if _is_reserved(m.name):
            raise UnsafeArchiveError(
                f"{archive}: member {m.name!r} would replace one of "
                "climb's own files (.climb-*); refused"
            )
        dest = target / m.name
        if not _inside(root, dest):
            raise UnsafeArchiveError(
                f"{archive}: member {m.name!r} would land outside "
                f"{target} (through a link on disk); refused"
            )
        if dest.resolve() == archive_real or dest.resolve() in archive_real.parents:
            raise UnsafeArchiveError(
                f"{archive}: member {m.name!r} would replace the archive itself; refused"
            )
        if m.kind == "hardlink" and m.link not in files:
            raise UnsafeArchiveError(
                f"{archive}: hard link {m.name!r} -> {m.link!r} does not name a regular file "
                "earlier in the archive (it could point outside the extraction directory); "
                "refused"
            )
        if m.kind == "file":
            files.add(m.name)
        declared += m.size
    compressed = max(archive.stat().st_size, 1)
    if declared > max_ratio * compressed:
        raise UnsafeArchiveError(
            f"{archive}: declared uncompressed size {declared:,} bytes is "
            f"{declared / compressed:,.0f}x the archive's {compressed:,} bytes (limit "
            f"{max_ratio:g}x, ${ENV_MAX_RATIO}); refused as a possible decompression bomb"
        )


# -- writing --------------------------------------------------------------------------------
def _write_all(archive: Path, target: Path, members: list[_Member], opener, progress) -> int:
    root = target.resolve()
    written = 0
    for m in members:
        if not m.name:
            continue
        dest = target / m.name
        if m.kind == "dir":
            _check_parent(archive, root, m.name, dest)
            dest.mkdir(parents=True, exist_ok=True)
            _check_parent(archive, root, m.name, dest / "_")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        _check_parent(archive, root, m.name, dest)  # what is on disk now, not the listing
        if m.kind == "hardlink":
            source = target / m.link
            if source.is_symlink() or not source.is_file() or not _inside(root, source):
                raise UnsafeArchiveError(
                    f"{archive}: hard link {m.name!r} -> {m.link!r}: the "
                    "source is not a regular file inside the extraction "
                    "directory; refused"
                )
            if (
                dest.is_file()
                and not dest.is_symlink()
                and dest.stat().st_size == source.stat().st_size
            ):
                continue
            _copy_atomic(source, dest)
            written += 1
            continue
        if dest.is_file() and not dest.is_symlink() and dest.stat().st_size == m.size:
            continue  # already extracted by an earlier (interrupted) run
        tmp = dest.with_name(dest.name + _TMP_SUFFIX)
        with opener(m.ref) as src, _open_new(tmp) as out:
            remaining = m.size
            while remaining > 0 and (chunk := src.read(min(1 << 20, remaining))):
                out.write(chunk)
                remaining -= len(chunk)
        if tmp.stat().st_size != m.size:
            tmp.unlink()
            raise UnsafeArchiveError(
                f"{archive}: member {m.name!r} is truncated ({m.size:,} bytes declared)"
            )
        os.replace(tmp, dest)  # replaces a link at `dest` itself, never writes through it
        written += 1
        if progress is not None:
            progress(m.size)
    log.info("%s: extracted %d members into %s", archive.name, written, target)
    return written


def _check_parent(archive: Path, root: Path, name: str, dest: Path) -> None:
    """Refuse `name` when the directory it is written into resolves outside `root`."""
    if not _inside(root, dest.parent):
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} would land outside {root} "
            "(through a link on disk); refused"
        )


def _open_new(path: Path):
    """`path` opened for writing as a new regular file (a link left there is removed first)."""
    if path.is_symlink() or path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    return os.fdopen(fd, "wb")


def _copy_atomic(source: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + _TMP_SUFFIX)
    with source.open("rb") as src, _open_new(tmp) as out:
        shutil.copyfileobj(src, out, 1 << 20)
    os.replace(tmp, dest)
