"""Shared pieces of the 2D image adapters (mammography, chest X-ray classification sets,
ultrasound, MRI slices, OCT): finding the dataset root, class-folder listings, the
validation split carved from an official training split, and decoding one image into the
store's standard array.

Decoding: :func:`climb.read.image.read_image` (Pillow) for PNG/JPEG/TIFF/BMP and a small
pydicom path for DICOM (declared size bounded before decoding, modality LUT, the file's VOI
LUT or first window, MONOCHROME1 inverted), then an aspect-preserving Pillow resize with
center crop or zero padding. An image leaves as ``uint8`` H x W (mode "L") or H x W x 3
(mode "RGB") of ``size`` x ``size``. (Written before the imaging core's ``read_pixels`` /
``read_dicom_image`` / ``standardize_image`` existed; :func:`decode_image` is the one place to
switch over to them.)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from climb.adapt.base import Adapter, Item
from climb.errors import LabelMappingError, RecordError
from climb.read.image import MAX_PIXELS, read_image
from climb.record import Input, Record
from climb.split import hash_unit

#: Image options every 2D adapter accepts in its config (``fit``: "crop" keeps the aspect
#: ratio and center-crops, "pad" keeps the aspect ratio and zero-pads).
IMAGE_CONFIG: dict[str, Any] = {"size": 224, "fit": "crop", "mode": "L"}

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def find_root(raw_dir: Path, marker: str, depth: int = 3) -> Path:
    """The folder holding ``marker`` (a file or folder, "a/b" for a nested one): ``raw_dir``
    or the first (sorted) folder up to ``depth`` levels below it that does (downloads unpack
    with or without top folders)."""
    raw_dir = Path(raw_dir)
    up = len(Path(marker).parts) - 1
    for level in range(depth + 1):
        pattern = "/".join(["*"] * level + [marker])
        found = sorted(p.parents[up] for p in raw_dir.glob(pattern))
        if found:
            return found[0]
    raise RecordError(raw_dir / marker, "not found in the official layout")


def relative(path: Path, raw_dir: Path) -> str:
    """``path`` relative to the raw root, POSIX style (the form `Item.source` uses)."""
    return Path(path).relative_to(Path(raw_dir)).as_posix()


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name (masks included)."""
    return sorted(
        p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def carve_val(split: str, group: str, fraction: float, seed: int) -> str:
    """``split``, or "val" for the training groups whose seeded hash falls below ``fraction``.

    Hashing the group (patient, study or image where there is no better id), not the
    position, keeps a group in one split and the split stable when files are added.
    """
    if split != "train" or fraction <= 0:
        return split
    return "val" if hash_unit(f"val:{group}", seed) < fraction else "train"


def _fit(array: np.ndarray, size: int, fit: str, source: str,
         resample: Image.Resampling = Image.Resampling.BILINEAR) -> np.ndarray:
    """Resize a uint8 image to ``size`` x ``size`` keeping its aspect ratio (Pillow)."""
    height, width = array.shape[:2]
    if fit == "crop":
        scale = size / min(height, width)
    elif fit == "pad":
        scale = size / max(height, width)
    else:
        raise RecordError(source, f"unknown image fit {fit!r} (crop or pad)")
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.asarray(Image.fromarray(array).resize(new, resample))
    out = np.zeros((size, size, *array.shape[2:]), dtype=np.uint8)
    h, w = resized.shape[:2]
    if fit == "crop":
        top, left = (h - size) // 2, (w - size) // 2
        return np.ascontiguousarray(resized[top : top + size, left : left + size])
    top, left = (size - h) // 2, (size - w) // 2
    out[top : top + h, left : left + w] = resized
    return out


def image_shape(path: Path, source: str) -> tuple[int, int]:
    """(height, width) an image file declares, read from its header only."""
    try:
        with Image.open(path) as img:
            return img.size[1], img.size[0]
    except Exception as err:  # Pillow raises many types on bad bytes
        raise RecordError(source, f"cannot read image header ({type(err).__name__})") from None


def decode_mask(paths: list[Path], sources: list[str], config: dict[str, Any],
                shape: tuple[int, int]) -> np.ndarray:
    """The union of binary mask images (any pixel > 0) of an image of ``shape`` (H, W),
    fitted like that image (same size and fit, nearest-neighbour) -> ``uint8`` H x W of 0/1."""
    union: np.ndarray | None = None
    for path, source in zip(paths, sources, strict=True):
        if not Path(path).is_file():
            raise RecordError(source, "mask file not found")
        mask = read_image(path, mode="L") > 0
        if mask.shape != tuple(shape):
            raise RecordError(source, "mask size differs from its image's")
        union = mask if union is None else union | mask
    if union is None:
        raise RecordError(sources[0] if sources else "", "no mask")
    fitted = _fit(union.astype(np.uint8), int(config["size"]), str(config["fit"]),
                  sources[0], Image.Resampling.NEAREST)
    return fitted


def _to_mode(array: np.ndarray, mode: str) -> np.ndarray:
    if mode == "RGB" and array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    return array


def _dicom_uint8(path: Path, source: str) -> np.ndarray:
    """Display-ready uint8 pixels of a single-frame DICOM image: modality LUT, the file's VOI
    LUT or first window (else the full stored range), MONOCHROME1 inverted."""
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    from climb.read.dicom import quiet_pydicom

    with quiet_pydicom():
        try:
            ds = pydicom.dcmread(path)
            photometric = str(ds.get("PhotometricInterpretation", "")).strip()
            rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
            if rows <= 0 or cols <= 0 or rows * cols > MAX_PIXELS:
                raise RecordError(source, "DICOM image declares an empty or too large size")
            if int(ds.get("NumberOfFrames", 1) or 1) != 1:
                raise RecordError(source, "multi-frame DICOM where one image is expected")
            if photometric not in ("MONOCHROME1", "MONOCHROME2"):
                raise RecordError(source, "DICOM image is not MONOCHROME1/MONOCHROME2")
            values = apply_modality_lut(ds.pixel_array, ds)
            has_voi = "VOILUTSequence" in ds or "WindowCenter" in ds
            if has_voi:
                values = apply_voi_lut(values, ds, index=0)
        except RecordError:
            raise
        except Exception as err:  # pydicom's messages may quote header values
            raise RecordError(source, f"cannot decode DICOM image ({type(err).__name__})") from None
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or not np.all(np.isfinite(values)):
        raise RecordError(source, "DICOM pixel data is not one finite 2D image")
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    if photometric == "MONOCHROME1":
        scaled = 1.0 - scaled
    return np.round(scaled * 255.0).astype(np.uint8)


def decode_image(path: Path, source: str, config: dict[str, Any]) -> Input:
    """One image file (PNG/JPEG/TIFF/BMP or DICOM) -> the standard ``uint8`` image Input."""
    size, fit, mode = int(config["size"]), str(config["fit"]), str(config["mode"])
    path = Path(path)
    if not path.is_file():
        raise RecordError(source, "image file not found")
    is_dicom = path.suffix.lower() in (".dcm", ".dicom")
    array = _dicom_uint8(path, source) if is_dicom else read_image(path, mode=mode)
    return Input(data=_fit(_to_mode(array, mode), size, fit, source))


def class_folder_images(folder: Path, inner: str | None = None) -> list[tuple[str, Path]]:
    """``(class folder name, image path)`` for every image in ``folder/<CLASS>/``, sorted
    (``folder/<CLASS>/<inner>/`` instead where ``inner`` names a folder that exists)."""
    out = []
    for class_dir in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        images = class_dir / inner if inner and (class_dir / inner).is_dir() else class_dir
        out.extend((class_dir.name, path) for path in image_files(images))
    return out


class ClassImageAdapter(Adapter):
    """A 2D image set with one class label per image (usually its folder). A subclass gives
    its layout facts: ``items`` (``info[label_key]`` the native class; optional ``split`` and
    ``patient_id``), ``task``, and ``check`` / ``decode`` where it needs them."""

    default_config = dict(IMAGE_CONFIG)
    #: The catalog task the class label feeds.
    task: ClassVar[str] = "diagnosis"
    #: The ``Item.info`` key holding the native class.
    label_key: ClassVar[str] = "label"

    def check(self, item: Item) -> None:
        """RecordError for an item that must not load (nothing by default)."""

    def class_label(self, item: Item) -> int:
        """The harmonized class index of the item's native class; an unknown class
        quarantines the image."""
        try:
            return self.mapper(self.task).multiclass(item.info[self.label_key])
        except LabelMappingError as err:
            raise RecordError(item.source, str(err)) from None

    def decode(self, raw_dir: Path, item: Item) -> Input:
        """The item's standard image Input."""
        return decode_image(Path(raw_dir) / item.source, item.source, self.config)

    def image_record(self, item: Item, image: Input, labels: dict[str, Any]) -> Record:
        """The validated Record of one image: split and patient id from ``item.info``."""
        return Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            patient_id=item.info.get("patient_id"),
            split=item.info.get("split"),
            inputs={"image": image},
            labels=labels,
            meta={"source_file": item.source},
        ).validate()

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        self.check(item)
        label = self.class_label(item)
        yield self.image_record(item, self.decode(raw_dir, item), {self.task: label})
