"""The pixel type of volumes, cines and videos, and the canonical reorientation they share.

Written while the 2D pixel type (``climb.read.pixels.Pixels``) was still being built, so it
lives here with the same field names (``array``, ``spacing``, ``photometric``, ``meta``) plus
what only volumes and videos have (``axes``, ``orientation``, ``origin``, ``fps``); the two
can be unified by making :class:`Volume` a subclass of ``Pixels`` once that has landed.

Array layout, the same in every reader: spatial axes are slice x row x column (``D x H x W``,
as :func:`climb.read.dicom.read_dicom_series` stacks them and as 2D images are ``H x W``),
preceded by time (``T``) when there is one and followed by colour (``C``) when there is one.
``spacing`` gives, in millimetres, the step along each spatial axis in array order; it is
``None`` when the file does not say it (never guessed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Default bound on the number of samples (voxels x frames x channels) a reader decodes: 2^31.
MAX_VOXELS = 2**31

#: A voxel larger than this (mm) along any axis is taken as a corrupt header.
MAX_SPACING_MM = 1000.0

MetaValue = str | int | float | bool


@dataclass(frozen=True, eq=False)
class Volume:
    """Pixels of a 3D/4D volume, a cine or a video.

    ``axes`` names the array's axes: ``"DHW"`` (volume), ``"TDHW"`` (volume series),
    ``"THW"``/``"THWC"`` (grey/colour frames). ``orientation`` is, for each spatial axis in
    array order, the anatomical direction its index increases towards (nibabel's axis codes,
    ``"SAR"`` for a canonical RAS+ volume stored slice x row x column), ``None`` when unknown.
    ``origin`` is the RAS+ position (mm) of the first voxel. ``fps`` is frames per second from
    the file, ``None`` when it does not say. ``meta`` holds whitelisted, non-identifying facts
    only (format, datatype, where a value came from): never header free text.
    """

    array: np.ndarray
    axes: str
    spacing: tuple[float, ...] | None = None
    photometric: str = "MONOCHROME2"
    orientation: str | None = None
    origin: tuple[float, float, float] | None = None
    fps: float | None = None
    meta: dict[str, MetaValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.array.ndim != len(self.axes):
            raise ValueError(f"array has {self.array.ndim} axes, axes names {self.axes!r}")


def valid_spacing(values) -> tuple[float, ...] | None:
    """The values as floats if every one is finite, > 0 and at most ``MAX_SPACING_MM``."""
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError, OverflowError):
        return None
    if not out or not all(math.isfinite(v) and 0 < v <= MAX_SPACING_MM for v in out):
        return None
    return out


def valid_affine(affine: np.ndarray) -> bool:
    """A 4 x 4 voxel-to-RAS affine that is finite and invertible."""
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        return False
    return abs(float(np.linalg.det(affine[:3, :3]))) > 1e-12


def canonical_zyx(
    data: np.ndarray, affine: np.ndarray
) -> tuple[np.ndarray, tuple[float, float, float], str, tuple[float, float, float]]:
    """Reorient ``data`` (x, y, z[, t, ...] voxel axes, as nibabel stores them) to the closest
    canonical RAS+ orientation (what ``nibabel.as_closest_canonical`` does) and put its spatial
    axes in slice x row x column order -> (array, spacing, orientation, origin).

    The array becomes (t, ...) + (z, y, x): extra axes first, in reverse order, then spatial.
    """
    # imported here: nibabel (which imports pydicom) costs ~0.16 s, and read.standardize, which
    # every signal adapter imports, reaches this module through standardize_volume
    from nibabel import orientations

    ornt = orientations.io_orientation(affine)
    if not np.array_equal(ornt, [[0, 1], [1, 1], [2, 1]]):
        data = orientations.apply_orientation(data, ornt)
        affine = affine @ orientations.inv_ornt_aff(ornt, data.shape[:3])
    spacing_xyz = np.sqrt(np.sum(affine[:3, :3] ** 2, axis=0))
    codes = "".join(orientations.aff2axcodes(affine))
    origin = tuple(float(v) for v in affine[:3, 3])
    array = np.ascontiguousarray(np.transpose(data, tuple(range(data.ndim - 1, -1, -1))))
    spacing = tuple(float(v) for v in spacing_xyz[::-1])
    return array, spacing, codes[::-1], origin  # type: ignore[return-value]
