"""Read a prepared store: manifests, shards, and rows decoded back into arrays.

The store is plain Parquet + JSON (readable with pyarrow, DuckDB, polars or Hugging Face
``datasets``); this module only adds the decoding of ``input.*`` columns back into numpy
arrays (bit-exact), encoded bytes, text or graph arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from climb.store.codecs import ARRAY_ENCODINGS, decode_array, is_encoded
from climb.store.manifest import dataset_dirs, read_manifest
from climb.store.writer import (
    ATTRS_SUFFIX,
    INPUT_PREFIX,
    LABEL_PREFIX,
    input_kinds,
    unpack_arrays,
)


@dataclass
class PreparedDataset:
    """One ``STORE/NAME`` directory and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.manifest["dataset"]

    def shards(self, split: str | Sequence[str] | None = None) -> list[Path]:
        """Shard paths (of one split, several, or all), in manifest order."""
        wanted = {split} if isinstance(split, str) else set(split) if split else None
        return [
            self.path / s["path"]
            for s in self.manifest["shards"]
            if wanted is None or s["split"] in wanted
        ]


def open_store(store: str | Path, names: Sequence[str] | None = None) -> list[PreparedDataset]:
    """The prepared datasets of a store (all, or the given names)."""
    return [PreparedDataset(d, read_manifest(d)) for d in dataset_dirs(store, names)]


def decode_payload(kind: str, value: Any, shape: Any = None, dtype: Any = None,
                   encoding: str | None = None) -> Any:
    """One ``input.*`` cell -> numpy array (read-only view), bytes, str or dict of arrays.

    An array stored with a codec (``encoding`` from its attrs: png, jpeg, webp; volume/clip
    codecs: zstd, zstd_shuffle, png_frames, jpeg_frames, h264) is decoded back to its
    ``shape``/``dtype``."""
    if value is None:
        return None
    if kind == "array":
        buf = value.as_buffer() if isinstance(value, pa.Scalar) else value
        if is_encoded(encoding) or encoding in ARRAY_ENCODINGS:
            return decode_array(buf, shape, dtype, encoding)  # type: ignore[arg-type]
        arr = np.frombuffer(buf, dtype=np.dtype(dtype))
        return arr.reshape(tuple(shape))
    if kind == "text":
        return value.as_py() if isinstance(value, pa.Scalar) else value
    raw = value.as_py() if isinstance(value, pa.Scalar) else value
    if kind == "graph":
        return unpack_arrays(raw)
    return raw  # encoded bytes


class RowGroupView:
    """Decoded access to the rows of one row group (or any table of the store schema)."""

    def __init__(self, table: pa.Table, kinds: dict[str, str]):
        self.table = table.combine_chunks()
        self.kinds = {k: v for k, v in kinds.items() if INPUT_PREFIX + k in table.column_names}
        self.cols = {name: self.table.column(name).chunk(0) if self.table.num_rows else None
                     for name in self.table.column_names}
        self._py: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return self.table.num_rows

    def _small(self, name: str) -> list[Any]:
        if name not in self._py:
            self._py[name] = self.table.column(name).to_pylist()
        return self._py[name]

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i``: base columns, ``labels`` {task: value}, ``inputs`` {name: payload}."""
        out: dict[str, Any] = {}
        for name in ("sample_id", "patient_id", "study_id", "split", "dataset", "modality"):
            if name in self.cols:
                out[name] = self._small(name)[i]
        labels = {}
        for name in self.table.column_names:
            if name.startswith(LABEL_PREFIX):
                value = self.cols[name][i]
                if pa.types.is_list(value.type):
                    labels[name[len(LABEL_PREFIX):]] = value.values.to_numpy(
                        zero_copy_only=False
                    ) if value.is_valid else None
                else:
                    labels[name[len(LABEL_PREFIX):]] = value.as_py()
        out["labels"] = labels
        inputs: dict[str, Any] = {}
        attrs: dict[str, dict[str, Any]] = {}
        for name, kind in self.kinds.items():
            col = INPUT_PREFIX + name
            cell = self.cols[col][i]
            if not cell.is_valid:
                continue
            if col + ATTRS_SUFFIX in self.cols:
                attrs[name] = json.loads(self._small(col + ATTRS_SUFFIX)[i] or "{}")
            if kind == "array":
                shape = self._small(col + ".shape")[i]
                dtype = self._small(col + ".dtype")[i]
                encoding = attrs.get(name, {}).get("encoding")
                inputs[name] = decode_payload(kind, cell, shape, dtype, encoding)
            else:
                inputs[name] = decode_payload(kind, cell)
        out["inputs"] = inputs
        out["input_attrs"] = attrs
        meta = self._small("meta")[i] if "meta" in self.cols else None
        out["meta"] = json.loads(meta) if meta else {}
        return out


def iter_rows(
    dataset: PreparedDataset, split: str | Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Decoded rows of a prepared dataset, shard by shard, row group by row group."""
    for path in dataset.shards(split):
        pf = pq.ParquetFile(str(path), memory_map=True)
        kinds = input_kinds(pf.schema_arrow)
        for g in range(pf.num_row_groups):
            view = RowGroupView(pf.read_row_group(g, columns=columns), kinds)
            for i in range(len(view)):
                yield view.row(i)


def selected_columns(schema: pa.Schema, inputs: Sequence[str] | None) -> list[str]:
    """Column names to read: everything, or only the given inputs (plus all non-input columns)."""
    if inputs is None:
        return list(schema.names)
    keep = []
    for name in schema.names:
        if not name.startswith(INPUT_PREFIX):
            keep.append(name)
            continue
        base = name[len(INPUT_PREFIX):].split(".", 1)[0]
        if base in inputs:
            keep.append(name)
    return keep
