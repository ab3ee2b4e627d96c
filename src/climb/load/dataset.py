"""Map-style torch Dataset over one or more prepared datasets (random access by row).

In memory: the row index (``_index/index.parquet``: ids, labels, meta, shapes, and where each
payload lives) as Arrow arrays, shared by forked DataLoader workers. A payload is read with
one ``pread`` of exactly its bytes when its record has a row group of its own and the column
is uncompressed (how `prepare` writes records of ``row_group_bytes`` or more): a copy from
the page cache, checked against the Parquet length prefix. Otherwise (small records sharing
a row group, text, stores without an index) it is a Parquet row-group read with a tiny LRU
cache of decoded row groups. Workers open their own file handles lazily; nothing of the
dataset is copied per worker, and peak memory does not grow with the dataset.

A DataLoader with a batch size calls :meth:`StoreDataset.__getitems__` once per batch: the
small columns are taken for the whole batch at once, and an array input that every sample
of the batch holds with one dtype and shape is read (one ``preadv`` per payload) straight
into one ``[B, ...]`` buffer, in shared memory inside a worker, which
:class:`climb.load.Collator` returns as the batch tensor without a further copy.
"""

from __future__ import annotations

import io
import json
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from climb.load.collate import _batch_tensor
from climb.load.tasks import TaskSpec, task_specs_from_manifest
from climb.store.codecs import decode_array
from climb.store.index import INDEX
from climb.store.reader import (
    PreparedDataset,
    RowGroupView,
    decode_payload,
    open_store,
    selected_columns,
)
from climb.store.writer import ATTRS_SUFFIX, INPUT_PREFIX, LABEL_PREFIX, input_kinds


def decode_encoded(data: bytes, encoding: str | None) -> np.ndarray:
    """Encoded image bytes -> [C, H, W] uint8; video -> [T, C, H, W] uint8."""
    if encoding in ("mp4", "avi", "video", "webm", "mov"):
        import av

        with av.open(io.BytesIO(data)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        return np.stack(frames).transpose(0, 3, 1, 2) if frames else np.zeros((0, 3, 1, 1))
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        arr = np.asarray(img)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _channels_first_axes(shape: Sequence[int]) -> tuple[int, ...] | None:
    """How :func:`channels_first` moves the axes of an image of ``shape``: None = add a
    channel axis in front, else the transpose axes."""
    if len(shape) == 2:
        return None
    if len(shape) == 3 and shape[-1] in (1, 3, 4) and shape[0] not in (1, 3, 4):
        return (2, 0, 1)
    return tuple(range(len(shape)))


def channels_first(image: np.ndarray) -> np.ndarray:
    """H x W -> 1 x H x W; H x W x C (C in 1, 3, 4) -> C x H x W (a view); else unchanged."""
    axes = _channels_first_axes(image.shape)
    if axes is None:
        return image[None]
    return image if axes == tuple(range(image.ndim)) else image.transpose(axes)


def frames_channels_first(clip: np.ndarray) -> np.ndarray:
    """A stored clip T x H x W x C (C in 1, 3) -> T x C x H x W (a view), the layout video
    encoders take; other arrays unchanged."""
    if clip.ndim == 4 and clip.shape[-1] in (1, 3):
        return clip.transpose(0, 3, 1, 2)
    return clip


def _batch_channels_first(batch: np.ndarray, tensor: torch.Tensor):
    """:func:`channels_first` applied to each sample of a batch (views of both)."""
    axes = _channels_first_axes(batch.shape[1:])
    if axes is None:
        return batch[:, None], tensor.unsqueeze(1)
    full = (0, *(1 + a for a in axes))
    return batch.transpose(full), tensor.permute(*full)


def _torch_dtype(dtype: np.dtype) -> torch.dtype | None:
    """The torch dtype of a numpy dtype (None where torch has none)."""
    try:
        return torch.from_numpy(np.empty(0, dtype)).dtype
    except TypeError:
        return None


class SampleBatch(list):
    """The samples :meth:`StoreDataset.__getitems__` returns: a list as
    ``[dataset[i] for i in indices]`` would be, plus ``batched``: for each array input read
    straight into one batch buffer, ``(tensor [B, ...], the samples' views of it)``, which
    :class:`climb.load.Collator` hands on without a copy."""

    batched: dict[str, tuple[torch.Tensor, list[np.ndarray]]]


def to_sample(row: dict[str, Any], decode: bool = True) -> dict[str, Any]:
    """A decoded store row -> the per-sample dict that :class:`climb.load.Collator` batches.

    ``labels`` are keyed by task_key (``dataset.task``); encoded images/videos are decoded
    to channel-first uint8 arrays when ``decode`` is true, and array inputs named ``image``
    (stored H x W [x C], as records hold them) are made channel-first, ``video`` clips
    (T x H x W x C) frame-wise channel-first (T x C x H x W).
    """
    dataset = row["dataset"]
    inputs = {}
    for name, value in row["inputs"].items():
        attrs = row.get("input_attrs", {}).get(name, {})
        if decode and isinstance(value, bytes | bytearray):
            value = decode_encoded(value, attrs.get("encoding"))
        elif name == "image" and isinstance(value, np.ndarray):
            value = channels_first(value)
        elif name == "video" and isinstance(value, np.ndarray):
            value = frames_channels_first(value)
        inputs[name] = value
    return {
        "inputs": inputs,
        "labels": {f"{dataset}.{task}": value for task, value in row["labels"].items()},
        "sample_id": row["sample_id"],
        "patient_id": row["patient_id"],
        "dataset": dataset,
        "split": row["split"],
        "meta": row["meta"],
    }


class _Files:
    """Per-process file handles (reopened after fork/spawn); Parquet footers are only parsed
    for the row-group fallback."""

    def __init__(self, paths: list[str]):
        self.paths = paths
        self.pid = -1
        self.fds: dict[int, int] = {}
        self.parquet: dict[int, pq.ParquetFile] = {}
        self.cache: OrderedDict[tuple[int, int, str], pa.Array] = OrderedDict()

    def _check(self) -> None:
        if self.pid != os.getpid():
            self.fds, self.parquet, self.cache = {}, {}, OrderedDict()
            self.pid = os.getpid()

    def pf(self, f: int) -> pq.ParquetFile:
        self._check()
        if f not in self.parquet:
            self.parquet[f] = pq.ParquetFile(self.paths[f])
        return self.parquet[f]

    def fd(self, f: int) -> int:
        self._check()
        if f not in self.fds:
            self.fds[f] = os.open(self.paths[f], os.O_RDONLY)
        return self.fds[f]

    def column_value(self, f: int, g: int, column: str, row: int, cache_size: int) -> Any:
        """Fallback: one value through a (cached) Parquet row-group read of one column."""
        key = (f, g, column)
        arr = self.cache.get(key)
        if arr is None:
            arr = self.pf(f).read_row_group(g, columns=[column]).column(0).combine_chunks()
            self.cache[key] = arr
            while len(self.cache) > cache_size:
                self.cache.popitem(last=False)
        else:
            self.cache.move_to_end(key)
        return arr[row]

    def pread(self, f: int, offset: int, nbytes: int) -> np.ndarray | None:
        """``nbytes`` at ``offset`` of file ``f`` (one pread), checked against the Parquet
        PLAIN length prefix just before them; None when it does not match."""
        buf = np.empty(nbytes + 8, dtype=np.uint8)  # value lands 8-byte aligned at buf[8:]
        got = os.preadv(self.fd(f), [memoryview(buf)[4:]], offset - 4)
        if got != nbytes + 4 or int.from_bytes(buf[4:8].tobytes(), "little") != nbytes:
            return None  # not the layout we expect: use the Parquet reader
        return buf[8:]


class _IndexedPart:
    """The rows of one prepared dataset, served from its index + payload preads."""

    def __init__(self, ds: PreparedDataset, split: str | Sequence[str],
                 inputs: Sequence[str] | None, files: list[str]):
        splits = [split] if isinstance(split, str) else list(split)
        table = pq.read_table(ds.path / INDEX)
        table = table.filter(pc.is_in(table.column("split"), pa.array(splits, pa.string())))
        shard_order = [p.name for p in ds.shards(split)]
        self.file_base = len(files)
        files += [str(ds.path / s) for s in shard_order]
        position = {name: i for i, name in enumerate(shard_order)}
        shard_col = table.column("shard").to_pylist()
        self.file = np.asarray([position[s] for s in shard_col], np.int32) + self.file_base
        self.group = table.column("row_group").to_numpy()
        self.row = table.column("row").to_numpy()
        kinds = {k: v["kind"] for k, v in ds.manifest.get("inputs", {}).items()}
        if inputs is not None:
            kinds = {k: v for k, v in kinds.items() if k in inputs}
        self.kinds = kinds
        self.n = table.num_rows
        cols = {name: table.column(name).combine_chunks() for name in table.column_names}
        self.cols = cols
        self.nbytes = {
            k: pc.fill_null(cols[INPUT_PREFIX + k + ".nbytes"], -1).to_numpy()
            for k in kinds
        }
        self.offset = {
            k: pc.fill_null(cols[INPUT_PREFIX + k + ".offset"], -1).to_numpy()
            if INPUT_PREFIX + k + ".offset" in cols else np.full(self.n, -1, np.int64)
            for k in kinds
        }
        self.labels = [n for n in table.column_names if n.startswith(LABEL_PREFIX)]
        self.layout = {k: self._layout(cols, k) for k, kind in kinds.items()
                       if kind == "array" and INPUT_PREFIX + k + ".shape" in cols
                       and INPUT_PREFIX + k + ".dtype" in cols}
        self.encoding = {k: self._encodings(cols, k) for k, kind in kinds.items()
                         if kind == "array"}

    @staticmethod
    def _encodings(cols: dict[str, pa.Array], name: str) -> np.ndarray | None:
        """Per row, the image codec its array payload is stored with (None = raw), from the
        attrs JSON (written with sorted keys by the store writer); None when all are raw."""
        attrs = cols.get(INPUT_PREFIX + name + ATTRS_SUFFIX)
        if attrs is None or not len(attrs):
            return None
        found = pc.extract_regex(pc.fill_null(attrs, ""),
                                 r'(?:^\{|, )"encoding": "(?P<codec>[a-z0-9_]*)"')
        codecs = found.field("codec").to_numpy(zero_copy_only=False)
        if not any(c for c in codecs if c is not None):
            return None
        return np.asarray([c or None for c in codecs], dtype=object)

    def _coded(self, name: str, local: np.ndarray) -> np.ndarray:
        """Whether rows ``local`` hold input ``name`` encoded by an image codec."""
        enc = self.encoding.get(name)
        if enc is None:
            return np.zeros(len(local), dtype=bool)
        return np.asarray([e is not None for e in enc[local]], dtype=bool)

    @staticmethod
    def _layout(cols: dict[str, pa.Array], name: str):
        """Per row, as numpy: dtype code (-1 = none), the dtypes, ndim, and where the row's
        shape starts in the flat shape values (for batch reads without per-row Python)."""
        enc = pc.dictionary_encode(cols[INPUT_PREFIX + name + ".dtype"])
        codes = pc.fill_null(enc.indices, -1).to_numpy().astype(np.int64)
        dtypes = [np.dtype(d) for d in enc.dictionary.to_pylist()]
        shapes = cols[INPUT_PREFIX + name + ".shape"]
        ndim = pc.fill_null(pc.list_value_length(shapes), 0).to_numpy().astype(np.int64)
        flat = shapes.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(ndim)])[:-1].astype(np.int64)
        return codes, dtypes, ndim, flat, starts

    def array_plan(self, name: str, local: np.ndarray) -> tuple[np.dtype, tuple[int, ...]] | None:
        """(dtype, shape) when rows ``local`` all hold input ``name`` as arrays of that one
        dtype and shape, each readable with one pread; else None."""
        layout = self.layout.get(name)
        if layout is None or not len(local):
            return None
        coded = self._coded(name, local)  # decoded in read_into, from wherever they are
        if ((self.offset[name][local] < 0) & ~coded).any():
            return None
        codes, dtypes, ndim, flat, starts = layout
        code, nd = codes[local], ndim[local]
        if code[0] < 0 or (code != code[0]).any() or (nd != nd[0]).any():
            return None
        shapes = flat[starts[local][:, None] + np.arange(nd[0])]
        if (shapes != shapes[0]).any():
            return None
        dtype, shape = dtypes[int(code[0])], tuple(int(x) for x in shapes[0])
        if ((self.nbytes[name][local] != dtype.itemsize * int(np.prod(shape))) & ~coded).any():
            return None
        return dtype, shape

    def read_into(self, name: str, local: np.ndarray, dest: np.ndarray, pos: np.ndarray,
                  files: _Files, cache_size: int) -> None:
        """Read the payloads of rows ``local`` (an :meth:`array_plan` that held) into
        ``dest[pos[j]]`` (``dest`` C-contiguous): one preadv each, the Parquet length prefix
        into a side buffer and checked; a row that fails the check goes through the Parquet
        reader. Rows stored with an image codec are decoded into their place."""
        coded = self._coded(name, local)
        if coded.any():
            enc = self.encoding[name]
            for i, p in zip(local[coded].tolist(), pos[coded].tolist(), strict=True):
                dest[p] = self._payload_array(i, name, files, cache_size, dest.shape[1:],
                                              dest.dtype, enc[i])
            local, pos = local[~coded], pos[~coded]
            if not len(local):
                return
        b = len(local)
        nbytes = self.nbytes[name][local]
        size = int(nbytes[0])
        out = memoryview(dest.reshape(-1).view(np.uint8))
        prefix = np.zeros(b, dtype="<u4")
        pview = memoryview(prefix.view(np.uint8))
        fds = {int(f): files.fd(int(f)) for f in np.unique(self.file[local])}
        got = np.zeros(b, dtype=np.int64)
        for j, (f, off, p) in enumerate(zip(self.file[local].tolist(),
                                            self.offset[name][local].tolist(), pos.tolist(),
                                            strict=True)):
            got[j] = os.preadv(fds[f], [pview[4 * j : 4 * j + 4],
                                        out[size * p : size * (p + 1)]], off - 4)
        for j in np.flatnonzero((got != size + 4) | (prefix != nbytes)):
            i = int(local[j])
            value = files.column_value(int(self.file[i]), int(self.group[i]),
                                       INPUT_PREFIX + name, int(self.row[i]), cache_size)
            dest[pos[j]] = decode_payload("array", value, dest.shape[1:], dest.dtype)

    def _payload_array(self, i: int, name: str, files: _Files, cache_size: int, shape: Any,
                       dtype: Any, encoding: str) -> np.ndarray:
        """Row ``i``'s codec payload of input ``name`` (one pread, else the Parquet reader),
        decoded to the array of ``shape``/``dtype``."""
        f, offset = int(self.file[i]), int(self.offset[name][i])
        raw = files.pread(f, offset, int(self.nbytes[name][i])) if offset >= 0 else None
        if raw is None:
            raw = files.column_value(f, int(self.group[i]), INPUT_PREFIX + name,
                                     int(self.row[i]), cache_size).as_buffer()
        return decode_array(raw, shape, dtype, encoding)

    def get_many(self, local: np.ndarray, files: _Files, cache_size: int,
                 skip: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Rows ``local`` as :meth:`get` gives them, but for the inputs in ``skip``; the small
        columns are taken once for the whole batch."""
        cols, take = self.cols, pa.array(np.asarray(local, dtype=np.int64))
        base = {name: cols[name].take(take).to_pylist()
                for name in ("sample_id", "patient_id", "study_id", "split", "dataset",
                             "modality")}
        labels: dict[str, list[Any]] = {}
        for name in self.labels:
            taken = cols[name].take(take)
            if pa.types.is_list(taken.type):
                flat = taken.flatten().to_numpy(zero_copy_only=False)
                lengths = pc.fill_null(pc.list_value_length(taken), 0).to_numpy()
                parts = np.split(flat, np.cumsum(lengths)[:-1])
                valid = taken.is_valid().to_numpy(zero_copy_only=False)
                labels[name[len(LABEL_PREFIX):]] = [
                    v if ok else None for v, ok in zip(parts, valid, strict=True)]
            else:
                labels[name[len(LABEL_PREFIX):]] = taken.to_pylist()
        metas = cols["meta"].take(take).to_pylist() if "meta" in cols else [None] * len(local)
        rows = []
        for j, i in enumerate(np.asarray(local).tolist()):
            row: dict[str, Any] = {name: values[j] for name, values in base.items()}
            row["labels"] = {task: values[j] for task, values in labels.items()}
            inputs: dict[str, Any] = {}
            attrs: dict[str, Any] = {}
            for name, kind in self.kinds.items():
                if name not in skip:
                    self._input(i, name, kind, files, cache_size, inputs, attrs)
            row["inputs"], row["input_attrs"] = inputs, attrs
            row["meta"] = json.loads(metas[j]) if metas[j] else {}
            rows.append(row)
        return rows

    def _input(self, i: int, name: str, kind: str, files: _Files, cache_size: int,
               inputs: dict[str, Any], attrs: dict[str, Any]) -> None:
        """Read input ``name`` of row ``i`` into ``inputs`` (and its attrs into ``attrs``)."""
        nbytes = int(self.nbytes[name][i])
        if nbytes < 0:
            return  # this record has no such input
        cols = self.cols
        f, g, r = int(self.file[i]), int(self.group[i]), int(self.row[i])
        col = INPUT_PREFIX + name
        shape = dtype = None
        if kind == "array":
            shape = cols[col + ".shape"][i].as_py()
            dtype = cols[col + ".dtype"][i].as_py()
            enc = self.encoding.get(name)
            if enc is not None and enc[i] is not None:
                inputs[name] = self._payload_array(i, name, files, cache_size, shape, dtype,
                                                   enc[i])
                return
        offset = int(self.offset[name][i])
        raw = files.pread(f, offset, nbytes) if offset >= 0 and kind != "text" else None
        if raw is None:
            value = files.column_value(f, g, col, r, cache_size)
            inputs[name] = decode_payload(kind, value, shape, dtype)
        elif kind == "array":
            inputs[name] = raw.view(np.dtype(dtype)).reshape(shape)
        else:
            inputs[name] = decode_payload(kind, raw.tobytes())
        attr = cols.get(col + ATTRS_SUFFIX)
        if kind == "encoded" and attr is not None:  # the decoder needs the encoding
            attrs[name] = json.loads(attr[i].as_py() or "{}")

    def get(self, i: int, files: _Files, cache_size: int) -> dict[str, Any]:
        cols = self.cols
        out: dict[str, Any] = {
            name: cols[name][i].as_py()
            for name in ("sample_id", "patient_id", "study_id", "split", "dataset", "modality")
        }
        labels = {}
        for name in self.labels:
            value = cols[name][i]
            if pa.types.is_list(value.type):
                labels[name[len(LABEL_PREFIX):]] = (
                    value.values.to_numpy(zero_copy_only=False) if value.is_valid else None
                )
            else:
                labels[name[len(LABEL_PREFIX):]] = value.as_py()
        out["labels"] = labels
        inputs: dict[str, Any] = {}
        attrs: dict[str, Any] = {}
        for name, kind in self.kinds.items():
            self._input(i, name, kind, files, cache_size, inputs, attrs)
        out["inputs"] = inputs
        out["input_attrs"] = attrs
        meta = cols["meta"][i].as_py() if "meta" in cols else None
        out["meta"] = json.loads(meta) if meta else {}
        return out


class _GroupedPart:
    """The rows of one prepared dataset without an index: Parquet row-group reads."""

    def __init__(self, ds: PreparedDataset, split: str | Sequence[str],
                 inputs: Sequence[str] | None, files: list[str]):
        group_rows, self.group_file, self.group_index = [], [], []
        self.columns: dict[int, list[str]] = {}
        self.kinds: dict[int, dict[str, str]] = {}
        for path in ds.shards(split):
            pf = pq.ParquetFile(str(path))
            f = len(files)
            files.append(str(path))
            self.columns[f] = selected_columns(pf.schema_arrow, inputs)
            self.kinds[f] = input_kinds(pf.schema_arrow)
            for g in range(pf.metadata.num_row_groups):
                group_rows.append(pf.metadata.row_group(g).num_rows)
                self.group_file.append(f)
                self.group_index.append(g)
        self.group_start = np.concatenate([[0], np.cumsum(group_rows, dtype=np.int64)])
        self.n = int(self.group_start[-1])
        self.views: OrderedDict[int, RowGroupView] = OrderedDict()
        self.pid = -1

    def get(self, i: int, files: _Files, cache_size: int) -> dict[str, Any]:
        if self.pid != os.getpid():
            self.views, self.pid = OrderedDict(), os.getpid()
        g = int(np.searchsorted(self.group_start, i, side="right") - 1)
        view = self.views.get(g)
        if view is None:
            f = self.group_file[g]
            table = files.pf(f).read_row_group(self.group_index[g], columns=self.columns[f])
            view = RowGroupView(table, self.kinds[f])
            self.views[g] = view
            while len(self.views) > cache_size:
                self.views.popitem(last=False)
        else:
            self.views.move_to_end(g)
        return view.row(i - int(self.group_start[g]))

    def get_many(self, local: np.ndarray, files: _Files, cache_size: int,
                 skip: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Rows ``local`` (row-group reads; nothing to batch here)."""
        return [self.get(int(i), files, cache_size) for i in local]


class StoreDataset(torch.utils.data.Dataset):
    """Random access over the rows of one split of one or more prepared datasets.

    ``store``: a store directory (``STORE/``, with ``STORE/NAME/manifest.json``) or a list of
    dataset directories; ``names`` picks datasets; ``split`` one split or several;
    ``inputs`` restricts the inputs read (None = all). Samples of the datasets follow each
    other in order (``dataset_ranges``), as a ConcatDataset would.
    """

    def __init__(
        self,
        store: str | Path | Sequence[str | Path],
        names: Sequence[str] | None = None,
        split: str | Sequence[str] = "train",
        inputs: Sequence[str] | None = None,
        decode: bool = True,
        cache_row_groups: int = 2,
    ):
        if isinstance(store, str | Path):
            self.datasets: list[PreparedDataset] = open_store(store, names)
        else:
            self.datasets = [ds for s in store for ds in open_store(s)]
        self.split = split
        self.decode = decode
        self.cache_size = max(1, cache_row_groups)
        self.tasks: list[TaskSpec] = [
            t for ds in self.datasets for t in task_specs_from_manifest(ds.manifest)
        ]
        paths: list[str] = []
        self._parts: list[_IndexedPart | _GroupedPart] = []
        for ds in self.datasets:
            indexed = (ds.path / INDEX).exists() and ds.manifest.get("index")
            cls = _IndexedPart if indexed else _GroupedPart
            self._parts.append(cls(ds, split, inputs, paths))
        self.files = _Files(paths)
        sizes = [p.n for p in self._parts]
        self._starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self.dataset_ranges: list[tuple[int, int]] = [
            (int(self._starts[d]), int(self._starts[d + 1])) for d in range(len(sizes))
        ]

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def dataset_names(self) -> list[str]:
        return [ds.name for ds in self.datasets]

    def dataset_sizes(self) -> dict[str, int]:
        """Rows per prepared dataset, in order (their index ranges are consecutive)."""
        return {ds.name: b - a for ds, (a, b) in zip(self.datasets, self.dataset_ranges,
                                                      strict=True)}

    def row(self, index: int) -> dict[str, Any]:
        """The decoded store row at ``index`` (ids, labels by task, inputs, meta)."""
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        d = int(np.searchsorted(self._starts, index, side="right") - 1)
        return self._parts[d].get(index - int(self._starts[d]), self.files, self.cache_size)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return to_sample(self.row(index), self.decode)

    def __getitems__(
        self,
        indices: Sequence[int],
        allocate: Callable[[str, tuple[int, ...], torch.dtype], torch.Tensor] | None = None,
    ) -> SampleBatch:
        """The samples at ``indices``, as ``[self[i] for i in indices]`` (a torch DataLoader
        with a batch size calls this once per batch). Where every sample holds array input
        ``name`` with one dtype and shape, readable with one pread each, the payloads are
        read straight into one ``[B, ...]`` buffer (in shared memory inside a DataLoader
        worker; ``allocate(name, shape, dtype)`` when given, e.g. the reused buffers of
        :class:`climb.load.threaded.ThreadedLoader`) and the samples get views of it, listed
        in the result's ``batched``; the small columns are taken once per batch."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        idx = np.where(idx < 0, idx + n, idx)
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            bad = next(int(i) for i in indices if not -n <= int(i) < n)
            raise IndexError(f"index {bad} out of range for {n} samples")
        part_of = np.searchsorted(self._starts, idx, side="right") - 1
        groups = [(int(d), np.flatnonzero(part_of == d)) for d in np.unique(part_of)]
        local = {d: idx[pos] - self._starts[d] for d, pos in groups}
        stacked: dict[str, np.ndarray] = {}
        tensors: dict[str, torch.Tensor] = {}
        if groups and all(isinstance(self._parts[d], _IndexedPart) for d, _ in groups):
            names = set.intersection(*(set(self._parts[d].layout) for d, _ in groups))
            for name in sorted(names):
                plans = {self._parts[d].array_plan(name, local[d]) for d, _ in groups}
                plan = plans.pop() if len(plans) == 1 else None
                tdtype = _torch_dtype(plan[0]) if plan is not None else None
                if tdtype is None:
                    continue
                shape = (len(idx), *plan[1])
                tensor = (_batch_tensor(shape, tdtype) if allocate is None
                          else allocate(name, shape, tdtype))
                buf = tensor.numpy()
                for d, pos in groups:
                    self._parts[d].read_into(name, local[d], buf, pos, self.files,
                                             self.cache_size)
                stacked[name], tensors[name] = buf, tensor
        rows: list[dict[str, Any]] = [{}] * len(idx)
        for d, pos in groups:
            got = self._parts[d].get_many(local[d], self.files, self.cache_size, skip=stacked)
            for p, row in zip(pos.tolist(), got, strict=True):
                rows[p] = row
        samples = SampleBatch(to_sample(row, self.decode) for row in rows)
        samples.batched = {}
        for name, buf in stacked.items():
            tensor = tensors[name]
            if name == "image":  # as to_sample does for array images
                buf, tensor = _batch_channels_first(buf, tensor)
            elif name == "video" and buf.ndim == 5 and buf.shape[-1] in (1, 3):
                buf, tensor = buf.transpose(0, 1, 4, 2, 3), tensor.permute(0, 1, 4, 2, 3)
            views = [buf[p] for p in range(len(samples))]
            for sample, view in zip(samples, views, strict=True):
                sample["inputs"][name] = view
            samples.batched[name] = (tensor, views)
        return samples

    def __getstate__(self) -> dict[str, Any]:  # workers get the index, never open handles
        state = self.__dict__.copy()
        state["files"] = _Files(self.files.paths)
        return state
