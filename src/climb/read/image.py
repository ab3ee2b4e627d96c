"""2D images (PNG, JPEG, BMP, TIFF, ...) through Pillow.

The declared size is checked before any pixel is decoded: at most ``max_pixels`` (default
``MAX_PIXELS``), and Pillow's own decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``, which
raises at twice its value and warns above it) is turned into a :class:`RecordError` too.
Truncated files, non-image bytes and decoder failures are ``RecordError``; messages name the
file and the kind of problem, never text found in the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from climb.errors import RecordError

#: Default bound on width x height (8192 x 8192, below Pillow's own bomb warning at ~89 M):
#: larger is refused before decoding.
MAX_PIXELS = 2**26


def read_image(path: str | Path, mode: str = "RGB", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file -> H x W x C uint8 (H x W for mode "L")."""
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
                img.load()
                return np.asarray(img.convert(mode))
        except RecordError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise RecordError(path, "image declares too many pixels (decompression bomb)") from None
        except Exception as err:  # Pillow's decoders raise many types on corrupt bytes
            raise RecordError(path, f"cannot decode image ({type(err).__name__})") from None
