"""PatchCamelyon (Veeling et al. 2018, https://github.com/basveeling/pcam): 327,680 96 x 96
H&E patches of CAMELYON16 lymph-node slides, label 1 when the centre 32 x 32 region holds
tumour tissue.

Layout (the publisher's Zenodo record 2546921), plain or still gzipped::

    camelyonpatch_level_2_split_{train,valid,test}_x.h5[.gz]   dataset "x": uint8 N x 96 x 96 x 3
    camelyonpatch_level_2_split_{train,valid,test}_y.h5[.gz]   dataset "y": uint8 N x 1 x 1 x 1
    camelyonpatch_level_2_split_{train,valid,test}_meta.csv    coord_y, coord_x, tumor_patch,
                                                               center_tumor_patch, wsi (optional)

A ``.h5.gz`` is one gzip stream (not an archive) and HDF5 needs random access, so it is
gunzipped once, streaming, to ``<work_dir>/<name>-<size>-<mtime_ns>.h5`` (config ``work_dir``,
which ``prepare`` sets to ``STORE/.work/pcam``; the system temp folder's ``climb-work/pcam``
when the adapter runs alone). On a Ray cluster the work folder must be storage every node
sees, or gunzip the files beside the raw ones first: a plain ``.h5`` wins.

Items are (file, patch index) pairs listed from the HDF5 headers and the small y files, no
pixels read. A load reads one patch by index (h5py slicing of the x dataset), then
:func:`climb.read.standardize_image` with the photograph options (``size``, ``fit``, ``mode``;
224 x 224 RGB by default, Lanczos). Task ``metastasis``: the y value ("0" / "1").

Split: official, the files (train / valid -> val / test). Patient id: the source slide (the
meta CSV's ``wsi``) when the meta file is there, so a slide's patches stay one group; without
it there is none. A split whose x or y file cannot be read (truncated, not HDF5, wrong
dataset shape, x and y of different lengths) is one quarantined item naming the file; the
other splits are prepared. A meta CSV that does not match its x file stops the listing
(RecordError naming it): delete it to prepare without slide ids.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import threading
import zlib
from pathlib import Path

import h5py
import numpy as np

from climb.adapt.base import Item
from climb.adapt.imaging import ClassImageAdapter
from climb.adapt.photo import PHOTO_CONFIG, read_table
from climb.errors import RecordError
from climb.read.pixels import Pixels
from climb.read.standardize_image import standardize_image
from climb.record import Input

PREFIX = "camelyonpatch_level_2_split_"
#: The publisher's split name -> the store's.
SPLITS = {"train": "train", "valid": "val", "test": "test"}
PATCH_SHAPE = (96, 96, 3)


def _find_root(raw_dir: Path, depth: int = 3) -> Path:
    """The folder holding the PCam files: ``raw_dir`` or the first one below it that does."""
    for level in range(depth + 1):
        for pattern in (f"{PREFIX}*_x.h5", f"{PREFIX}*_x.h5.gz"):
            found = sorted(raw_dir.glob("/".join(["*"] * level + [pattern])))
            if found:
                return found[0].parent
    raise RecordError(raw_dir / f"{PREFIX}train_x.h5", "not found in the official layout")


def _source_file(root: Path, split: str, part: str) -> Path | None:
    """The x or y file of a split: the plain ``.h5`` when present, else the ``.h5.gz``."""
    for suffix in (".h5", ".h5.gz"):
        path = root / f"{PREFIX}{split}_{part}{suffix}"
        if path.is_file():
            return path
    return None


def gunzipped(path: Path, work_dir: Path, source: str) -> Path:
    """The plain HDF5 file of ``path`` (a ``.h5.gz``), gunzipped once, streaming, into
    ``work_dir`` under a name holding the source's size and mtime (a changed source gets a
    new copy). A bad gzip stream -> RecordError naming ``source``."""
    stat = path.stat()
    target = Path(work_dir) / f"{path.name[:-3]}-{stat.st_size}-{stat.st_mtime_ns}.h5"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with gzip.open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, 16 * 1024 * 1024)
        os.replace(tmp, target)
    except (OSError, EOFError, zlib.error) as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, gzip.BadGzipFile) and err.filename:
            raise  # the work folder itself (disk full, permissions)
        raise RecordError(source, f"cannot gunzip ({type(err).__name__})") from None
    return target


def _dataset_shape(path: Path, name: str, source: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of dataset ``name`` of an HDF5 file (header only)."""
    try:
        with h5py.File(path, "r") as h5:
            if name not in h5:
                raise RecordError(source, f"no dataset {name!r}")
            return tuple(h5[name].shape), h5[name].dtype
    except RecordError:
        raise
    except Exception as err:  # h5py raises OSError/KeyError/ValueError on bad bytes
        raise RecordError(source, f"cannot read the HDF5 file ({type(err).__name__})") from None


def _labels(path: Path, source: str) -> np.ndarray:
    """The y dataset as a flat int array (N x 1 x 1 x 1 in the release)."""
    try:
        with h5py.File(path, "r") as h5:
            if "y" not in h5:
                raise RecordError(source, "no dataset 'y'")
            y = np.asarray(h5["y"][()])
    except RecordError:
        raise
    except Exception as err:  # h5py raises OSError/KeyError/ValueError on bad bytes
        raise RecordError(source, f"cannot read the HDF5 file ({type(err).__name__})") from None
    if y.ndim == 0 or y.size != y.shape[0] or not np.issubdtype(y.dtype, np.integer):
        raise RecordError(source, "dataset 'y' is not one integer label per patch")
    return y.reshape(-1).astype(np.int64)


def _slides(path: Path, source: str, n: int) -> list[str]:
    """The meta CSV's ``wsi`` column (one slide name per patch, in patch order)."""
    table = read_table(path, ["wsi"], source)
    if len(table) != n:
        raise RecordError(source, f"{len(table)} rows for {n} patches in its x file")
    slides = [s.strip() for s in table["wsi"]]
    if not all(slides):
        raise RecordError(source, "a row has no wsi (the slide of the patch)")
    return slides


_LOCK = threading.Lock()
_OPEN: dict[str, tuple[tuple[int, int], h5py.File]] = {}


def _open_x(path: Path) -> h5py.File:
    """A cached, open h5py File of an x file (per process; reopened when the file changes)."""
    stat = path.stat()
    key, stamp = str(path), (stat.st_size, stat.st_mtime_ns)
    cached = _OPEN.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    if cached is not None:
        cached[1].close()
    handle = h5py.File(path, "r")
    _OPEN[key] = (stamp, handle)
    return handle


class PcamAdapter(ClassImageAdapter):
    name = "pcam"
    task = "metastasis"
    label_key = "label"
    default_config = {**PHOTO_CONFIG, "work_dir": None}

    def _work_dir(self) -> Path:
        """Where gunzipped copies go (``prepare`` sets ``work_dir`` to ``STORE/.work/pcam``)."""
        return Path(
            self.config.get("work_dir") or Path(tempfile.gettempdir()) / "climb-work" / self.name
        )

    def _readable(self, path: Path, raw_dir: Path) -> Path:
        """``path`` itself, or its gunzipped copy for a ``.h5.gz``."""
        if path.name.endswith(".gz"):
            return gunzipped(path, self._work_dir(), path.relative_to(raw_dir).as_posix())
        return path

    def _split_items(self, raw_dir: Path, root: Path, split: str) -> list[Item]:
        x_path, y_path = _source_file(root, split, "x"), _source_file(root, split, "y")
        meta = root / f"{PREFIX}{split}_meta.csv"
        if x_path is None and y_path is None:
            return []
        x_src = (x_path or root / f"{PREFIX}{split}_x.h5").relative_to(raw_dir).as_posix()
        y_src = (y_path or root / f"{PREFIX}{split}_y.h5").relative_to(raw_dir).as_posix()
        files = [x_src, y_src] + ([meta.relative_to(raw_dir).as_posix()] if meta.is_file() else [])
        broken = {"files": files, "split": SPLITS[split]}
        try:
            if x_path is None:
                raise RecordError(x_src, "x file missing (its y file is there)")
            if y_path is None:
                raise RecordError(y_src, "y file missing (its x file is there)")
            x_read = self._readable(x_path, raw_dir)
            shape, dtype = _dataset_shape(x_read, "x", x_src)
            if len(shape) != 4 or shape[1:] != PATCH_SHAPE or dtype != np.uint8:
                raise RecordError(x_src, "dataset 'x' is not uint8 N x 96 x 96 x 3")
            labels = _labels(self._readable(y_path, raw_dir), y_src)
            if len(labels) != shape[0]:
                raise RecordError(
                    y_src, f"{len(labels)} labels for {shape[0]} patches in its x file"
                )
        except RecordError as err:
            return [
                Item(
                    source=x_src,
                    key=f"{SPLITS[split]}-file",
                    info={**broken, "bad_file": err.path, "problem": err.problem},
                )
            ]
        slides = _slides(meta, files[2], shape[0]) if meta.is_file() else None
        h5 = x_read.as_posix() if x_read != x_path else x_src
        return [
            Item(
                source=f"{x_src}/{i}",
                key=f"{SPLITS[split]}-{i:06d}",
                info={
                    "files": files,
                    "h5": h5,
                    "index": i,
                    "label": str(int(label)),
                    "split": SPLITS[split],
                    "patient_id": slides[i] if slides is not None else None,
                },
            )
            for i, label in enumerate(labels)
        ]

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = _find_root(raw_dir)
        return [item for split in SPLITS for item in self._split_items(raw_dir, root, split)]

    def item_files(self, raw_dir: Path, item: Item) -> list[Path]:
        """The raw files an item reads (for prepare's source fingerprints)."""
        return [Path(raw_dir) / f for f in item.info["files"]]

    def check(self, item: Item) -> None:
        if "problem" in item.info:
            raise RecordError(item.info["bad_file"], item.info["problem"])

    def decode(self, raw_dir: Path, item: Item) -> Input:
        path = Path(raw_dir) / item.info["h5"]  # an absolute cache path stays itself
        try:
            with _LOCK:
                patch = np.asarray(_open_x(path)["x"][int(item.info["index"])])
        except Exception as err:  # h5py raises OSError/KeyError/ValueError on bad bytes
            raise RecordError(
                item.source, f"cannot read the patch ({type(err).__name__})"
            ) from None
        pixels = Pixels(patch, photometric="RGB", bits=8, meta={"format": "HDF5"})
        data = standardize_image(
            pixels,
            size=int(self.config["size"]),
            fit=str(self.config["fit"]),
            mode=str(self.config["mode"]),
        )
        return Input(data=data)


ADAPTER = PcamAdapter
