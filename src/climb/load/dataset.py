"""Map-style torch Dataset over one or more prepared datasets (random access by row).

Only a small index lives in memory (row-group boundaries from the Parquet footers); a sample
is read with one Parquet row-group read (row groups are sized at `prepare` for random
access; payload columns are uncompressed, so a read is a copy from the page cache). Each
DataLoader worker opens its own file handles lazily (after fork/spawn) and keeps a tiny LRU
cache of decoded row groups; nothing of the dataset is copied per worker, and peak memory
does not grow with the dataset (``memory_map=True`` maps the files instead, which counts
touched pages in the process RSS).
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

from climb.load.tasks import TaskSpec, task_specs_from_manifest
from climb.store.reader import PreparedDataset, RowGroupView, open_store, selected_columns
from climb.store.writer import input_kinds


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


def channels_first(image: np.ndarray) -> np.ndarray:
    """H x W -> 1 x H x W; H x W x C (C in 1, 3, 4) -> C x H x W (a view); else unchanged."""
    if image.ndim == 2:
        return image[None]
    if image.ndim == 3 and image.shape[-1] in (1, 3, 4) and image.shape[0] not in (1, 3, 4):
        return image.transpose(2, 0, 1)
    return image


def to_sample(row: dict[str, Any], decode: bool = True) -> dict[str, Any]:
    """A decoded store row -> the per-sample dict that :class:`climb.load.Collator` batches.

    ``labels`` are keyed by task_key (``dataset.task``); encoded images/videos are decoded
    to channel-first uint8 arrays when ``decode`` is true, and array inputs named ``image``
    (stored H x W [x C], as records hold them) are made channel-first.
    """
    dataset = row["dataset"]
    inputs = {}
    for name, value in row["inputs"].items():
        attrs = row.get("input_attrs", {}).get(name, {})
        if decode and isinstance(value, bytes | bytearray):
            value = decode_encoded(value, attrs.get("encoding"))
        elif name == "image" and isinstance(value, np.ndarray):
            value = channels_first(value)
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


class StoreDataset(torch.utils.data.Dataset):
    """Random access over the rows of one split of one or more prepared datasets.

    ``store``: a store directory (``STORE/``, with ``STORE/NAME/manifest.json``) or a list of
    dataset directories; ``names`` picks datasets; ``split`` one split or several;
    ``inputs`` restricts the input columns read (None = all).
    """

    def __init__(
        self,
        store: str | Path | Sequence[str | Path],
        names: Sequence[str] | None = None,
        split: str | Sequence[str] = "train",
        inputs: Sequence[str] | None = None,
        decode: bool = True,
        cache_row_groups: int = 2,
        memory_map: bool = False,
    ):
        if isinstance(store, str | Path):
            self.datasets: list[PreparedDataset] = open_store(store, names)
        else:
            self.datasets = [ds for s in store for ds in open_store(s)]
        self.split = split
        self.decode = decode
        self.cache_size = max(1, cache_row_groups)
        self.memory_map = memory_map
        self.tasks: list[TaskSpec] = [
            t for ds in self.datasets for t in task_specs_from_manifest(ds.manifest)
        ]
        files: list[str] = []
        file_dataset: list[int] = []
        group_rows: list[int] = []
        group_file: list[int] = []
        group_index: list[int] = []
        self._columns: list[list[str]] = []
        self._kinds: list[dict[str, str]] = []
        for d, ds in enumerate(self.datasets):
            for path in ds.shards(split):
                pf = pq.ParquetFile(str(path))
                f = len(files)
                files.append(str(path))
                file_dataset.append(d)
                self._columns.append(selected_columns(pf.schema_arrow, inputs))
                self._kinds.append(input_kinds(pf.schema_arrow))
                meta = pf.metadata
                for g in range(meta.num_row_groups):
                    group_rows.append(meta.row_group(g).num_rows)
                    group_file.append(f)
                    group_index.append(g)
        self.files = files
        self.file_dataset = np.asarray(file_dataset, dtype=np.int64)
        self.group_file = np.asarray(group_file, dtype=np.int64)
        self.group_index = np.asarray(group_index, dtype=np.int64)
        self.group_start = np.concatenate([[0], np.cumsum(group_rows, dtype=np.int64)])
        # rows per prepared dataset (for mixture sampling over a multi-dataset store)
        starts = []
        for d in range(len(self.datasets)):
            groups = np.nonzero(self.file_dataset[self.group_file] == d)[0]
            first = int(self.group_start[groups[0]]) if len(groups) else int(self.group_start[-1])
            last = int(self.group_start[groups[-1] + 1]) if len(groups) else first
            starts.append((first, last))
        self.dataset_ranges: list[tuple[int, int]] = starts
        self._handles: dict[int, pq.ParquetFile] = {}
        self._pid = -1
        self._cache: OrderedDict[int, RowGroupView] = OrderedDict()

    # ------------------------------------------------------------------ sizes

    def __len__(self) -> int:
        return int(self.group_start[-1])

    @property
    def dataset_names(self) -> list[str]:
        return [ds.name for ds in self.datasets]

    def dataset_sizes(self) -> dict[str, int]:
        """Rows per prepared dataset, in order (their index ranges are consecutive)."""
        return {ds.name: b - a for ds, (a, b) in zip(self.datasets, self.dataset_ranges,
                                                      strict=True)}

    # ------------------------------------------------------------------ access

    def _file(self, f: int) -> pq.ParquetFile:
        if self._pid != os.getpid():  # new worker process: fresh handles, empty cache
            self._handles, self._cache, self._pid = {}, OrderedDict(), os.getpid()
        handle = self._handles.get(f)
        if handle is None:
            handle = pq.ParquetFile(self.files[f], memory_map=self.memory_map)
            self._handles[f] = handle
        return handle

    def _group(self, g: int) -> RowGroupView:
        pf = self._file(int(self.group_file[g]))
        view = self._cache.get(g)
        if view is None:
            f = int(self.group_file[g])
            table = pf.read_row_group(int(self.group_index[g]), columns=self._columns[f])
            view = RowGroupView(table, self._kinds[f])
            self._cache[g] = view
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(g)
        return view

    def locate(self, index: int) -> tuple[str, int, int]:
        """(shard path, row group, row in group) of a global index."""
        g = int(np.searchsorted(self.group_start, index, side="right") - 1)
        return self.files[int(self.group_file[g])], int(self.group_index[g]), index - int(
            self.group_start[g]
        )

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        g = int(np.searchsorted(self.group_start, index, side="right") - 1)
        row = self._group(g).row(index - int(self.group_start[g]))
        return to_sample(row, self.decode)

    def __getstate__(self) -> dict[str, Any]:  # workers get the index, never open handles
        state = self.__dict__.copy()
        state["_handles"], state["_cache"], state["_pid"] = {}, OrderedDict(), -1
        return state
