"""Shared pieces of the 2D image adapters (mammography, chest X-ray classification sets,
ultrasound, MRI slices, OCT): finding the dataset root, class-folder listings, the
validation split carved from an official training split, and decoding one image into the
store's standard array.

Decoding goes through the imaging core only (:func:`decode_image`):
:func:`climb.read.image.read_pixels` for PNG/JPEG/TIFF/BMP,
:func:`climb.read.dicom_image.read_dicom_image` for DICOM (declared size bounded before
decoding, modality LUT, the file's VOI LUT or first window, MONOCHROME1 inverted), then
:func:`climb.read.standardize.standardize_image` (aspect-preserving resize with center crop or
zero padding). An image leaves as ``uint8`` H x W (mode "L") or H x W x 3 (mode "RGB") of
``size`` x ``size``. The photograph and chest X-ray helpers decode through it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
from PIL import Image

from climb.adapt.base import Adapter, Item
from climb.errors import LabelMappingError, RecordError
from climb.harmonize import LabelMapper
from climb.read.dicom_image import read_dicom_image
from climb.read.image import image_size, read_image, read_pixels
from climb.read.standardize import standardize_image
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


def fit_mask(array: np.ndarray, size: int, fit: str, source: str) -> np.ndarray:
    """Resize a uint8 mask (binary or label codes) to ``size`` x ``size`` keeping its aspect
    ratio, nearest-neighbour (crop or pad as its image; values are labels, so no
    interpolation)."""
    height, width = array.shape[:2]
    if fit == "crop":
        scale = size / min(height, width)
    elif fit == "pad":
        scale = size / max(height, width)
    else:
        raise RecordError(source, f"unknown image fit {fit!r} (crop or pad)")
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.asarray(Image.fromarray(array).resize(new, Image.Resampling.NEAREST))
    out = np.zeros((size, size, *array.shape[2:]), dtype=np.uint8)
    h, w = resized.shape[:2]
    if fit == "crop":
        top, left = (h - size) // 2, (w - size) // 2
        return np.ascontiguousarray(resized[top : top + size, left : left + size])
    top, left = (size - h) // 2, (size - w) // 2
    out[top : top + h, left : left + w] = resized
    return out


def image_shape(path: Path, source: str) -> tuple[int, int]:
    """(height, width) an image file declares, read from its header only
    (:func:`climb.read.image.image_size`); errors name ``source``."""
    try:
        return image_size(path)
    except RecordError as err:  # the core names the absolute path; name the source
        raise RecordError(source, err.problem) from None


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
    return fit_mask(union.astype(np.uint8), int(config["size"]), str(config["fit"]), sources[0])


def map_label(mapper: LabelMapper, native: Any, source: str) -> int:
    """The harmonized class index of ``native`` (-1 when the table maps it to null); a label
    the table does not know quarantines the image."""
    try:
        return mapper.multiclass(native)
    except LabelMappingError as err:
        raise RecordError(source, str(err)) from None


def decode_image(path: Path | BinaryIO, source: str, config: Mapping[str, Any],
                 resample: str = "bilinear") -> Input:
    """One PNG/JPEG/TIFF/BMP or single-frame DICOM image (a path, or an open file of a
    non-DICOM image) -> the standard ``uint8`` image Input (config ``size``, ``fit``,
    ``mode``; ``resample`` "bilinear" or "lanczos", see ``standardize_image``). DICOM:
    ``read_dicom_image(window="auto")``. Errors name ``source``."""
    if isinstance(path, (str, Path)):
        path = Path(path)
        if not path.is_file():
            raise RecordError(source, "image file not found")
    mode = str(config["mode"])
    try:
        if isinstance(path, Path) and path.suffix.lower() in (".dcm", ".dicom"):
            pixels = read_dicom_image(path, window="auto")
            if pixels.array.ndim != (3 if pixels.photometric == "RGB" else 2):
                raise RecordError(source, "multi-frame DICOM where one image is expected")
        else:
            pixels = read_pixels(path, mode=mode)
        data = standardize_image(pixels, size=int(config["size"]), fit=str(config["fit"]),
                                 mode=mode, resample=resample)
    except RecordError as err:  # the core names the absolute path; name the source
        raise RecordError(source, err.problem) from None
    except ValueError as err:  # standardize_image's shape/option checks (no header text)
        raise RecordError(source, f"cannot standardize image ({err})") from None
    return Input(data=np.ascontiguousarray(data))


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
        """The harmonized class index of the item's native class (see :func:`map_label`)."""
        return map_label(self.mapper(self.task), item.info[self.label_key], item.source)

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
