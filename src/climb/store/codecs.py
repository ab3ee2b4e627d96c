"""Storage codecs of 2D image inputs: how a ``uint8`` image array is stored in a shard.

An adapter yields images as ``Input(uint8 H x W [x C])``; ``prepare`` encodes each one with the
configured codec (prepare options ``image.codec``, ``image.quality``) at write time. The
column stays an *array* column (``input.<name>.shape``/``.dtype`` keep the decoded shape) and
``input.<name>.attrs`` records ``"encoding"``; the loader decodes in its workers back into the
same ``uint8`` array. A store without ``encoding`` holds raw arrays (the zero-copy path).

- ``raw``: the C-order bytes (no decode; one pread straight into the batch buffer).
- ``png``: lossless (bit-exact), zlib level ``PNG_LEVEL``.
- ``jpeg``: lossy, ``quality`` (default 90), 4:4:4 chroma; bounded error.
- ``webp``: lossy, ``quality``; ``webp_lossless``: lossless (bit-exact).

Only arrays a codec can hold are encoded (``uint8``, H x W or H x W x {1, 3, 4}; jpeg not
with alpha); any other input keeps its raw layout.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

#: Prepare option keys (``climb prepare NAME --config image.codec=png``).
CODEC_KEY = "image.codec"
QUALITY_KEY = "image.quality"
CODEC_KEYS = (CODEC_KEY, QUALITY_KEY)

CODECS = ("raw", "png", "jpeg", "webp", "webp_lossless")
LOSSLESS = frozenset({"raw", "png", "webp_lossless"})

#: The default codec: lossless (bit-exact, so nothing is lost on top of a source JPEG), 3x
#: smaller than raw on chest radiographs at 224 and 512 (1M images at 224: 17 GB, not 50),
#: ~1.6k decoded 224 images/s per loader worker. ``raw`` stays the fastest (a pread, no
#: decode), ``jpeg`` (q90, ~48 dB PSNR, 7-11x smaller) the choice for large corpora at 512.
#: Measured with benches/codecs.py; table in docs/architecture.md.
DEFAULT_CODEC = "png"
DEFAULT_QUALITY = 90
#: zlib level for PNG: 6 is within a few % of 9 on radiographs and several times faster.
PNG_LEVEL = 6

_PILLOW_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "webp_lossless": "WEBP"}


def encodable(array: np.ndarray, codec: str) -> bool:
    """Whether ``codec`` can store ``array`` (a uint8 2D image, grey or colour)."""
    if codec == "raw" or not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        return False
    if array.ndim == 2:
        return array.size > 0
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or array.size == 0:
        return False
    return not (codec == "jpeg" and array.shape[2] == 4)


def _pillow_image(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    mode = {2: "L"}.get(array.ndim) or {3: "RGB", 4: "RGBA"}[array.shape[2]]
    return Image.fromarray(np.ascontiguousarray(array), mode)


def encode_image(array: np.ndarray, codec: str, quality: int = DEFAULT_QUALITY) -> bytes:
    """A uint8 image -> the bytes of ``codec`` (see :func:`encodable`)."""
    if not encodable(array, codec):
        raise ValueError(f"{codec} cannot encode a {array.dtype} array of shape {array.shape}")
    buf = io.BytesIO()
    image = _pillow_image(array)
    if codec == "png":
        image.save(buf, "PNG", compress_level=PNG_LEVEL)
    elif codec == "jpeg":
        image.save(buf, "JPEG", quality=int(quality), subsampling=0)
    elif codec == "webp":
        image.save(buf, "WEBP", quality=int(quality), method=4)
    else:
        image.save(buf, "WEBP", lossless=True, quality=100, method=4, exact=True)
    return buf.getvalue()


def decode_image(
    data: bytes | memoryview | np.ndarray,
    shape: Any,
    dtype: Any,
    encoding: str,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Bytes of ``encoding`` -> the ``uint8`` array of ``shape`` they were encoded from (into
    ``out`` when given). ValueError when the bytes do not decode to that shape."""
    if encoding not in _PILLOW_FORMAT:
        raise ValueError(f"unknown image encoding {encoding!r}")
    shape = tuple(int(s) for s in shape)
    if np.dtype(dtype) != np.uint8:
        raise ValueError(f"{encoding} payload declared as {dtype}, not uint8")
    with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[encoding]]) as img:
        want = "L" if len(shape) == 2 or shape[2] == 1 else ("RGB" if shape[2] == 3 else "RGBA")
        if img.mode != want:
            img = img.convert(want)
        decoded = np.asarray(img)
    if decoded.size != int(np.prod(shape)):
        raise ValueError(f"{encoding} payload decodes to {decoded.shape}, expected {shape}")
    decoded = decoded.reshape(shape)
    if out is None:
        return decoded
    np.copyto(out, decoded)
    return out


def is_encoded(encoding: str | None) -> bool:
    """Whether an ``attrs["encoding"]`` of an array input means a codec payload."""
    return encoding in _PILLOW_FORMAT


@dataclass(frozen=True)
class ImageCodec:
    """The codec prepare stores image inputs with (``raw`` = as arrays)."""

    codec: str = DEFAULT_CODEC
    quality: int = DEFAULT_QUALITY

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"image.codec must be one of {', '.join(CODECS)}, not {self.codec!r}")
        if not 1 <= int(self.quality) <= 100:
            raise ValueError("image.quality must be 1..100")
        if self.codec.startswith("webp"):
            from PIL import features

            if not features.check("webp"):
                raise ValueError("image.codec webp needs Pillow built with WebP support")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ImageCodec:
        return cls(
            str(config.get(CODEC_KEY, DEFAULT_CODEC)), int(config.get(QUALITY_KEY, DEFAULT_QUALITY))
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"codec": self.codec}
        if self.codec not in LOSSLESS:
            out["quality"] = int(self.quality)
        return out

    def encode(self, array: np.ndarray) -> tuple[bytes, str] | None:
        """(payload, encoding) for an image this codec stores, else None (keep raw)."""
        if not encodable(array, self.codec):
            return None
        return encode_image(array, self.codec, self.quality), self.codec
