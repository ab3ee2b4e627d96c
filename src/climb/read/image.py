"""2D images (PNG, JPEG, BMP, TIFF, ...) through Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from climb.errors import RecordError


def read_image(path: str | Path, mode: str = "RGB") -> np.ndarray:
    """Decode an image file -> H x W x C uint8 (H x W for mode "L")."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert(mode))
    except (OSError, UnidentifiedImageError) as err:
        raise RecordError(path, f"cannot decode image: {err}") from None
