"""MetaImage (``.mhd`` + ``.raw``/``.zraw``, single-file ``.mha``) and NRRD (``.nrrd``, ``.nhdr``)
volumes, e.g. LNDb's lung CTs.

MetaImage is read by the small parser here: SimpleITK is not installed and is a ~50 MB binary,
MONAI's ``ITKReader`` needs the (heavier) ``itk`` package, and the format is a short ``Key =
Value`` text header (ObjectType, NDims, DimSize, ElementSpacing, ElementType,
ElementNumberOfChannels, BinaryDataByteOrderMSB, CompressedData, HeaderSize, Offset,
TransformMatrix; ElementDataFile last: ``LOCAL`` or a file name beside the header) followed by
raw or zlib-compressed samples, x fastest. NRRD is read with pynrrd (small, pure Python).

Both return a :class:`climb.read.volume.Volume`: D x H x W (time first for 4D), reoriented to
the closest canonical RAS+ orientation when the file gives its axis directions (MetaImage's
TransformMatrix and NRRD's ``space directions`` are in the file's patient space: LPS for
MetaImage, the ``space`` field for NRRD); without directions the array keeps the stored order
and ``orientation`` is ``None``. Spacing is never guessed. Errors name the file and the
problem, never header text.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np

from climb.errors import RecordError
from climb.read.volume import MAX_VOXELS, Volume, canonical_zyx, valid_spacing

#: The header (everything before the samples of a ``.mha``) is at most this many bytes.
MAX_HEADER_BYTES = 1 << 16

#: MetaIO element types (MET_LONG is 4 bytes in MetaIO's own size table).
ELEMENT_TYPES = {
    "MET_CHAR": "i1", "MET_UCHAR": "u1", "MET_SHORT": "i2", "MET_USHORT": "u2",
    "MET_INT": "i4", "MET_UINT": "u4", "MET_LONG": "i4", "MET_ULONG": "u4",
    "MET_LONG_LONG": "i8", "MET_ULONG_LONG": "u8", "MET_FLOAT": "f4", "MET_DOUBLE": "f8",
}  # fmt: skip

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def _header_fields(path: Path, head: bytes) -> tuple[dict[str, str], int]:
    """The ``key -> value`` fields up to ElementDataFile, and the byte offset just after it."""
    fields: dict[str, str] = {}
    offset = 0
    for number, line in enumerate(head.split(b"\n"), start=1):
        end = offset + len(line) + 1
        try:
            text = line.decode("ascii").strip()
        except UnicodeDecodeError:
            raise RecordError(path, f"header line {number} is not ASCII text") from None
        offset = end
        if not text:
            continue
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise RecordError(path, f"header line {number} is not 'Key = Value'")
        fields[key.strip().lower()] = value.strip()
        if key.strip().lower() == "elementdatafile":
            return fields, offset
    raise RecordError(path, f"no ElementDataFile in the first {MAX_HEADER_BYTES} header bytes")


def _ints(path: Path, fields: dict[str, str], key: str, count: int) -> list[int]:
    try:
        values = [int(v) for v in fields[key.lower()].split()]
    except KeyError:
        raise RecordError(path, f"{key} is missing") from None
    except ValueError:
        raise RecordError(path, f"{key} is not integers") from None
    if len(values) != count:
        raise RecordError(path, f"{key} has {len(values)} values, {count} expected")
    return values


def _floats(path: Path, fields: dict[str, str], key: str, count: int) -> np.ndarray | None:
    if key.lower() not in fields:
        return None
    try:
        values = np.array([float(v) for v in fields[key.lower()].split()], dtype=np.float64)
    except ValueError:
        raise RecordError(path, f"{key} is not numbers") from None
    if values.size != count or not np.all(np.isfinite(values)):
        raise RecordError(path, f"{key} is not {count} finite numbers")
    return values


def _flag(path: Path, fields: dict[str, str], *keys: str) -> bool:
    for key in keys:
        value = fields.get(key.lower())
        if value is not None:
            if value.lower() not in ("true", "false"):
                raise RecordError(path, f"{key} is not True or False")
            return value.lower() == "true"
    return False


def _samples(path: Path, fields: dict[str, str], data_offset: int, nbytes: int) -> bytes:
    """The sample bytes: from the header file (LOCAL) or the named file beside it."""
    name = fields["elementdatafile"]
    if name.upper() == "LOCAL":
        source, skip = path, data_offset
    else:
        if name.upper() == "LIST" or "%" in name or not name:
            raise RecordError(path, "ElementDataFile lists several files (not supported)")
        source = (path.parent / name).resolve()
        if path.parent.resolve() not in source.parents:
            raise RecordError(path, "ElementDataFile points outside the header's folder")
        if not source.is_file():
            raise RecordError(path, "the ElementDataFile does not exist")
        skip = 0
    header_size = fields.get("headersize")
    if header_size is not None:
        try:
            skip_more = int(header_size)
        except ValueError:
            raise RecordError(path, "HeaderSize is not an integer") from None
        if skip_more < -1:
            raise RecordError(path, "HeaderSize is negative")
    else:
        skip_more = 0
    compressed = _flag(path, fields, "CompressedData")
    with open(source, "rb") as handle:
        size = handle.seek(0, 2)
        at_end = skip_more == -1 and not compressed  # HeaderSize -1: the file's last bytes
        start = size - nbytes if at_end else skip + max(skip_more, 0)
        if start < skip:
            raise RecordError(source, f"truncated: {size - skip} of {nbytes} sample bytes")
        handle.seek(start)
        if not compressed:
            data = handle.read(nbytes)
            if len(data) != nbytes:
                raise RecordError(source, f"truncated: {len(data)} of {nbytes} sample bytes")
            return data
        return _inflate(source, handle, nbytes)


def _inflate(source: Path, handle, nbytes: int) -> bytes:
    """zlib-decompress exactly ``nbytes`` (never more: a bomb stops at the declared size)."""
    inflater = zlib.decompressobj()
    out = bytearray()
    try:
        while len(out) <= nbytes:
            chunk = handle.read(1 << 20)
            if not chunk:
                break
            out += inflater.decompress(chunk, nbytes + 1 - len(out))
            if inflater.unconsumed_tail:  # more output than declared
                out += b"\0"
                break
        out += inflater.flush() if len(out) <= nbytes else b""
    except zlib.error:
        raise RecordError(source, "compressed samples are corrupt (zlib)") from None
    if len(out) != nbytes:
        problem = "more" if len(out) > nbytes else f"{len(out)} of"
        raise RecordError(source, f"compressed samples inflate to {problem} {nbytes} bytes")
    return bytes(out)


def _affine(spacing_xyz: np.ndarray, directions: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Voxel (x, y, z) -> RAS+ mm, from LPS direction columns, spacing and origin."""
    affine = np.eye(4)
    affine[:3, :3] = _LPS_TO_RAS @ directions * spacing_xyz
    affine[:3, 3] = _LPS_TO_RAS @ origin
    return affine


def _volume(
    path: Path,
    data_zyx: np.ndarray,
    spacing_xyz: np.ndarray | None,
    directions: np.ndarray | None,
    origin: np.ndarray | None,
    meta: dict,
) -> Volume:
    """Reorient when the directions are known (LPS columns), else keep the stored order."""
    axes = "DHW" if data_zyx.ndim == 3 else "TDHW"
    if directions is not None:
        if abs(float(np.linalg.det(directions))) < 1e-6:
            raise RecordError(path, "axis directions are degenerate")
        ones = np.ones(3) if spacing_xyz is None else spacing_xyz
        zero = np.zeros(3) if origin is None else origin
        affine = _affine(ones, directions, zero)
        data_xyz = np.transpose(data_zyx, tuple(range(data_zyx.ndim - 1, -1, -1)))
        array, spacing, orientation, first = canonical_zyx(data_xyz, affine)
        return Volume(
            array=array,
            axes=axes,
            spacing=None if spacing_xyz is None else spacing,
            orientation=orientation,
            origin=None if origin is None else first,
            meta=meta,
        )
    spacing = None if spacing_xyz is None else tuple(float(v) for v in spacing_xyz[::-1])
    return Volume(array=np.ascontiguousarray(data_zyx), axes=axes, spacing=spacing, meta=meta)


def read_metaimage(path: str | Path, max_voxels: int = MAX_VOXELS) -> Volume:
    """Read a MetaImage ``.mhd``/``.mha`` -> :class:`Volume` (D x H x W or T x D x H x W)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(MAX_HEADER_BYTES)
    except OSError as err:
        raise RecordError(path, f"cannot open ({type(err).__name__})") from None
    fields, data_offset = _header_fields(path, head)
    if fields.get("objecttype", "Image").lower() != "image":
        raise RecordError(path, "ObjectType is not Image")
    ndims = _ints(path, fields, "NDims", 1)[0]
    if ndims not in (3, 4):
        raise RecordError(path, f"NDims is {ndims} (3 or 4 supported)")
    dims = _ints(path, fields, "DimSize", ndims)
    if min(dims) <= 0:
        raise RecordError(path, "DimSize is not positive")
    channels = (
        _ints(path, fields, "ElementNumberOfChannels", 1)[0]
        if ("elementnumberofchannels" in fields)
        else 1
    )
    if channels != 1:
        raise RecordError(path, "multi-channel elements (not supported)")
    if math.prod(dims) > max_voxels:
        raise RecordError(path, f"{'x'.join(map(str, dims))} voxels is over {max_voxels}")
    element = fields.get("elementtype", "").upper()
    if element not in ELEMENT_TYPES:
        raise RecordError(path, "ElementType is missing or not a MetaIO numeric type")
    msb = _flag(path, fields, "BinaryDataByteOrderMSB", "ElementByteOrderMSB")
    dtype = np.dtype(ELEMENT_TYPES[element]).newbyteorder(">" if msb else "<")
    if "binarydata" in fields and not _flag(path, fields, "BinaryData"):
        raise RecordError(path, "ASCII samples (BinaryData = False) are not supported")

    key = "ElementSpacing" if "elementspacing" in fields else "ElementSize"
    spacing = _floats(path, fields, key, ndims)
    if spacing is not None and valid_spacing(spacing[:3]) is None:
        raise RecordError(path, f"{key} is not finite positive sizes")
    matrix_key = next(
        (k for k in ("TransformMatrix", "Rotation", "Orientation") if k.lower() in fields), None
    )
    matrix = None if matrix_key is None else _floats(path, fields, matrix_key, ndims * ndims)
    directions = None if matrix is None else matrix.reshape(ndims, ndims)[:3, :3].T.copy()
    origin_key = next((k for k in ("Offset", "Position", "Origin") if k.lower() in fields), None)
    origin = None if origin_key is None else _floats(path, fields, origin_key, ndims)

    nbytes = math.prod(dims) * dtype.itemsize
    data = np.frombuffer(_samples(path, fields, data_offset, nbytes), dtype=dtype)
    data = data.reshape(dims[::-1]).astype(dtype.newbyteorder("="))
    meta = {"format": "MetaImage", "datatype": str(data.dtype)}
    return _volume(
        path,
        data,
        None if spacing is None else spacing[:3],
        directions,
        None if origin is None else origin[:3],
        meta,
    )


_SPACES = {
    "left-posterior-superior": np.diag([-1.0, -1.0, 1.0]),
    "right-anterior-superior": np.eye(3),
    "left-anterior-superior": np.diag([-1.0, 1.0, 1.0]),
}


def read_nrrd(path: str | Path, max_voxels: int = MAX_VOXELS) -> Volume:
    """Read an NRRD ``.nrrd``/``.nhdr`` -> :class:`Volume` (D x H x W or T x D x H x W)."""
    import nrrd  # pynrrd

    path = Path(path)
    try:
        with open(path, "rb") as handle:
            header = nrrd.read_header(handle)
            sizes = [int(s) for s in header["sizes"]]
            if len(sizes) not in (3, 4) or min(sizes) <= 0:
                raise RecordError(path, f"{len(sizes)} dimensions or an empty one (3D/4D)")
            if math.prod(sizes) > max_voxels:
                raise RecordError(path, f"{'x'.join(map(str, sizes))} voxels over {max_voxels}")
            data = nrrd.read_data(header, handle, str(path), index_order="C")
    except RecordError:
        raise
    except Exception as err:  # NRRDError, ValueError, zlib.error, ...: texts quote the header
        raise RecordError(path, f"cannot read NRRD ({type(err).__name__})") from None
    if data.shape != tuple(sizes[::-1]) or data.dtype.kind not in "biuf":
        raise RecordError(path, "the samples do not match the declared sizes and type")
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))

    space = str(header.get("space", "")).lower()
    space = {"lps": "left-posterior-superior", "ras": "right-anterior-superior",
             "las": "left-anterior-superior"}.get(space, space)  # fmt: skip
    directions = spacing_xyz = origin = None
    if header.get("space directions") is not None:
        rows = np.asarray(header["space directions"], dtype=np.float64)
        spatial = rows[:3] if rows.ndim == 2 and rows.shape[0] >= 3 else None
        if spatial is None or spatial.shape[1] != 3 or not np.all(np.isfinite(spatial)):
            raise RecordError(path, "space directions are not three finite 3D vectors")
        spacing_xyz = np.linalg.norm(spatial, axis=1)
        if valid_spacing(spacing_xyz) is None:
            raise RecordError(path, "space directions give a zero or absurd spacing")
        if space in _SPACES:
            # to LPS columns, the convention _volume expects
            directions = _LPS_TO_RAS @ _SPACES[space] @ (spatial / spacing_xyz[:, None]).T
            if header.get("space origin") is not None:
                origin = np.asarray(header["space origin"], dtype=np.float64)[:3]
                origin = _LPS_TO_RAS @ _SPACES[space] @ origin
                if not np.all(np.isfinite(origin)):
                    raise RecordError(path, "space origin is not finite")
    elif header.get("spacings") is not None:
        spacing_xyz = np.asarray(header["spacings"], dtype=np.float64)[:3]
        if valid_spacing(spacing_xyz) is None:
            raise RecordError(path, "spacings are not finite positive sizes")
    meta = {"format": "NRRD", "datatype": str(data.dtype)}
    return _volume(path, data, spacing_xyz, directions, origin, meta)
