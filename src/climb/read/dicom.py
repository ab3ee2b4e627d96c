"""DICOM image series (one file per slice) through pydicom.

Only pixel data and geometry leave this module: no patient, study or device tag is returned,
and no error message quotes a header value, so nothing identifying can reach the store or the
logs.

Every slice header is checked before any pixel data is decoded: one SeriesInstanceUID (a
folder of mixed series is read one series at a time with ``series_uid``, see
:func:`dicom_series_files`), unique InstanceNumbers, unique ImagePositionPatients,
single-frame single-channel slices of equal Rows x Columns, a bounded voxel count. Slices are
stacked in the order of their position along the slice normal (the cross product of
ImageOrientationPatient's row and column directions), never by file name; by InstanceNumber
only when no slice gives its position. A gap over 1.5x the median slice spacing is a missing
slice, other uneven spacing an irregular series: both are errors. Spacing is never guessed:
in-plane spacing comes from PixelSpacing (equal on every slice, finite, > 0), slice spacing from
the positions along the slice normal (evenly spaced) or else SliceThickness; when either is
absent the spacing is reported as unknown (``None``). With ``rescale=True`` stored values are
mapped through RescaleSlope/RescaleIntercept (Hounsfield units for CT).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pydicom

from climb.errors import RecordError

#: Default bound on D x H x W (2^31 voxels: 4 GiB of int16), checked before decoding.
MAX_VOXELS = 2**31

Spacing = tuple[float, float, float]


def _drop_record(record: logging.LogRecord) -> bool:
    return False


@contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Run pydicom without value validation and with its warnings and log records dropped:
    pydicom quotes the offending raw value ("Invalid value for VR DA: '...'"), which may be
    protected health information."""
    logger = logging.getLogger("pydicom")
    logger.addFilter(_drop_record)
    try:
        with pydicom.config.disable_value_validation(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.removeFilter(_drop_record)


def _floats(values, count: int) -> tuple[float, ...] | None:
    """``count`` finite floats from a DICOM multi-value, or None if not exactly that."""
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError, OverflowError):
        return None
    if len(out) != count or not all(math.isfinite(v) for v in out):
        return None
    return out


def _header(path: Path):
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=False)
        series = str(ds.get("SeriesInstanceUID", "") or "")
        number = ds.get("InstanceNumber")
        rows, cols = ds.get("Rows"), ds.get("Columns")
        frames = ds.get("NumberOfFrames", 1)
        channels = ds.get("SamplesPerPixel", 1)
    except Exception as err:  # pydicom raises many types; its text may quote header values
        raise RecordError(path, f"cannot read DICOM slice ({type(err).__name__})") from None
    if not series:
        raise RecordError(path, "SeriesInstanceUID is missing")
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise RecordError(path, "InstanceNumber is missing or not an integer") from None
    if not isinstance(rows, int) or not isinstance(cols, int) or rows <= 0 or cols <= 0:
        raise RecordError(path, "Rows/Columns missing or not positive")
    try:
        frames, channels = int(frames or 1), int(channels or 1)
    except (TypeError, ValueError):
        raise RecordError(path, "NumberOfFrames/SamplesPerPixel not an integer") from None
    if frames != 1 or channels != 1:
        raise RecordError(path, "multi-frame or multi-channel slice (one grey frame expected)")
    return ds, series, number, (rows, cols)


def _spacing_in_plane(path: Path, ds) -> tuple[float, float] | None:
    if ds.get("PixelSpacing") is None:
        return None
    spacing = _floats(ds.PixelSpacing, 2)
    if spacing is None or min(spacing) <= 0:
        raise RecordError(path, "PixelSpacing is not two finite positive numbers")
    return spacing  # type: ignore[return-value]


def _slice_positions(files: list[Path], headers: list) -> list[float] | None:
    """Each slice's position along the slice normal, or None if no slice gives its position."""
    given = [ds.get("ImagePositionPatient") is not None for ds in headers]
    if not any(given):
        return None
    if not all(given):
        raise RecordError(files[given.index(False)], "ImagePositionPatient is missing")
    points = []
    for f, ds in zip(files, headers, strict=True):
        point = _floats(ds.ImagePositionPatient, 3)
        if point is None:
            raise RecordError(f, "ImagePositionPatient is not three finite numbers")
        points.append(point)
    orientation = _floats(headers[0].get("ImageOrientationPatient") or (), 6)
    if orientation is None:  # no orientation given: the series' own axis, first to last
        axis = np.subtract(points[-1], points[0])
        length = float(np.linalg.norm(axis))
        normal = axis / length if length > 0 else np.array([0.0, 0.0, 1.0])
    else:
        normal = np.cross(orientation[:3], orientation[3:])
        if not np.linalg.norm(normal) > 1e-6:
            raise RecordError(files[0], "ImageOrientationPatient is degenerate")
    return [float(np.dot(p, normal)) for p in points]


def dicom_series_files(folder: str | Path) -> dict[str, list[Path]]:
    """Group the DICOM files directly in ``folder`` (any file name) by SeriesInstanceUID;
    files that are not DICOM are skipped. The UIDs are for choosing a series: do not store
    them (a UID can link a record back to its study)."""
    folder = Path(folder)
    groups: dict[str, list[Path]] = {}
    with quiet_pydicom():
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except pydicom.errors.InvalidDicomError:
                continue
            except Exception as err:  # a DICOM file pydicom cannot parse
                problem = f"cannot read DICOM header ({type(err).__name__})"
                raise RecordError(path, problem) from None
            uid = str(ds.get("SeriesInstanceUID", "") or "")
            if not uid:
                raise RecordError(path, "SeriesInstanceUID is missing")
            groups.setdefault(uid, []).append(path)
    return groups


def read_dicom_series(
    folder: str | Path,
    max_voxels: int = MAX_VOXELS,
    series_uid: str | None = None,
    rescale: bool = False,
) -> tuple[np.ndarray, Spacing | None]:
    """Stack a folder's slices along the slice normal -> (D x H x W, (dz, dy, dx) mm).

    Reads the folder's ``*.dcm`` files, or with ``series_uid`` the DICOM files (any name) of
    that series only. The spacing is ``None`` when the files do not say it (no PixelSpacing,
    or neither slice positions nor SliceThickness). Inconsistent series raise
    :class:`RecordError`. ``rescale`` applies RescaleSlope/Intercept (int16 when the result
    is whole numbers that fit, else float32).
    """
    folder = Path(folder)
    if series_uid is None:
        files = sorted(folder.glob("*.dcm"))
    else:
        files = dicom_series_files(folder).get(series_uid, [])
    with quiet_pydicom():
        volume, spacing, headers = _read_series(folder, files, max_voxels)
        if rescale:
            volume = _rescaled(folder, volume, headers)
    return volume, spacing


def _rescaled(folder: Path, volume: np.ndarray, headers: list) -> np.ndarray:
    """Stored values -> RescaleSlope * value + RescaleIntercept, slice by slice."""
    factors = []
    for ds in headers:
        slope = _floats([ds.get("RescaleSlope", 1) or 1], 1)
        intercept = _floats([ds.get("RescaleIntercept", 0) or 0], 1)
        if slope is None or intercept is None or slope[0] == 0:
            raise RecordError(folder, "RescaleSlope/RescaleIntercept are not finite numbers")
        factors.append((slope[0], intercept[0]))
    slopes = np.array([f[0] for f in factors])[:, None, None]
    intercepts = np.array([f[1] for f in factors])[:, None, None]
    out = volume.astype(np.float64) * slopes + intercepts
    whole = np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts))
    if whole and out.size and out.min() >= -32768 and out.max() <= 32767:
        return out.astype(np.int16)
    return out.astype(np.float32)


def _read_series(
    folder: Path, files: list[Path], max_voxels: int
) -> tuple[np.ndarray, Spacing | None, list]:
    if not files:
        raise RecordError(folder, "no DICOM slices")
    read = [_header(f) for f in files]
    series = {r[1] for r in read}
    if len(series) != 1:
        raise RecordError(folder, f"slices of {len(series)} different series (SeriesInstanceUID)")
    numbers: dict[int, Path] = {}
    for f, (_, _, number, _) in zip(files, read, strict=True):
        if number in numbers:
            raise RecordError(f, f"duplicate InstanceNumber (also in {numbers[number].name})")
        numbers[number] = f
    shape = read[0][3]
    for f, r in zip(files, read, strict=True):
        if r[3] != shape:
            raise RecordError(
                f, f"slice size {r[3][0]}x{r[3][1]} differs from {shape[0]}x{shape[1]}"
            )
    if len(files) * shape[0] * shape[1] > max_voxels:
        raise RecordError(
            folder, f"series of {len(files)} x {shape[0]} x {shape[1]} voxels is over {max_voxels}"
        )

    order = sorted(range(len(files)), key=lambda i: read[i][2])
    files = [files[i] for i in order]
    headers = [read[i][0] for i in order]
    try:
        positions = _slice_positions(files, headers)
        if positions is not None:  # along the slice normal, not by InstanceNumber or name
            order = sorted(range(len(files)), key=lambda i: positions[i])
            files = [files[i] for i in order]
            headers = [headers[i] for i in order]
            positions = [positions[i] for i in order]
        spacing = _spacing(folder, files, headers, positions)
    except RecordError:
        raise
    except Exception as err:  # a malformed geometry element pydicom only notices on access
        raise RecordError(folder, f"malformed slice geometry ({type(err).__name__})") from None

    slices = []
    for f, ds in zip(files, headers, strict=True):
        try:
            pixels = np.asarray(ds.pixel_array)
        except Exception as err:  # decoders raise many types
            raise RecordError(f, f"cannot decode pixel data ({type(err).__name__})") from None
        if pixels.shape != shape:
            raise RecordError(f, "decoded pixel data does not match Rows x Columns")
        slices.append(pixels)
    return np.stack(slices), spacing, headers


def _spacing(
    folder: Path, files: list[Path], headers: list, positions: list[float] | None
) -> Spacing | None:
    """(dz, dy, dx) from the headers, or None when they do not give it; never a guess.
    ``positions``: the slices' positions along the normal, already in ascending order (the
    order of ``files``), or None when no slice gives one."""
    in_plane = [_spacing_in_plane(f, ds) for f, ds in zip(files, headers, strict=True)]
    if any(s != in_plane[0] for s in in_plane):
        raise RecordError(folder, "PixelSpacing differs between slices")
    dz: float | None = None
    if positions is not None and len(positions) > 1:
        gaps = np.diff(positions)  # >= 0: the slices are sorted by position
        for f, gap in zip(files[1:], gaps, strict=True):
            if gap < 1e-6:
                raise RecordError(f, "ImagePositionPatient repeats another slice's position")
        median, widest = float(np.median(gaps)), int(np.argmax(gaps))
        if gaps[widest] > 1.5 * median:
            raise RecordError(
                files[widest + 1],
                f"missing slice: a {gaps[widest]:.4g} mm gap where slices are {median:.4g} mm "
                "apart",
            )
        if gaps.max() - gaps.min() > 0.01 * gaps.mean():
            raise RecordError(folder, "slices are not evenly spaced (gap or missing slice)")
        dz = float(gaps.mean())
    elif headers[0].get("SliceThickness") not in (None, ""):
        thickness = _floats([headers[0].SliceThickness], 1)
        if thickness is None or thickness[0] <= 0:
            raise RecordError(files[0], "SliceThickness is not a finite positive number")
        dz = thickness[0]
    if dz is None or in_plane[0] is None:
        return None
    return (dz, *in_plane[0])
