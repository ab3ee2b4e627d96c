"""NIfTI-1/NIfTI-2 volumes (``.nii``, ``.nii.gz``, ``.hdr/.img`` pairs) through nibabel.

The volume is reoriented to the closest canonical RAS+ orientation
(``nibabel.as_closest_canonical``) and returned slice x row x column (time first for 4D),
see :mod:`climb.read.volume`. Spacing comes from the header zooms; frames per second from the
fourth zoom when the header gives a time unit, else ``None``.

Checked before any voxel is decoded: a NIfTI header nibabel accepts, 3 or 4 non-empty
dimensions (trailing singleton dimensions dropped), a bounded voxel count, spatial zooms
finite, > 0 and not absurd, a finite invertible affine, a numeric data type. The data present
must fill the declared shape (a short or truncated ``.gz`` file is an error). Errors name the
file and the problem, never header text; ``descrip``, ``aux_file``, ``intent_name`` and
``db_name`` (free text that may identify) never reach ``meta``.
"""

from __future__ import annotations

import gzip
import math
import warnings
from pathlib import Path

import nibabel
import numpy as np
from nibabel.openers import ImageOpener

from climb.errors import RecordError
from climb.read.volume import MAX_VOXELS, Volume, valid_affine, valid_spacing

_SECONDS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


def _load(path: Path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = nibabel.load(path)
    except Exception as err:  # nibabel raises ImageFileError, HeaderDataError, OSError, ...
        raise RecordError(path, f"cannot read NIfTI header ({type(err).__name__})") from None
    if not isinstance(img.header, nibabel.Nifti1Header):  # NIfTI-2 headers subclass it
        raise RecordError(path, f"not a NIfTI image ({type(img).__name__})")
    return img


def _shape(path: Path, img, max_voxels: int) -> tuple[int, ...]:
    if not 1 <= int(img.header["dim"][0]) <= 7:
        raise RecordError(path, "dim[0] (the number of dimensions) is not 1..7")
    shape = tuple(int(d) for d in img.header.get_data_shape())
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) not in (3, 4):
        raise RecordError(path, f"{len(shape)}-dimensional image (3D or 4D expected)")
    if min(shape) <= 0:
        raise RecordError(path, "a dimension is not positive")
    if math.prod(shape) > max_voxels:
        raise RecordError(path, f"{'x'.join(map(str, shape))} voxels is over {max_voxels}")
    return shape


def _declared_bytes_present(path: Path, img, shape: tuple[int, ...]) -> None:
    """For an uncompressed single file, the bytes the header declares must be there."""
    if path.name.endswith(".nii"):
        offset = max(int(img.header.get_data_offset()), img.header.single_vox_offset)
        need = offset + math.prod(shape) * img.get_data_dtype().itemsize
        if path.stat().st_size < need:
            raise RecordError(
                path, f"data truncated: {path.stat().st_size} of {need} declared bytes"
            )


def _stored_zooms(path: Path, img) -> tuple[float, ...]:
    """pixdim[1:4] as stored: nibabel's load silently replaces zeros by 1 (a guess)."""
    try:
        holder = img.file_map.get("header") or img.file_map["image"]
        with ImageOpener(holder.filename) as handle:
            stored = type(img.header).from_fileobj(handle, check=False)
        return tuple(float(v) for v in stored["pixdim"][1:4])
    except Exception as err:  # the header was read once already; a race or I/O error
        raise RecordError(path, f"cannot read NIfTI header ({type(err).__name__})") from None


def _fps(img, shape: tuple[int, ...]) -> float | None:
    if len(shape) < 4:
        return None
    _, time_unit = img.header.get_xyzt_units()
    step = float(img.header.get_zooms()[3]) * _SECONDS.get(time_unit, math.nan)
    return 1.0 / step if math.isfinite(step) and step > 0 else None


def read_nifti(path: str | Path, max_voxels: int = MAX_VOXELS) -> Volume:
    """Read a NIfTI file -> :class:`Volume` (D x H x W, or T x D x H x W for 4D), RAS+."""
    path = Path(path)
    img = _load(path)
    shape = _shape(path, img, max_voxels)
    dtype = img.get_data_dtype()
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise RecordError(path, f"unsupported NIfTI data type ({dtype.kind}{dtype.itemsize})")
    if valid_spacing(_stored_zooms(path, img)) is None:
        raise RecordError(path, "voxel sizes (pixdim) are not finite positive sizes")
    if not valid_affine(img.affine):
        raise RecordError(path, "the voxel-to-world affine is not finite and invertible")
    source_orientation = "".join(nibabel.aff2axcodes(img.affine))
    _declared_bytes_present(path, img, shape)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            canonical = nibabel.as_closest_canonical(img)
            data = np.asanyarray(canonical.dataobj)
    except (EOFError, gzip.BadGzipFile) as err:
        raise RecordError(path, f"data truncated ({type(err).__name__})") from None
    except Exception as err:  # zlib.error, OSError, ValueError from a short mmap, ...
        raise RecordError(path, f"cannot read the voxel data ({type(err).__name__})") from None
    if data.shape[: len(shape)] != shape or math.prod(data.shape) != math.prod(shape):
        raise RecordError(path, "the voxel data does not match the declared shape")
    data = data.reshape(shape)
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    if data.dtype.kind == "f" and not np.isfinite(data).all() and dtype.kind != "f":
        raise RecordError(path, "scaling (scl_slope/scl_inter) makes voxels non-finite")
    array = np.ascontiguousarray(np.transpose(data, tuple(range(data.ndim - 1, -1, -1))))
    zooms = canonical.header.get_zooms()[:3]
    return Volume(
        array=array,
        axes="DHW" if len(shape) == 3 else "TDHW",
        spacing=tuple(float(z) for z in zooms[::-1]),
        orientation="".join(nibabel.aff2axcodes(canonical.affine))[::-1],
        origin=tuple(float(v) for v in canonical.affine[:3, 3]),  # type: ignore[arg-type]
        fps=_fps(img, shape),
        meta={
            "format": "NIfTI-2" if isinstance(img.header, nibabel.Nifti2Header) else "NIfTI-1",
            "datatype": str(dtype.newbyteorder("=")),
            "source_orientation": source_orientation,
        },
    )
