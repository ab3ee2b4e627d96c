"""CT adapters (RSPECT, LNDb, CT-ICH head CT, KiTS23, INSPECT) and what they share.

Every 3D record holds one volume, ``inputs["volume"]``: the scan in Hounsfield units,
resampled, centre cropped/padded and optionally windowed by
:func:`climb.read.standardize_volume.standardize_volume`. The volume options every CT adapter
accepts in its config are :data:`VOLUME_CONFIG` (``spacing`` D, H, W mm or one number for
all three, ``shape`` D, H, W voxels, ``window`` a preset of ``HU_WINDOWS``, ``[centre,
width]`` or None for int16 HU); a prepare ``--config shape=[32,96,96] window=lung``
overrides them. ``Input.spacing`` is the stored voxel size; ``Input.units`` is "HU" when no
window was applied.

Volumes are decoded through :mod:`climb.read` only (``read_dicom_series`` with the HU
rescale, ``read_nifti``, ``read_metaimage``); a file that is missing or bad is a
``RecordError`` naming its path relative to the raw root (never the absolute path), and is
quarantined alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from climb.errors import RecordError
from climb.read.dicom import read_dicom_series
from climb.read.metaimage import read_metaimage
from climb.read.nifti import read_nifti
from climb.read.standardize_volume import VOLUME_DEFAULTS, crop_or_pad, standardize_volume
from climb.read.volume import Volume
from climb.record import Input

#: Volume options of every CT adapter (the reader's ``VOLUME_DEFAULTS``).
VOLUME_CONFIG: dict[str, Any] = {
    "spacing": list(VOLUME_DEFAULTS["spacing"]),
    "shape": list(VOLUME_DEFAULTS["shape"]),
    "window": VOLUME_DEFAULTS["window"],
}


def triple(value: Any, name: str, kind: Callable[[Any], float | int]) -> tuple | None:
    """A config value as three numbers (one number is used for all three); None stays None."""
    if value is None:
        return None
    values = [value] * 3 if isinstance(value, int | float) else list(value)
    if len(values) != 3:
        raise ValueError(f"{name} must be one number or three (D, H, W)")
    return tuple(kind(v) for v in values)


def _window(value: Any) -> str | tuple[float, float] | None:
    if value is None or isinstance(value, str):
        return value or None
    centre, width = (float(v) for v in value)
    return (centre, width)


def volume_input(volume: Volume, source: str, config: Mapping[str, Any]) -> Input:
    """The standard CT volume Input of a decoded HU volume (config ``spacing``, ``shape``,
    ``window``); errors name ``source``."""
    spacing = triple(config.get("spacing"), "spacing", float)
    window = _window(config.get("window"))
    try:
        data = standardize_volume(
            volume,
            spacing=spacing,
            shape=triple(config.get("shape"), "shape", int),
            window=window,
            hu=True,
            source=source,
        )
    except RecordError as err:
        raise RecordError(source, err.problem) from None
    except ValueError as err:  # option checks (no header text)
        raise RecordError(source, f"cannot standardize volume ({err})") from None
    stored = spacing if spacing is not None else volume.spacing
    return Input(
        data=data,
        spacing=None if stored is None else tuple(float(s) for s in stored),
        units=None if window is not None else "HU",
    )


def label_map(labels: Volume, source: str, config: Mapping[str, Any]) -> np.ndarray:
    """A segmentation label volume on the grid :func:`volume_input` gives its scan: nearest
    neighbour resampling to ``spacing`` (the same output size and voxel centres as the
    trilinear resampling, ``align_corners=False``), centre crop/pad to ``shape`` with 0
    (background) -> ``uint8`` D x H x W."""
    array = np.asarray(labels.array)
    if labels.axes != "DHW" or array.size == 0:
        raise RecordError(source, "the label volume is not one D x H x W volume")
    if array.min() < 0 or array.max() > 255 or not np.all(np.equal(np.mod(array, 1), 0)):
        raise RecordError(source, "label values are not whole numbers 0..255")
    spacing = triple(config.get("spacing"), "spacing", float)
    if spacing is not None:
        if labels.spacing is None:
            raise RecordError(source, "the label volume has no voxel spacing; cannot resample")
        index = []
        for n, s, t in zip(array.shape, labels.spacing, spacing, strict=True):
            size = max(1, round(n * s / t))
            centres = (np.arange(size) + 0.5) * (n / size) - 0.5
            index.append(np.clip(np.rint(centres), 0, n - 1).astype(np.intp))
        array = array[np.ix_(*index)]
    shape = triple(config.get("shape"), "shape", int)
    if shape is not None:
        array = crop_or_pad(array, shape, 0)
    return np.ascontiguousarray(array, dtype=np.uint8)


def _decode(raw_dir: Path, source: str, reader: Callable[[Path], Volume], what: str) -> Volume:
    path = Path(raw_dir) / source
    if not path.exists():
        raise RecordError(source, f"{what} not found")
    try:
        return reader(path)
    except RecordError as err:  # the reader names the absolute path; name the source
        raise RecordError(source, err.problem) from None


def read_nifti_source(raw_dir: Path, source: str) -> Volume:
    """Decode the NIfTI volume ``raw_dir / source`` (RAS+, D x H x W)."""
    return _decode(raw_dir, source, read_nifti, "NIfTI file")


def read_metaimage_source(raw_dir: Path, source: str) -> Volume:
    """Decode the MetaImage volume ``raw_dir / source`` (.mhd + its .raw)."""
    return _decode(raw_dir, source, read_metaimage, "MetaImage header")


def read_dicom_source(raw_dir: Path, source: str) -> Volume:
    """Decode the DICOM series in the folder ``raw_dir / source`` to HU (RescaleSlope and
    RescaleIntercept applied), slices stacked along the slice normal."""

    def read(folder: Path) -> Volume:
        array, spacing = read_dicom_series(folder, rescale=True)
        return Volume(array=array, axes="DHW", spacing=spacing, meta={"modality": "CT"})

    return _decode(raw_dir, source, read, "DICOM series folder")
