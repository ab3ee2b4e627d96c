"""Prepare-time standardization of 2D images: one size, one fit, one colour mode, uint8.

Every 2D imaging adapter ends with :func:`standardize_image`, so that a store holds images
of one shape and the loader only copies (or decodes) them. Resizing is Pillow's antialiased
LANCZOS (or BILINEAR) filter on the 8-bit image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from climb.read.image import to_uint8
from climb.read.pixels import Pixels

#: Defaults of the ``image`` prepare options (``size`` x ``size`` pixels, ``fit`` "crop":
#: shorter side to ``size`` then centre crop, or "pad": longer side to ``size`` then zero
#: padding; ``mode`` "L" grey or "RGB").
IMAGE_DEFAULTS: dict[str, Any] = {"size": 224, "fit": "crop", "mode": "L"}

_RESAMPLE = {"lanczos": Image.Resampling.LANCZOS, "bilinear": Image.Resampling.BILINEAR}


def _is_colour(array: np.ndarray, photometric: str | None) -> bool:
    if photometric is not None:
        return photometric not in ("MONOCHROME1", "MONOCHROME2") and array.ndim == 3
    return array.ndim == 3 and array.shape[2] in (1, 3, 4)


def standardize_image(
    pixels: Pixels | np.ndarray,
    size: int = 224,
    fit: str = "crop",
    mode: str = "L",
    resample: str = "lanczos",
) -> np.ndarray:
    """An image -> ``uint8`` ``size`` x ``size`` (mode "L") or ``size`` x ``size`` x 3 ("RGB").

    Non-8-bit grey (16-bit PNG, ``window=None`` DICOM values) is scaled to 0..255 by its
    min-max first. ``fit`` "crop": the shorter side becomes ``size`` and the longer is
    centre-cropped; "pad": the longer side becomes ``size`` and the shorter is zero-padded
    (centred). Aspect ratio is kept either way.
    """
    photometric = pixels.photometric if isinstance(pixels, Pixels) else None
    array = np.asarray(pixels.array if isinstance(pixels, Pixels) else pixels)
    if fit not in ("crop", "pad"):
        raise ValueError(f"fit must be 'crop' or 'pad', not {fit!r}")
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' or 'RGB', not {mode!r}")
    if resample not in _RESAMPLE:
        raise ValueError(f"resample must be one of {sorted(_RESAMPLE)}, not {resample!r}")
    if int(size) <= 0:
        raise ValueError("size must be positive")
    colour = _is_colour(array, photometric)
    if array.ndim != (3 if colour else 2):
        raise ValueError(f"one 2D image expected, got shape {array.shape} (pick a frame)")
    if array.size == 0:
        raise ValueError("empty image")
    if colour:
        if array.shape[2] == 1:
            array, colour = array[..., 0], False
        else:
            array = array[..., :3]
    array = to_uint8(array)
    image = Image.fromarray(np.ascontiguousarray(array), "RGB" if colour else "L")
    if mode != image.mode:
        image = image.convert(mode)
    width, height = image.size
    scale = size / (min(width, height) if fit == "crop" else max(width, height))
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    if new != image.size:
        image = image.resize(new, _RESAMPLE[resample], reducing_gap=3.0)
    resized = np.asarray(image)
    h, w = resized.shape[:2]
    if fit == "crop":
        top, left = (h - size) // 2, (w - size) // 2
        return np.ascontiguousarray(resized[top : top + size, left : left + size])
    out = np.zeros((size, size, *resized.shape[2:]), dtype=np.uint8)
    top, left = (size - h) // 2, (size - w) // 2
    out[top : top + h, left : left + w] = resized
    return out
