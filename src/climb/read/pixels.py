"""The one pixel type of 2D imaging: what every image reader returns.

:class:`Pixels` holds the decoded array plus the few facts a model or a harmonizer needs
(spacing, photometric interpretation, bit depth) and a ``meta`` dict restricted to
:data:`META_FIELDS`: acquisition facts that identify nobody. Patient names, birth dates, IDs,
institutions, descriptions and free text never enter it (:func:`safe_meta` drops anything
else).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The only keys a :attr:`Pixels.meta` may hold.
META_FIELDS = frozenset(
    {
        "view_position",
        "laterality",
        "manufacturer",
        "pixel_spacing",
        "modality",
        "frames",
        "window",
        "transfer_syntax",
        "format",
        "inverted",
    }
)


def safe_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` restricted to :data:`META_FIELDS`, empty values dropped."""
    return {k: v for k, v in meta.items() if k in META_FIELDS and v not in (None, "", [], ())}


@dataclass
class Pixels:
    """A decoded 2D image (or a stack of frames).

    ``array``: H x W, H x W x C, or frames x H x W for a multi-frame file read whole.
    ``spacing``: (row, column) in mm, None when the header has none (never guessed).
    ``photometric``: "MONOCHROME2", "RGB", ... after read-time conversion (MONOCHROME1 is
    inverted at read time, reported as ``meta["inverted"] = True``).
    ``bits``: significant bits per sample of the source (BitsStored; 8 or 16 for PNG/TIFF).
    ``meta``: whitelisted, non-identifying header fields only (:data:`META_FIELDS`).
    """

    array: np.ndarray
    spacing: tuple[float, float] | None = None
    photometric: str = "MONOCHROME2"
    bits: int = 8
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.meta) - META_FIELDS
        if unknown:
            raise ValueError(f"Pixels.meta keys outside the whitelist: {sorted(unknown)}")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)
