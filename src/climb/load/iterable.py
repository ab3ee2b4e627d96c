"""Streaming (iterable) dataset over prepared shards on any fsspec path (local, s3://, gs://).

Each epoch, the row groups of all selected shards form one list (shuffled by
``(seed, epoch)`` when ``shuffle``); its rows are cut into ``world_size x num_workers``
contiguous, near-equal ranges, one per consumer (DDP rank x DataLoader worker). Every sample
is read exactly once per epoch, consumers get row counts that differ by at most one, and
fewer shards (or row groups) than consumers is fine: ranges cut through row groups.
A shuffle buffer then mixes the rows each consumer streams.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import fsspec
import numpy as np
import pyarrow.parquet as pq
import torch

from climb.load.dataset import to_sample
from climb.load.tasks import TaskSpec, task_specs_from_manifest
from climb.store.reader import RowGroupView, selected_columns
from climb.store.writer import input_kinds


def _rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def partition(total: int, consumers: int, k: int) -> tuple[int, int]:
    """The contiguous range [start, stop) of ``total`` rows that consumer ``k`` reads."""
    return total * k // consumers, total * (k + 1) // consumers


class StreamingStoreDataset(torch.utils.data.IterableDataset):
    """Stream one split of prepared datasets given as fsspec URLs of ``STORE/NAME`` dirs.

    ``rank``/``world_size`` default to torch.distributed (or $RANK/$WORLD_SIZE); call
    :meth:`set_epoch` each epoch for a new shuffle. ``storage_options`` go to fsspec.
    """

    def __init__(
        self,
        datasets: str | Sequence[str],
        split: str = "train",
        inputs: Sequence[str] | None = None,
        shuffle: bool = True,
        shuffle_buffer: int = 256,
        seed: int = 0,
        decode: bool = True,
        rank: int | None = None,
        world_size: int | None = None,
        storage_options: dict[str, Any] | None = None,
    ):
        urls = [datasets] if isinstance(datasets, str) else list(datasets)
        self.split = split
        self.shuffle = shuffle
        self.shuffle_buffer = max(1, shuffle_buffer)
        self.seed = seed
        self.decode = decode
        self.epoch = 0
        self.storage_options = storage_options or {}
        self._rank, self._world = rank, world_size
        self.tasks: list[TaskSpec] = []
        self.groups: list[tuple[str, int, int]] = []  # (shard url, row group, rows)
        self._columns: dict[str, list[str]] = {}
        self._kinds: dict[str, dict[str, str]] = {}
        for url in urls:
            url = url.rstrip("/")
            fs, path = fsspec.core.url_to_fs(url, **self.storage_options)
            with fs.open(f"{path}/manifest.json", "r") as fh:
                manifest = json.load(fh)
            self.tasks += task_specs_from_manifest(manifest)
            for shard in manifest["shards"]:
                if shard["split"] != split:
                    continue
                shard_url = f"{url}/{shard['path']}"
                with fs.open(f"{path}/{shard['path']}", "rb") as fh:
                    pf = pq.ParquetFile(fh)
                    self._columns[shard_url] = selected_columns(pf.schema_arrow, inputs)
                    self._kinds[shard_url] = input_kinds(pf.schema_arrow)
                    for g in range(pf.metadata.num_row_groups):
                        self.groups.append((shard_url, g, pf.metadata.row_group(g).num_rows))
        self.total_rows = sum(n for _, _, n in self.groups)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        """Rows this rank reads per epoch (over all of its DataLoader workers)."""
        rank, world = self._consumer_world()
        start, stop = partition(self.total_rows, world, rank)
        return stop - start

    def _consumer_world(self) -> tuple[int, int]:
        rank, world = _rank_world()
        if self._rank is not None:
            rank = self._rank
        if self._world is not None:
            world = self._world
        return rank, world

    def consumer(self) -> tuple[int, int]:
        """(consumer id, number of consumers) of the calling process."""
        rank, world = self._consumer_world()
        info = torch.utils.data.get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        return rank * workers + worker, world * workers

    def _plan(self, k: int, n: int) -> list[tuple[str, int, int, int]]:
        """(shard url, row group, first row, stop row) slices consumer k reads this epoch."""
        order = np.arange(len(self.groups))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.groups))
        start, stop = partition(self.total_rows, n, k)
        plan = []
        pos = 0
        for g in order:
            url, group, rows = self.groups[int(g)]
            lo, hi = max(start, pos), min(stop, pos + rows)
            if lo < hi:
                plan.append((url, group, lo - pos, hi - pos))
            pos += rows
            if pos >= stop:
                break
        return plan

    def _rows(self, plan) -> Iterator[dict[str, Any]]:
        handles: dict[str, Any] = {}
        try:
            for url, group, lo, hi in plan:
                if url not in handles:
                    fh = fsspec.open(url, "rb", **self.storage_options).open()
                    handles[url] = (fh, pq.ParquetFile(fh))
                table = handles[url][1].read_row_group(group, columns=self._columns[url])
                view = RowGroupView(table.slice(lo, hi - lo), self._kinds[url])
                for i in range(len(view)):
                    yield to_sample(view.row(i), self.decode)
        finally:
            for fh, _ in handles.values():
                fh.close()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        k, n = self.consumer()
        rows = self._rows(self._plan(k, n))
        if not self.shuffle or self.shuffle_buffer <= 1:
            yield from rows
            return
        rng = np.random.default_rng([self.seed, self.epoch, k, 1])
        buffer: list[dict[str, Any]] = []
        for sample in rows:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(sample)
                continue
            j = int(rng.integers(len(buffer)))
            buffer[j], sample = sample, buffer[j]
            yield sample
        rng.shuffle(buffer)  # type: ignore[arg-type]
        yield from buffer
