"""Encode records as Arrow rows and write Parquet shards atomically.

Column layout (the "Prepared store" contract of DESIGN.md):

- ``sample_id, patient_id, study_id, split, dataset, modality`` (string)
- ``label.<task>``: list<float32> (multilabel, NaN = unknown), int32 (multiclass/binary,
  -1 = missing), float32 (regression); array labels (segmentation masks) are stored like
  array inputs, text labels (generation) as string.
- ``input.<name>``: the payload. Arrays: the raw C-order buffer (large_binary) with sibling
  columns ``input.<name>.shape`` (list<int32>) and ``input.<name>.dtype`` (numpy dtype
  string), so they round-trip bit-exactly; encoded files (PNG/JPEG/MP4): their bytes; text:
  string; graphs: :func:`pack_arrays` of their arrays. Image arrays stored with a codec
  (:mod:`climb.store.codecs`: png, jpeg, webp) hold the encoded bytes, with
  ``"encoding"`` in their attrs and the decoded shape/dtype in ``.shape``/``.dtype``;
  float signals likewise (``signal.codec``: ``digital`` integers + the reader's formula,
  or ``zstd_shuffle`` floats; both bit-exact).
  ``input.<name>.attrs`` is a JSON string of per-record attributes (encoding,
  sampling_rate, spacing, channels, units). The field metadata of ``input.<name>`` says
  its kind (``climb.kind``: array/encoded/text/graph).
- ``meta``: JSON string of whitelisted fields (sorted keys).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from climb.read.signal import digital_of
from climb.record import Input, Record
from climb.store.codecs import ImageCodec

BASE_COLUMNS = ("sample_id", "patient_id", "study_id", "split", "dataset", "modality")
INPUT_PREFIX = "input."
LABEL_PREFIX = "label."
ARRAY_SUFFIXES = (".shape", ".dtype")
ATTRS_SUFFIX = ".attrs"

# ---------------------------------------------------------------------------- payloads


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """Pack named arrays (a graph: x, edge_index, ...) into one deterministic byte string.

    Layout: for each key in sorted order, ``<u32 name length><name><u64 npy length><npy>``,
    where ``npy`` is the array in numpy's ``.npy`` format (readable with ``numpy.load``).
    """
    out = io.BytesIO()
    for key in sorted(arrays):
        name = key.encode()
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
        blob = buf.getvalue()
        out.write(struct.pack("<I", len(name)) + name + struct.pack("<Q", len(blob)) + blob)
    return out.getvalue()


def unpack_arrays(data: bytes | memoryview) -> dict[str, np.ndarray]:
    """Inverse of :func:`pack_arrays`."""
    view = memoryview(data)
    arrays: dict[str, np.ndarray] = {}
    pos = 0
    while pos < len(view):
        (n,) = struct.unpack_from("<I", view, pos)
        pos += 4
        key = bytes(view[pos : pos + n]).decode()
        pos += n
        (m,) = struct.unpack_from("<Q", view, pos)
        pos += 8
        arrays[key] = np.lib.format.read_array(io.BytesIO(view[pos : pos + m]), allow_pickle=False)
        pos += m
    return arrays


def input_kind(inp: Input) -> str:
    """array / encoded / text / graph."""
    if isinstance(inp.data, np.ndarray):
        return "array"
    if isinstance(inp.data, bytes | bytearray | memoryview):
        return "encoded"
    if isinstance(inp.data, str):
        return "text"
    if isinstance(inp.data, dict):
        return "graph"
    raise TypeError(f"unsupported input payload {type(inp.data).__name__}")


def _attrs(inp: Input, encoding: str | None = None) -> str:
    attrs: dict[str, Any] = {}
    if encoding is not None or inp.encoding is not None:
        attrs["encoding"] = encoding or inp.encoding
    if inp.sampling_rate is not None:
        attrs["sampling_rate"] = float(inp.sampling_rate)
    if inp.spacing is not None:
        attrs["spacing"] = [float(s) for s in inp.spacing]
    if inp.channels is not None:
        attrs["channels"] = [str(c) for c in inp.channels]
    if inp.units is not None:
        attrs["units"] = inp.units
    return json.dumps(attrs, sort_keys=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# ---------------------------------------------------------------------------- schema


def label_field(task_type: str, task: str) -> pa.Field:
    """The Arrow field of one task's label column."""
    name = LABEL_PREFIX + task
    if task_type == "multilabel":
        return pa.field(name, pa.list_(pa.float32()))
    if task_type in ("multiclass", "binary"):
        return pa.field(name, pa.int32())
    if task_type == "regression":
        return pa.field(name, pa.float32())
    if task_type == "generation":
        return pa.field(name, pa.string())
    return pa.field(name, pa.large_binary(), metadata={"climb.kind": "array"})  # segmentation


def input_fields(name: str, kind: str) -> list[pa.Field]:
    """The Arrow fields of one input: payload (+ shape/dtype for arrays) + attrs."""
    col = INPUT_PREFIX + name
    meta = {"climb.kind": kind}
    payload_type = pa.string() if kind == "text" else pa.large_binary()
    fields = [pa.field(col, payload_type, metadata=meta)]
    if kind == "array":
        fields += [
            pa.field(col + ".shape", pa.list_(pa.int32())),
            pa.field(col + ".dtype", pa.string()),
        ]
    fields.append(pa.field(col + ATTRS_SUFFIX, pa.string()))
    return fields


def build_schema(tasks: Sequence[tuple[str, str]], inputs: dict[str, str]) -> pa.Schema:
    """The store schema for (task name, type) pairs and {input name: kind} (sorted by name)."""
    fields = [pa.field(c, pa.string()) for c in BASE_COLUMNS]
    fields += [label_field(t_type, t_name) for t_name, t_type in tasks]
    for name in sorted(inputs):
        fields += input_fields(name, inputs[name])
    fields.append(pa.field("meta", pa.string()))
    return pa.schema(fields)


def input_kinds(schema: pa.Schema) -> dict[str, str]:
    """{input name: kind} read back from a store schema's field metadata."""
    kinds = {}
    for f in schema:
        if f.name.startswith(INPUT_PREFIX) and f.metadata and b"climb.kind" in f.metadata:
            kinds[f.name[len(INPUT_PREFIX) :]] = f.metadata[b"climb.kind"].decode()
    return kinds


# ---------------------------------------------------------------------------- rows


def _label_value(task_type: str, value: Any, n_classes: int, where: str) -> Any:
    if task_type == "multilabel":
        if value is None:
            return [math.nan] * n_classes
        vec = np.asarray(value, dtype=np.float32).reshape(-1)
        if n_classes and vec.size != n_classes:
            raise ValueError(
                f"{where}: multilabel vector has {vec.size} values, expected {n_classes}"
            )
        return vec.tolist()
    if task_type in ("multiclass", "binary"):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return -1
        out = int(value)
        if out < -1 or (n_classes and out >= n_classes):
            raise ValueError(f"{where}: class index {out} outside 0..{n_classes - 1} (or -1)")
        return out
    if task_type == "regression":
        return math.nan if value is None else float(value)
    if task_type == "generation":
        return None if value is None else str(value)
    return None if value is None else np.ascontiguousarray(value)  # segmentation


def record_row(record: Record, split: str, tasks: Sequence[tuple[str, str, int]],
               codec: ImageCodec | None = None) -> dict[str, Any]:
    """One record as a {column: value} row. ``tasks``: (name, type, number of classes).

    ``codec``: image arrays it can hold are stored encoded (attrs ``encoding``; shape and
    dtype stay those of the decoded array); None or ``raw`` keeps every array raw."""
    row: dict[str, Any] = {
        "sample_id": str(record.sample_id),
        "patient_id": None if record.patient_id is None else str(record.patient_id),
        "study_id": None if record.study_id is None else str(record.study_id),
        "split": split,
        "dataset": record.dataset,
        "modality": record.modality,
    }
    known = {t[0] for t in tasks}
    unknown = set(record.labels) - known
    if unknown:
        raise ValueError(f"{record.sample_id}: labels for unknown tasks {sorted(unknown)}")
    for name, task_type, n_classes in tasks:
        value = _label_value(task_type, record.labels.get(name), n_classes, record.sample_id)
        if isinstance(value, np.ndarray):
            row[LABEL_PREFIX + name] = value.tobytes()
        else:
            row[LABEL_PREFIX + name] = value
    for name, inp in record.inputs.items():
        col = INPUT_PREFIX + name
        kind = input_kind(inp)
        encoding = None
        if kind == "array":
            digital = digital_of(inp.data)  # the integer samples a signal came from, if kept
            arr = np.ascontiguousarray(inp.data)
            coded = codec.encode(arr, digital) if codec is not None else None
            if coded is None:
                row[col] = arr.tobytes()
            else:
                row[col], encoding = coded
            row[col + ".shape"] = list(arr.shape)
            row[col + ".dtype"] = arr.dtype.str  # explicit byte order, e.g. "<f4"
        elif kind == "encoded":
            row[col] = bytes(inp.data)  # type: ignore[arg-type]
        elif kind == "text":
            row[col] = inp.data
        else:
            row[col] = pack_arrays(inp.data)  # type: ignore[arg-type]
        row[col + ATTRS_SUFFIX] = _attrs(inp, encoding)
    row["meta"] = json.dumps(record.meta, sort_keys=True, default=_json_default)
    return row


def rows_to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows -> table of ``schema`` (columns a row lacks are null)."""
    columns = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Add the columns of ``schema`` that ``table`` lacks (as nulls), in schema order."""
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def payload_bytes(table: pa.Table) -> np.ndarray:
    """Bytes of the input payloads of each row (used to size shards and row groups)."""
    total = np.zeros(table.num_rows, dtype=np.int64)
    for name in table.column_names:
        if name.startswith(INPUT_PREFIX) and name.count(".") == 1:
            lengths = pa.compute.binary_length(table.column(name)).to_numpy(zero_copy_only=False)
            total += np.nan_to_num(lengths.astype(np.float64)).astype(np.int64)
    return total + 256  # per-row overhead of the small columns


# ---------------------------------------------------------------------------- files


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to ``path.tmp`` then rename (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def write_ipc(path: Path, table: pa.Table) -> None:
    """Write an uncompressed Arrow IPC file atomically (memory-mappable work chunk)."""
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    tmp.replace(path)


def read_ipc(path: Path) -> pa.Table:
    """Memory-map an Arrow IPC file (zero copy)."""
    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def write_parquet_shard(
    path: Path, table: pa.Table, rows_per_group: int, compression: str = "zstd"
) -> str:
    """Write one shard to a temp name, rename it when complete, return its sha256.

    Payload columns (``input.*``) are stored uncompressed, without dictionary or statistics,
    so a row group read is a plain copy; the small columns are ``compression``-compressed.
    """
    small = [n for n in table.column_names if not _is_payload(table.schema.field(n))]
    comp = {n: ("NONE" if n not in small else compression) for n in table.column_names}
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(
        table,
        str(tmp),
        row_group_size=max(1, int(rows_per_group)),
        compression=comp,
        use_dictionary=[n for n in small if n in ("split", "dataset", "modality")],
        write_statistics=[n for n in small if n in ("sample_id", "patient_id", "split")],
        store_schema=True,
    )
    digest = sha256_file(tmp)
    os.replace(tmp, path)
    return digest


def _is_payload(field: pa.Field) -> bool:
    return field.type in (pa.large_binary(), pa.binary())


def iter_batches(items: Sequence[Any], size: int) -> Iterable[list[Any]]:
    """Consecutive slices of ``items`` of at most ``size``."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
