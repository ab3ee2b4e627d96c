"""2D images (PNG, JPEG, BMP, TIFF, ...) through Pillow.

The declared size is checked before any pixel is decoded: at most ``max_pixels`` (default
``MAX_PIXELS``), and Pillow's own decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``, which
raises at twice its value and warns above it) is turned into a :class:`RecordError` too.
Truncated files, non-image bytes and decoder failures are ``RecordError``; messages name the
file and the kind of problem, never text found in the file.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from climb.errors import RecordError

#: Default bound on width x height (8192 x 8192, below Pillow's own bomb warning at ~89 M):
#: larger is refused before decoding.
MAX_PIXELS = 2**26


@contextmanager
def _open_checked(path: str | Path, max_pixels: int, load: bool = True) -> Iterator[Image.Image]:
    """Open an image with its declared size checked (empty, over ``max_pixels``, Pillow's
    bomb guard) before any pixel is decoded, then decode it (``load``; header only without);
    every Pillow failure inside -> RecordError."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                width, height = img.size
                if width <= 0 or height <= 0:
                    raise RecordError(path, "image declares an empty size")
                if width * height > max_pixels:
                    raise RecordError(
                        path, f"image declares {width}x{height} pixels, over the {max_pixels} limit"
                    )
                if load:
                    img.load()
                yield img
        except RecordError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise RecordError(path, "image declares too many pixels (decompression bomb)") from None
        except Exception as err:  # Pillow's decoders raise many types on corrupt bytes
            what = "decode image" if load else "read image header"
            raise RecordError(path, f"cannot {what} ({type(err).__name__})") from None


def image_size(path: str | Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(height, width) an image file declares, from its header only (no pixel decoded), with
    the decoders' size checks; a bad file is a RecordError naming it."""
    with _open_checked(path, max_pixels, load=False) as img:
        return img.size[1], img.size[0]


def read_image(path: str | Path, mode: str = "RGB", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file -> H x W x C uint8 (H x W for mode "L")."""
    with _open_checked(path, max_pixels) as img:
        return np.asarray(img.convert(mode))


_GREY_MODES = {"L", "1", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


def _grey_array(img: Image.Image) -> np.ndarray:
    """A greyscale Pillow image -> uint8 or uint16 H x W (16-bit kept as uint16)."""
    if img.mode in ("1", "LA"):
        img = img.convert("L")
    arr = np.asarray(img)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind in "iu" and arr.size and arr.min() >= 0 and arr.max() < 2**16:
        return arr.astype(np.uint16)
    if arr.dtype.kind in "iu" and not arr.size:
        return arr.astype(np.uint16)
    raise ValueError("grey values outside 0..65535")


def to_uint8(array: np.ndarray) -> np.ndarray:
    """uint8 as is; other grey arrays (16-bit PNG/TIFF rarely fill 16 bits) by min-max."""
    if array.dtype == np.uint8:
        return array
    if array.size == 0:
        return np.zeros(array.shape, np.uint8)
    values = array.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(array.shape, np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def read_pixels(path: str | Path, mode: str | None = None, max_pixels: int = MAX_PIXELS):
    """Decode a PNG/JPEG/TIFF/BMP file -> :class:`climb.read.pixels.Pixels`.

    ``mode`` None keeps the file's own: grey -> H x W (16-bit PNG/TIFF stay ``uint16``),
    colour -> H x W x 3 (x 4 with alpha) ``uint8``; "L" or "RGB" converts (16-bit grey to 8
    bits by its min-max). ``spacing`` is None: these formats carry no patient-plane pixel
    size (their dpi describes a print, not the body). Size checks as :func:`read_image`.
    """
    from climb.read.pixels import Pixels

    if mode not in (None, "L", "RGB"):
        raise ValueError(f"mode must be None, 'L' or 'RGB', not {mode!r}")
    with _open_checked(path, max_pixels) as img:
        fmt = (img.format or "").lower()
        grey = img.mode in _GREY_MODES
        if grey:
            arr = _grey_array(img)
        elif img.mode in ("RGB", "RGBA"):
            arr = np.asarray(img)
        else:  # palette, CMYK, YCbCr, ...
            arr = np.asarray(img.convert("RGBA" if "A" in img.mode else "RGB"))
    bits = 16 if arr.dtype == np.uint16 else 8
    if mode == "L" and not grey:
        arr = np.asarray(Image.fromarray(arr[..., :3]).convert("L"))
    elif mode is not None and grey:
        arr = to_uint8(arr)
        if mode == "RGB":
            arr = np.repeat(arr[..., None], 3, axis=2)
    elif mode == "RGB" and arr.ndim == 3 and arr.shape[2] == 4:
        arr = np.ascontiguousarray(arr[..., :3])
    photometric = "MONOCHROME2" if arr.ndim == 2 else "RGB"
    return Pixels(np.ascontiguousarray(arr), None, photometric, bits, {"format": fmt})
