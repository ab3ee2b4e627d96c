"""Prepare-time standardization of volumes (CT/MR) and video clips (echo, endoscopy, cine).

Every volume or video adapter ends with :func:`standardize_volume` or :func:`standardize_clip`
(with the dataset's ``volume`` / ``video`` config merged over the defaults below), so a store
holds arrays of one shape and the loader only copies (or decodes) them.

Volumes (:data:`VOLUME_DEFAULTS`)
    ``spacing`` (1.5, 1.5, 1.5) mm, slice x row x column (``D, H, W``) order: isotropic
    1.5 mm is the common CT compromise (the nnU-Net / MONAI CT tutorials resample to
    1-2 mm) and keeps a chest/abdomen field of view (~190 mm) within 128 voxels. ``shape``
    (64, 128, 128) voxels after resampling: centre crop or pad (96 x 192 x 192 mm at
    1.5 mm). ``window`` None: the values are kept (int16 HU for CT) and windowing is left to
    the model; a preset name of :data:`HU_WINDOWS` or ``(centre, width)`` stores uint8.
    Resampling is trilinear (``torch.nn.functional.interpolate``, ``align_corners=False``:
    the same interpolation as MONAI's ``Spacing``/``Resize``, without MONAI's multi-second
    import in every prepare worker); crop/pad is centred like MONAI's ``ResizeWithPadOrCrop``,
    padding with air (-1024 HU) for CT and 0 otherwise. A volume without spacing is never
    resampled by a guess: asking for ``spacing`` then is a :class:`RecordError`.
Clips (:data:`VIDEO_DEFAULTS`)
    ``frames`` 16 at ``size`` 112 x 112 (the VideoMAE / R(2+1)D input), ``policy``
    "uniform" (frames spread over the whole video, :func:`climb.read.video.clip_indices`) or
    "strided" (every ``stride``-th frame of a window centred in the video, or from
    ``start``), ``mode`` "RGB" or "L". Each frame's shorter side becomes ``size`` and the
    longer is centre-cropped (Pillow, :func:`standardize_image`). A video with fewer frames
    than the clip needs is filled by repeating frames (uniform: the nearest frame; strided:
    the last frame) so T is always ``frames``; one with fewer than ``min_frames`` frames
    (default 1) or none at all is a :class:`RecordError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from climb.errors import RecordError
from climb.read.standardize_image import standardize_image
from climb.read.video import clip_indices
from climb.read.volume import Volume

#: CT display windows as (centre, width) in Hounsfield units. Values: the standard presets
#: listed by Radiopaedia, "Windowing (CT)" (https://radiopaedia.org/articles/windowing-ct):
#: lung W1500 L-600, mediastinum W350 L50, brain W80 L40, abdomen (soft tissue) W400 L40,
#: bone W1800 L400.
HU_WINDOWS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "brain": (40.0, 80.0),
    "abdomen": (40.0, 400.0),
    "bone": (400.0, 1800.0),
}

#: Defaults of the ``volume`` prepare options (see the module docstring).
VOLUME_DEFAULTS: dict[str, Any] = {
    "spacing": (1.5, 1.5, 1.5),
    "shape": (64, 128, 128),
    "window": None,
}

#: Defaults of the ``video`` prepare options (see the module docstring).
VIDEO_DEFAULTS: dict[str, Any] = {"frames": 16, "size": 112, "policy": "uniform", "stride": 2}

#: Air in Hounsfield units: the pad value of CT volumes.
AIR_HU = -1024.0

_INT16 = np.iinfo(np.int16)


def window_range(window: str | tuple[float, float] | list[float]) -> tuple[float, float]:
    """(low, high) of a preset name or a (centre, width) window."""
    if isinstance(window, str):
        if window not in HU_WINDOWS:
            raise ValueError(f"unknown window {window!r}; presets: {sorted(HU_WINDOWS)}")
        window = HU_WINDOWS[window]
    centre, width = (float(v) for v in window)
    if not np.isfinite(centre) or not np.isfinite(width) or width <= 0:
        raise ValueError("window must be a finite (centre, width) with width > 0")
    return centre - width / 2, centre + width / 2


def apply_window(array: np.ndarray, window: str | tuple[float, float]) -> np.ndarray:
    """Values -> uint8, 0 at the window's low edge and 255 at its high edge (clipped)."""
    low, high = window_range(window)
    scaled = (np.asarray(array, dtype=np.float32) - low) * np.float32(255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def resample_volume(array: np.ndarray, spacing: tuple[float, ...], target: tuple[float, ...]):
    """Trilinear resampling of a D x H x W array from ``spacing`` to ``target`` mm -> float32."""
    import torch
    import torch.nn.functional as F

    size = tuple(
        max(1, round(n * s / t)) for n, s, t in zip(array.shape, spacing, target, strict=True)
    )
    data = np.asarray(array, dtype=np.float32)
    if size == data.shape:
        return data
    tensor = torch.from_numpy(np.ascontiguousarray(data))[None, None]
    out = F.interpolate(tensor, size=size, mode="trilinear", align_corners=False)
    return out[0, 0].numpy()


def crop_or_pad(array: np.ndarray, shape: tuple[int, ...], pad_value: float) -> np.ndarray:
    """Centre crop / pad the leading ``len(shape)`` axes of ``array`` to ``shape``."""
    out = np.full(tuple(shape) + array.shape[len(shape) :], pad_value, dtype=array.dtype)
    src, dst = [], []
    for n, m in zip(array.shape, shape, strict=False):
        if n >= m:  # crop: the same split as MONAI's centre crop (extra voxel at the end)
            first = (n - m) // 2
            src.append(slice(first, first + m))
            dst.append(slice(0, m))
        else:
            first = (m - n) // 2
            src.append(slice(0, n))
            dst.append(slice(first, first + n))
    out[tuple(dst)] = array[tuple(src)]
    return out


def standardize_volume(
    volume: Volume,
    *,
    spacing: tuple[float, float, float] | None = VOLUME_DEFAULTS["spacing"],
    shape: tuple[int, int, int] | None = VOLUME_DEFAULTS["shape"],
    window: str | tuple[float, float] | None = None,
    hu: bool | None = None,
    source: str = "volume",
) -> np.ndarray:
    """A ``DHW`` volume -> the store's array: resampled to ``spacing`` mm (None: kept), centre
    cropped/padded to ``shape`` (None: kept), then uint8 over ``window`` when one is given,
    else int16 (uint8 when the source is uint8).

    ``hu``: the values are CT Hounsfield units (pad with air, -1024); None infers it from
    ``window`` being set or ``volume.meta["modality"] == "CT"``. ``source`` names the file
    in errors.
    """
    if volume.axes != "DHW":
        raise ValueError(f"a DHW volume expected, got axes {volume.axes!r} (pick a frame)")
    array = np.asarray(volume.array)
    if array.size == 0:
        raise RecordError(source, "empty volume")
    if hu is None:
        hu = window is not None or str(volume.meta.get("modality", "")).upper() == "CT"
    source_uint8 = array.dtype == np.uint8
    if window is not None:
        window_range(window)  # a bad window fails before any work
    if spacing is not None:
        if len(spacing) != 3 or not all(float(s) > 0 for s in spacing):
            raise ValueError("spacing must be three positive numbers (D, H, W mm)")
        if volume.spacing is None or len(volume.spacing) != 3:
            raise RecordError(source, "the volume has no voxel spacing; cannot resample")
        if not np.all(np.isfinite(array)):
            raise RecordError(source, "the volume holds NaN or infinite values")
        array = resample_volume(array, tuple(volume.spacing), tuple(float(s) for s in spacing))
    if shape is not None:
        if len(shape) != 3 or not all(int(n) > 0 for n in shape):
            raise ValueError("shape must be three positive integers (D, H, W)")
        array = crop_or_pad(array, tuple(int(n) for n in shape), AIR_HU if hu else 0.0)
    if window is not None:
        return apply_window(array, window)
    if source_uint8:
        return np.clip(np.rint(array), 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise RecordError(source, "the volume holds NaN or infinite values")
        array = np.rint(array)
    return np.clip(array, _INT16.min, _INT16.max).astype(np.int16)


def _clip_to_uint8(array: np.ndarray) -> np.ndarray:
    """One min-max over the whole clip (per-frame scaling would flicker)."""
    if array.dtype == np.uint8:
        return array
    data = np.asarray(array, dtype=np.float32)
    low, high = float(np.nanmin(data)), float(np.nanmax(data))
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return np.zeros(array.shape, dtype=np.uint8)
    return np.clip(np.rint((data - low) * (255.0 / (high - low))), 0, 255).astype(np.uint8)


def standardize_clip(
    video: Volume,
    *,
    frames: int = VIDEO_DEFAULTS["frames"],
    size: int = VIDEO_DEFAULTS["size"],
    policy: str = VIDEO_DEFAULTS["policy"],
    stride: int = VIDEO_DEFAULTS["stride"],
    start: int | None = None,
    mode: str = "RGB",
    min_frames: int = 1,
    source: str = "video",
) -> np.ndarray:
    """A ``THW``/``THWC`` video -> uint8 ``frames`` x ``size`` x ``size`` x C (3 for "RGB",
    1 for "L"); see the module docstring for the frame choice and the short-video rule."""
    if video.axes not in ("THW", "THWC"):
        raise ValueError(f"a THW or THWC video expected, got axes {video.axes!r}")
    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', not {mode!r}")
    if int(frames) <= 0 or int(size) <= 0:
        raise ValueError("frames and size must be positive")
    n_frames = int(video.array.shape[0])
    if n_frames == 0:
        raise RecordError(source, "the video has no frame")
    if n_frames < max(1, int(min_frames)):
        raise RecordError(source, f"{n_frames} frames, fewer than the {min_frames} required")
    if start is not None and not 0 <= int(start) < n_frames:
        raise RecordError(source, f"clip start {start} is past the video's {n_frames} frames")
    indices = clip_indices(n_frames, int(frames), policy=policy, stride=int(stride), start=start)
    chosen = _clip_to_uint8(np.asarray(video.array)[indices])
    out = np.stack(
        [standardize_image(frame, size=int(size), fit="crop", mode=mode) for frame in chosen]
    )
    return out[..., None] if out.ndim == 3 else out
