"""Multi-frame DICOM (ultrasound cines, multi-frame MR/XA) through pydicom.

Returns frames x H x W (grey) or frames x H x W x 3 (RGB; YBR colour is converted to RGB by
pydicom) as a :class:`climb.read.volume.Volume`. Frames per second come from the file only,
never guessed: the element the Frame Increment Pointer (0028,0009) names (FrameTime in ms, or
a constant FrameTimeVector), else FrameTime, CineRate, RecommendedDisplayFrameRate; ``None``
when none is given or valid. ``meta`` says which element gave it.

No patient, study or device tag leaves this module and no message quotes a header value.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydicom
from pydicom.tag import Tag

from climb.errors import RecordError
from climb.read.dicom import quiet_pydicom
from climb.read.volume import MAX_VOXELS, Volume

_PHOTOMETRICS = {
    "MONOCHROME1",
    "MONOCHROME2",
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_RCT",
    "YBR_ICT",
    "YBR_PARTIAL_420",
}
_FRAME_TIME, _FRAME_TIME_VECTOR = Tag(0x0018, 0x1063), Tag(0x0018, 0x1065)


def _number(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return out if math.isfinite(out) and out > 0 else None


def cine_fps(ds) -> tuple[float | None, str | None]:
    """(frames per second, the element it came from), or (None, None)."""
    pointer = ds.get("FrameIncrementPointer")
    pointers = [] if pointer is None else (pointer if isinstance(pointer, list) else [pointer])
    pointers = [Tag(p) for p in pointers]
    if _FRAME_TIME_VECTOR in pointers and ds.get("FrameTimeVector") is not None:
        steps = [_number(v) for v in list(ds.FrameTimeVector)[1:]]
        if steps and all(s is not None for s in steps) and max(steps) - min(steps) < 1e-3:
            return 1000.0 / steps[0], "FrameTimeVector"  # type: ignore[operator]
    frame_time = _number(ds.get("FrameTime"))
    if frame_time is not None:
        return 1000.0 / frame_time, "FrameTime"
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        rate = _number(ds.get(keyword))
        if rate is not None:
            return rate, keyword
    return None, None


def read_dicom_cine(path: str | Path, max_samples: int = MAX_VOXELS) -> Volume:
    """Read a multi-frame DICOM -> :class:`Volume` (T x H x W or T x H x W x 3)."""
    path = Path(path)
    with quiet_pydicom():
        try:
            ds = pydicom.dcmread(path)
            rows, cols = int(ds.Rows), int(ds.Columns)
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            samples = int(ds.get("SamplesPerPixel", 1) or 1)
            photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
        except Exception as err:  # pydicom raises many types; its text may quote values
            raise RecordError(path, f"cannot read DICOM header ({type(err).__name__})") from None
        if min(rows, cols, frames) <= 0 or samples not in (1, 3):
            raise RecordError(path, "Rows/Columns/NumberOfFrames/SamplesPerPixel out of range")
        if photometric not in _PHOTOMETRICS:
            raise RecordError(path, "photometric interpretation not supported (grey/RGB/YBR)")
        if rows * cols * frames * samples > max_samples:
            raise RecordError(path, f"{frames} frames of {rows}x{cols}x{samples} over the limit")
        try:
            pixels = np.asarray(ds.pixel_array)  # YBR -> RGB by pydicom's default as_rgb
            fps, fps_source = cine_fps(ds)
        except Exception as err:  # decoders raise many types
            raise RecordError(path, f"cannot decode pixel data ({type(err).__name__})") from None
    expected = (frames, rows, cols) if frames > 1 else (rows, cols)
    if samples == 3:
        expected = (*expected, 3)
    if pixels.shape != expected:
        raise RecordError(path, "decoded pixel data does not match the declared frames/size")
    if frames == 1:
        pixels = pixels[None]
    meta: dict[str, str | int | float | bool] = {
        "format": "DICOM",
        "frames": frames,
        "source_photometric": photometric if photometric in _PHOTOMETRICS else "other",
    }
    if fps_source is not None:
        meta["fps_source"] = fps_source
    return Volume(
        array=pixels,
        axes="THWC" if samples == 3 else "THW",
        photometric="RGB" if samples == 3 else "MONOCHROME2",
        fps=fps,
        meta=meta,
    )
