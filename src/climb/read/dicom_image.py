"""2D DICOM images (radiographs, mammograms, single MR/CT/US slices, multi-frame stacks).

:func:`read_dicom_image` -> :class:`climb.read.pixels.Pixels`, in the order PS3.3 C.11
prescribes: stored values -> modality LUT (LUT sequence or rescale slope/intercept) -> VOI
(the VOI LUT, else the first window centre/width, else the min-max of the modality output)
-> ``uint8``; MONOCHROME1 is inverted so that larger always means brighter. Colour images
(RGB, and YBR, which pydicom converts to RGB) are returned as decoded (8-bit) or scaled from
their bit depth.

Compressed transfer syntaxes go through pydicom's decoder plugins (pylibjpeg, Pillow, GDCM);
when none is installed for a file's syntax the error names what to install. Header values
never appear in an error; :attr:`Pixels.meta` holds only whitelisted acquisition fields.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from climb.errors import RecordError
from climb.read.dicom import MAX_VOXELS, quiet_pydicom
from climb.read.image import MAX_PIXELS
from climb.read.pixels import Pixels, safe_meta

INSTALL_HINT = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg (or python-gdcm)"

Window = tuple[float, float]


def _first(value: Any) -> Any:
    """The first of a multi-valued element (or the value itself)."""
    if value is None:
        return None
    try:
        return value[0] if not isinstance(value, str | bytes) and len(value) else value
    except TypeError:
        return value


def _number(value: Any) -> float | None:
    try:
        out = float(_first(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return out if math.isfinite(out) else None


def _short_text(value: Any, limit: int = 32) -> str | None:
    """A short code-like header string (view, laterality, modality, manufacturer)."""
    if value is None:
        return None
    text = " ".join(str(value).split())[:limit]
    return text or None


def _spacing(ds) -> tuple[float, float] | None:
    """PixelSpacing, else ImagerPixelSpacing (radiographs: at the detector), else None.

    A value that is not two finite positive numbers (exporters write "0\\0" for unknown)
    counts as absent: the spacing is then unknown, never guessed."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        values = ds.get(keyword)
        if values is None:
            continue
        try:
            pair = tuple(float(v) for v in values)
        except (TypeError, ValueError, OverflowError):
            continue
        if len(pair) == 2 and all(math.isfinite(v) and v > 0 for v in pair):
            return pair  # type: ignore[return-value]
    return None


def _check_decoder(path: Path, ds) -> str:
    """The transfer syntax keyword; RecordError when no installed plugin can decode it."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID

    syntax = UID(str(ds.file_meta.get("TransferSyntaxUID", "") or ""))
    label = syntax.keyword or "an unknown transfer syntax"
    if not syntax.is_transfer_syntax:
        raise RecordError(path, "transfer syntax missing or not a known transfer syntax")
    if not syntax.is_compressed:
        return label
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise RecordError(path, f"pixel data in {label}: pydicom has no decoder for it") from None
    if not decoder.is_available:
        raise RecordError(path, f"no decoder installed for {label} pixel data: {INSTALL_HINT}")
    return label


def _output_range(ds) -> tuple[float, float]:
    """The range the modality LUT maps the stored range to (PS3.3 C.11.1)."""
    lut = ds.get("ModalityLUTSequence")
    if lut:
        return 0.0, float(2 ** int(lut[0].LUTDescriptor[2]) - 1)
    bits = int(ds.get("BitsStored", 16) or 16)
    if int(ds.get("PixelRepresentation", 0) or 0) == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope = _number(ds.get("RescaleSlope"))
    intercept = _number(ds.get("RescaleIntercept"))
    if slope is not None and intercept is not None:
        low, high = sorted((low * slope + intercept, high * slope + intercept))
    return low, high


def window_unit(
    values: np.ndarray, center: float, width: float, function: str = "LINEAR"
) -> np.ndarray:
    """A VOI window (PS3.3 C.11.2.1.2) mapping modality values to [0, 1]."""
    x = values.astype(np.float64)
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (x - center) / width))
    if function == "LINEAR_EXACT":
        return np.clip((x - (center - width / 2.0)) / width, 0.0, 1.0)
    if width < 1:
        raise ValueError("LINEAR window width below 1")
    low, high = center - 0.5 - (width - 1) / 2.0, center - 0.5 + (width - 1) / 2.0
    scaled = (x - (center - 0.5)) / (width - 1) + 0.5 if width > 1 else (x > low).astype(float)
    return np.where(x <= low, 0.0, np.where(x > high, 1.0, scaled))


def _to_uint8(unit: np.ndarray) -> np.ndarray:
    return np.round(np.clip(unit, 0.0, 1.0) * 255.0).astype(np.uint8)


def _voi(
    path: Path, ds, values: np.ndarray, window: str | Window
) -> tuple[np.ndarray, dict[str, Any] | str]:
    """Modality values -> [0, 1] and what was used ({"center", "width"}, "voi_lut", "minmax")."""
    from pydicom.pixels import apply_voi

    if isinstance(window, tuple | list):
        center, width = float(window[0]), float(window[1])
        if not (math.isfinite(center) and math.isfinite(width) and width > 0):
            raise RecordError(path, "requested window is not a finite centre and positive width")
        return window_unit(values, center, width), {"center": center, "width": width}
    if window != "auto":
        raise RecordError(path, f"unknown window option {window!r} (auto, None or (c, w))")
    voi_lut = ds.get("VOILUTSequence")
    if voi_lut:
        try:
            out = np.asarray(apply_voi(values, ds, index=0), dtype=np.float64)
            lut = np.asarray(voi_lut[0].LUTData, dtype=np.float64).reshape(-1)
        except Exception as err:  # malformed LUT items; pydicom text may quote them
            raise RecordError(path, f"VOI LUT cannot be applied ({type(err).__name__})") from None
        low, high = float(lut.min()), float(lut.max())
        unit = (out - low) / (high - low) if high > low else np.zeros_like(out)
        return unit, "voi_lut"
    center, width = _number(ds.get("WindowCenter")), _number(ds.get("WindowWidth"))
    if center is not None and width is not None and width > 0:
        function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
        if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
            function = "LINEAR"
        if function == "LINEAR" and width < 1:
            function = "LINEAR_EXACT"
        return window_unit(values, center, width, function), {"center": center, "width": width}
    low, high = float(values.min()), float(values.max())
    unit = (
        (values.astype(np.float64) - low) / (high - low) if high > low else (np.zeros(values.shape))
    )
    return unit, "minmax"


def _modality_values(path: Path, ds, stored: np.ndarray) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut

    try:
        values = apply_modality_lut(stored, ds)
    except Exception as err:  # malformed LUT/rescale elements
        raise RecordError(path, f"modality LUT cannot be applied ({type(err).__name__})") from None
    values = np.asarray(values)
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise RecordError(path, "rescale slope/intercept give non-finite values")
    return values


def _native(values: np.ndarray) -> np.ndarray:
    """Modality values as int16 when they are integers that fit, else float32."""
    integral = values.dtype.kind in "iu" or np.array_equal(values, np.round(values))
    if integral and (values.size == 0 or (values.min() >= -(2**15) and values.max() < 2**15)):
        return values.astype(np.int16)
    return values.astype(np.float32)


#: Header fields :func:`read_dicom_header` may return: DICOM keyword -> the most characters
#: kept. Short, code-like acquisition values only; nothing that identifies a person.
HEADER_FIELDS: dict[str, int] = {
    "BurnedInAnnotation": 8,
    "ImageLaterality": 4,
    "Laterality": 4,
    "ViewPosition": 16,
    "Modality": 16,
}


def read_dicom_header(path: str | Path, fields: Iterable[str]) -> dict[str, str | None]:
    """The header ``fields`` (keywords of :data:`HEADER_FIELDS`) of a DICOM file, read
    without its pixel data: each value whitespace-folded and cut to its limit, None when
    absent or empty. A file pydicom cannot read is a RecordError naming it (never a value)."""
    import pydicom

    fields = list(fields)
    unknown = sorted(set(fields) - set(HEADER_FIELDS))
    if unknown:
        raise ValueError(f"DICOM header fields outside the whitelist: {unknown}")
    path = Path(path)
    with quiet_pydicom():
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=fields)
            return {f: _short_text(ds.get(f), HEADER_FIELDS[f]) for f in fields}
        except Exception as err:  # pydicom's messages may quote header values
            raise RecordError(path, f"cannot read DICOM header ({type(err).__name__})") from None


def read_dicom_image(
    path: str | Path, frame: int | None = None, window: str | Window | None = "auto"
) -> Pixels:
    """Decode a 2D DICOM image -> :class:`Pixels`.

    ``frame``: one frame of a multi-frame file (0-based); without it a multi-frame file
    returns frames x H x W. ``window``: "auto" (VOI LUT if present, else the first window,
    else min-max) or an explicit (centre, width) -> ``uint8``; None -> the modality-LUT values
    (int16 when integral and in range, else float32), MONOCHROME1 inverted within the output
    range. Colour images are returned as RGB ``uint8`` whatever ``window`` is.
    """
    import pydicom

    path = Path(path)
    with quiet_pydicom():
        try:
            ds = pydicom.dcmread(path)
        except Exception as err:  # pydicom raises many types; its text may quote values
            raise RecordError(path, f"cannot read DICOM file ({type(err).__name__})") from None
        if "PixelData" not in ds and "FloatPixelData" not in ds:
            raise RecordError(path, "no PixelData (not an image object)")
        rows, cols = ds.get("Rows"), ds.get("Columns")
        try:
            rows, cols = int(rows), int(cols)
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            samples = int(ds.get("SamplesPerPixel", 1) or 1)
            bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
        except (TypeError, ValueError):
            raise RecordError(path, "Rows/Columns/NumberOfFrames/BitsStored not integers") from None
        if rows <= 0 or cols <= 0 or frames <= 0 or samples not in (1, 3):
            raise RecordError(path, "image size, frame count or samples per pixel invalid")
        if rows * cols > MAX_PIXELS:
            raise RecordError(
                path, f"image declares {cols}x{rows} pixels, over the {MAX_PIXELS} limit"
            )
        if rows * cols * frames * samples > MAX_VOXELS:
            raise RecordError(
                path, f"{frames} frames of {cols}x{rows} exceed the {MAX_VOXELS} value limit"
            )
        if frame is not None and not 0 <= int(frame) < frames:
            raise RecordError(path, f"frame {frame} requested, the file has {frames}")
        syntax = _check_decoder(path, ds)
        photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
        try:
            if frame is not None and frames > 1:
                ds.pixel_array_options(index=int(frame))
            stored = np.asarray(ds.pixel_array)
        except Exception as err:  # decoder errors: corrupt or truncated pixel data
            raise RecordError(path, f"cannot decode pixel data ({type(err).__name__})") from None
        meta: dict[str, Any] = {
            "format": "dicom",
            "transfer_syntax": syntax,
            "frames": frames,
            "modality": _short_text(ds.get("Modality"), 16),
            "view_position": _short_text(ds.get("ViewPosition"), 16),
            "laterality": _short_text(ds.get("ImageLaterality") or ds.get("Laterality"), 4),
            "manufacturer": _short_text(ds.get("Manufacturer")),
        }
        spacing = _spacing(ds)
        if spacing is not None:
            meta["pixel_spacing"] = list(spacing)
        if samples == 3:
            array = (
                stored
                if stored.dtype == np.uint8
                else _to_uint8(stored.astype(np.float64) / float(2**bits - 1))
            )
            return Pixels(array, spacing, "RGB", bits, safe_meta(meta))
        if photometric not in ("MONOCHROME1", "MONOCHROME2"):
            raise RecordError(path, "single-sample image that is not MONOCHROME1/2")
        values = _modality_values(path, ds, stored)
        inverted = photometric == "MONOCHROME1"
        if window is None:
            if inverted:
                low, high = _output_range(ds)
                values = (low + high) - values.astype(np.float64)
            out = _native(values)
        else:
            unit, used = _voi(path, ds, values, window)
            meta["window"] = used
            out = _to_uint8(1.0 - unit if inverted else unit)
    if inverted:
        meta["inverted"] = True
    return Pixels(np.ascontiguousarray(out), spacing, "MONOCHROME2", bits, safe_meta(meta))
