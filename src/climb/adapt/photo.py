"""Shared pieces of the colour-photograph adapters (dermoscopy, clinical photos, fundus,
pathology tiles): reading a publisher's label table, finding images anywhere below the raw
root by file name, and opening one photograph (a file or a zip member) for
:func:`climb.adapt.imaging.decode_image` (labels go through :func:`climb.adapt.imaging.map_label`).

A photograph leaves as ``uint8`` ``size`` x ``size`` x 3 (config ``mode`` "RGB", the default
here: colour carries the diagnosis in these sets) or ``size`` x ``size`` ("L").
"""

from __future__ import annotations

import io
import os
import threading
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from climb.adapt.imaging import decode_image
from climb.errors import RecordError
from climb.record import Input, Record

#: Image options of every photograph adapter (``fit``: "crop" or "pad", see standardize_image).
PHOTO_CONFIG: dict[str, Any] = {"size": 224, "fit": "crop", "mode": "RGB"}

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: Largest zip member read as one image (compressed images are far smaller).
MAX_MEMBER_BYTES = 256 * 1024 * 1024


def find_file(raw_dir: Path, names: Iterable[str], depth: int = 3) -> Path:
    """The first of ``names`` found in ``raw_dir`` or up to ``depth`` folders below it
    (downloads unpack with or without top folders); RecordError naming the first if none."""
    raw_dir = Path(raw_dir)
    names = list(names)
    for level in range(depth + 1):
        for name in names:
            found = sorted(raw_dir.glob("/".join(["*"] * level + [name])))
            if found:
                return found[0]
    raise RecordError(names[0], "not found in the official layout")


def read_table(path: Path, required: Iterable[str], source: str) -> pd.DataFrame:
    """A publisher's label table as strings (blank cells ""), CSV or tab-separated (``.tab``,
    ``.tsv``: Harvard Dataverse's archival format), checked for ``required`` columns."""
    sep = "\t" if Path(path).suffix.lower() in (".tab", ".tsv") else ","
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep)
    except Exception as err:  # pandas raises many types on bad bytes
        raise RecordError(source, f"cannot read the table ({type(err).__name__})") from None
    table.columns = [str(c).strip().strip('"') for c in table.columns]
    missing = sorted(set(required) - set(table.columns))
    if missing:
        raise RecordError(source, f"missing columns {missing}")
    return table


def find_table(raw_dir: Path, names: Iterable[str],
               required: Iterable[str]) -> tuple[Path, pd.DataFrame]:
    """The first of ``names`` found by :func:`find_file` and its table read by
    :func:`read_table` (errors name the path relative to ``raw_dir``)."""
    path = find_file(raw_dir, names)
    return path, read_table(path, required, path.relative_to(Path(raw_dir)).as_posix())


def index_images(root: Path, raw_dir: Path,
                 suffixes: Iterable[str] = PHOTO_SUFFIXES) -> dict[str, str]:
    """{file stem: path relative to ``raw_dir``} of every image below ``root`` (first in sorted
    order wins when a stem repeats). One directory walk, no per-file ``stat``."""
    wanted = {s.lower() for s in suffixes}
    out: dict[str, str] = {}
    base = Path(raw_dir)
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel = Path(folder).relative_to(base).as_posix()
        for name in sorted(files):
            stem, dot, ext = name.rpartition(".")
            if dot and f".{ext.lower()}" in wanted and stem not in out:
                out[stem] = name if rel == "." else f"{rel}/{name}"
    return out


def index_zip_images(archive: Path, raw_dir: Path,
                     suffixes: Iterable[str] = PHOTO_SUFFIXES) -> dict[str, str]:
    """{file stem: ``<archive relative path>/<member>``} of the images inside a zip archive
    left packed (publishers nest zips in their downloads); unreadable archive -> RecordError."""
    wanted = {s.lower() for s in suffixes}
    rel = Path(archive).relative_to(Path(raw_dir)).as_posix()
    try:
        with zipfile.ZipFile(archive) as zf:
            names = sorted(zf.namelist())
    except (OSError, zipfile.BadZipFile) as err:
        raise RecordError(rel, f"cannot read the zip archive ({type(err).__name__})") from None
    out: dict[str, str] = {}
    for name in names:
        stem, dot, ext = name.rpartition("/")[2].rpartition(".")
        if dot and f".{ext.lower()}" in wanted and stem not in out:
            out[stem] = f"{rel}/{name}"
    return out


_ZIP_LOCK = threading.Lock()
_OPEN_ZIPS: dict[str, tuple[tuple[int, int], zipfile.ZipFile]] = {}
_MAX_OPEN_ZIPS = 4


def _open_zip(archive: Path) -> zipfile.ZipFile:
    """A cached, open ZipFile of ``archive`` (call with ``_ZIP_LOCK`` held). Parsing a central
    directory of thousands of members costs ~14 ms, more than decoding one image; the cache
    is per process and is refreshed when the archive's size or mtime changes."""
    stat = archive.stat()
    key, stamp = str(archive), (stat.st_size, stat.st_mtime_ns)
    cached = _OPEN_ZIPS.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    if cached is not None:
        cached[1].close()
        del _OPEN_ZIPS[key]
    while len(_OPEN_ZIPS) >= _MAX_OPEN_ZIPS:
        _OPEN_ZIPS.pop(next(iter(_OPEN_ZIPS)))[1].close()
    zf = zipfile.ZipFile(archive)
    _OPEN_ZIPS[key] = (stamp, zf)
    return zf


def _zip_member(raw_dir: Path, source: str) -> io.BytesIO | None:
    """The bytes of ``source`` when it names a member of a zip below ``raw_dir``
    (``a/images.zip/x/1.jpg``), else None."""
    parts = Path(source).parts
    for cut in range(len(parts) - 1, 0, -1):
        archive = Path(raw_dir, *parts[:cut])
        if archive.is_file():
            member = "/".join(parts[cut:])
            try:
                with _ZIP_LOCK:
                    zf = _open_zip(archive)
                    info = zf.getinfo(member)
                    if info.file_size > MAX_MEMBER_BYTES:
                        raise RecordError(source, "zip member is larger than an image can be")
                    return io.BytesIO(zf.read(info))
            except KeyError:
                raise RecordError(source, "image file not found in its zip archive") from None
            except (OSError, zipfile.BadZipFile, EOFError) as err:
                raise RecordError(source, f"cannot read from the zip archive "
                                          f"({type(err).__name__})") from None
    return None


def decode_photo(raw_dir: Path, source: str, config: Mapping[str, Any]) -> Input:
    """One PNG/JPEG/TIFF photograph at ``raw_dir/source`` (a file, or a member of a zip left
    packed: ``images.zip/x.jpg``) -> the standard ``uint8`` image Input; errors name
    ``source`` (the path relative to the raw root)."""
    path = Path(raw_dir) / source
    opened: Path | io.BytesIO | None = path if path.is_file() else _zip_member(raw_dir, source)
    if opened is None:
        raise RecordError(source, "image file not found")
    return decode_image(opened, source, config, resample="lanczos")


def photo_record(adapter: Any, raw_dir: Path, item: Any, labels: dict[str, Any], *,
                 patient_id: str | None = None, study_id: str | None = None,
                 meta: Mapping[str, Any] | None = None) -> Record:
    """The validated Record of one photograph item: ``item.key`` as sample id, the image
    decoded by :func:`decode_photo` with ``adapter.config``, ``labels``, and meta
    ``source_file`` plus ``meta`` (None values dropped). Run the item's checks first: the
    image is decoded here."""
    image = decode_photo(raw_dir, item.source, adapter.config)
    fields = {"source_file": item.source, **(meta or {})}
    return Record(
        sample_id=item.key,
        dataset=adapter.name,
        modality=adapter.entry.modality,
        inputs={"image": image},
        labels=labels,
        patient_id=patient_id,
        study_id=study_id,
        meta={k: v for k, v in fields.items() if v is not None},
    ).validate()
