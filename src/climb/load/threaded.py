"""In-process threaded loader: batches read by a thread pool into reused batch buffers.

:class:`ThreadedLoader` is a drop-in for ``torch.utils.data.DataLoader(num_workers=0)`` over a
:class:`climb.load.StoreDataset` (or a ``Subset`` of one): ``threads`` reader threads in the
training process each read a whole batch (``StoreDataset.__getitems__``: one ``preadv`` per
payload straight into the batch buffer, codecs decoded into their place; preads and the
zstd/Pillow decoders release the GIL) and collate it, ``prefetch`` batches ahead of the
consumer. No worker processes, no shared-memory hand-over: the batch tensor the consumer gets
is the buffer the payloads were read into.

- **Same batches as the DataLoader.** The batches come from the same batch sampler a
  DataLoader builds from the same arguments (``batch_size``, ``shuffle``, ``sampler``,
  ``batch_sampler``, ``drop_last``, ``generator``) and are handed out in sampler order
  whatever thread finishes first. As a DataLoader iterator does, each ``iter()`` first draws
  one int64 from ``generator`` (its base seed), so a shuffled epoch is the same as a
  DataLoader's without persistent workers. ``set_epoch`` reaches the sampler as usual.
- **Buffers are reused, never overwritten in use.** Batch ``k`` is read into slot
  ``k % (prefetch + 2)`` of a ring of buffer pools (one tensor per input name, shape and
  dtype). Before a reader reuses a slot's tensor it checks that nothing outside the pool
  still refers to its storage (the consumer's batch, a view, a numpy array of it); if
  something does, the slot gets a new tensor and the old one stays with its holder. So a
  batch stays valid as long as it is held (``list(loader)`` is correct, just not reusing),
  and a training loop that drops each batch after its step reads into the same
  ``prefetch + 2`` buffers all epoch.
- **Pinned memory.** With ``pin_memory`` (and CUDA available) the buffers are allocated
  pinned, so host-to-device copies can be ``non_blocking``; with ``device`` the loader makes
  those copies itself. A pinned slot is reused only after a CUDA event recorded when the
  next batch was handed out (or after its own copy) has completed.
- **Errors** in a reader thread surface in the consumer at that batch as a
  :class:`climb.errors.RecordError` naming the batch's shard file(s) and the exception type.
- **Shutdown.** Leaving the loop early (``break``, an exception, dropping the iterator)
  cancels the batches not started, waits for the running ones and joins every reader thread.

Each reader thread reads through its own shallow copy of the dataset (own file handles and
row-group caches); a dataset that is not a StoreDataset must be thread-safe.
"""

from __future__ import annotations

import contextlib
import copy
import os
import queue
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, RandomSampler, Sampler, SequentialSampler, Subset

from climb.errors import ClimbError, RecordError
from climb.load.collate import _batch_tensor
from climb.load.dataset import StoreDataset, _Files, _GroupedPart

THREAD_PREFIX = "climb-loader"


def _storage_refs(tensor: torch.Tensor) -> int:
    """How many tensors share ``tensor``'s storage (+1 for the temporary this call makes);
    a large number where torch does not say (then nothing counts as free)."""
    count = getattr(torch._C, "_storage_Use_Count", None)
    if count is None:
        return 1 << 30
    return int(count(tensor.untyped_storage()._cdata))


class _Slot:
    """One buffer pool of the ring: a tensor per (input name, shape, dtype) — the last
    ``KEEP`` such — each with the storage reference count it has when only the pool holds
    it."""

    KEEP = 8

    def __init__(self, pin: bool):
        self.pin = pin
        self.tensors: OrderedDict[tuple, tuple[torch.Tensor, int]] = OrderedDict()
        self.event: Any = None  # CUDA event that must complete before reuse (pinned only)
        self.allocations = 0

    def allocate(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """A ``shape``/``dtype`` batch buffer for input ``name`` (the pool's, when free)."""
        key = (name, tuple(shape), dtype)
        held = self.tensors.get(key)
        if held is not None:
            base, free_refs = held
            if _storage_refs(base) <= free_refs:
                if self.event is not None:
                    self.event.synchronize()  # a non_blocking copy out of it has finished
                    self.event = None
                self.tensors.move_to_end(key)
                return base.view(shape)  # an alias: while held, it counts as a reference
        if self.pin:
            base = torch.empty(shape, dtype=dtype, pin_memory=True)
        else:
            base = _batch_tensor(shape, dtype)  # numpy-allocated (huge pages) in-process
        self.tensors[key] = (base, _storage_refs(base))  # a held one stays with its holder
        self.tensors.move_to_end(key)
        while len(self.tensors) > self.KEEP:
            self.tensors.popitem(last=False)
        self.allocations += 1
        return base.view(shape)


def _thread_copy(dataset: StoreDataset) -> StoreDataset:
    """A shallow copy of ``dataset`` for one reader thread: the index is shared, the file
    handles and row-group caches are its own."""
    clone = copy.copy(dataset)
    clone.files = _Files(dataset.files.paths)
    clone._parts = [copy.copy(p) for p in dataset._parts]
    for part in clone._parts:
        if isinstance(part, _GroupedPart):
            part.views, part.pid = OrderedDict(), -1
    return clone


def _unwrap(dataset: Any) -> tuple[Any, Callable[[list[int]], list[int]]]:
    """The dataset under any ``Subset`` wrappers and the map of indices into it."""
    maps: list[Sequence[int]] = []
    while isinstance(dataset, Subset):
        maps.append(dataset.indices)
        dataset = dataset.dataset

    def to_base(indices: list[int]) -> list[int]:
        for mapping in maps:
            indices = [int(mapping[i]) for i in indices]
        return indices

    return dataset, to_base


def _shards_of(dataset: Any, indices: Sequence[int]) -> list[str]:
    """The shard files holding rows ``indices`` of a StoreDataset (names for an error)."""
    if not isinstance(dataset, StoreDataset):
        return []
    idx = np.asarray(indices, dtype=np.int64)
    n = len(dataset)
    idx = idx[(idx >= 0) & (idx < n)]
    found: list[str] = []
    for i in idx.tolist():
        d = int(np.searchsorted(dataset._starts, i, side="right") - 1)
        part = dataset._parts[d]
        local = i - int(dataset._starts[d])
        if hasattr(part, "file"):
            path = dataset.files.paths[int(part.file[local])]
        else:
            g = int(np.searchsorted(part.group_start, local, side="right") - 1)
            path = dataset.files.paths[part.group_file[g]]
        if path not in found:
            found.append(path)
    return found


def _failing_rows(dataset: Any, rows: list[int]) -> list[int]:
    """The rows of a batch that fail when read alone (all of them when none does: then the
    batch failed as a whole, e.g. in the collate function)."""
    bad = []
    for i in rows:
        try:
            dataset[i]
        except Exception:
            bad.append(i)
    return bad or rows


def _to_device(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple) and any(isinstance(v, torch.Tensor) for v in value):
        return type(value)(_to_device(v, device) for v in value)
    if hasattr(value, "to") and callable(value.to) and not isinstance(value, str | bytes):
        return value.to(device, non_blocking=True)  # e.g. a torch_geometric Batch
    return value


class ThreadedLoader:
    """Batches of ``dataset`` read by ``threads`` threads of this process, ``prefetch``
    batches ahead, into a ring of ``prefetch + 2`` reused buffer pools (see the module
    docstring). Arguments as ``torch.utils.data.DataLoader``'s, plus ``device``: move each
    batch there (``non_blocking`` from pinned buffers)."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool = False,
        sampler: Sampler | Iterable[int] | None = None,
        batch_sampler: Sampler | Iterable[list[int]] | None = None,
        drop_last: bool = False,
        collate_fn: Callable[[Any], Any] | None = None,
        generator: torch.Generator | None = None,
        threads: int = 2,
        prefetch: int | None = None,
        pin_memory: bool = False,
        device: str | torch.device | None = None,
    ):
        if threads < 1:
            raise ClimbError(f"threads must be >= 1, not {threads}")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ClimbError("batch_sampler excludes batch_size, shuffle, sampler and "
                                 "drop_last")
        else:
            if batch_size is None:
                raise ClimbError("ThreadedLoader reads whole batches: give a batch_size")
            if sampler is not None and shuffle:
                raise ClimbError("sampler excludes shuffle")
            if sampler is None:
                sampler = (RandomSampler(dataset, generator=generator) if shuffle
                           else SequentialSampler(dataset))
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.drop_last = drop_last
        self.generator = generator
        self.collate_fn = collate_fn if collate_fn is not None else (lambda b: b)
        self.threads = int(threads)
        self.prefetch = max(int(prefetch if prefetch is not None else 2 * threads), 1)
        cuda = torch.cuda.is_available()
        self.pin_memory = bool(pin_memory) and cuda
        self.device = torch.device(device) if device is not None else None
        if self.device is not None and self.device.type == "cuda" and not cuda:
            raise ClimbError(f"device {self.device} asked for, but CUDA is not available")
        self._base, self._to_base = _unwrap(dataset)
        self.slots = [_Slot(self.pin_memory) for _ in range(self.prefetch + 2)]
        # the readers' dataset copies (own file handles), kept across epochs: at most one
        # per thread, taken by a batch read and put back after it
        self._copies: queue.SimpleQueue = queue.SimpleQueue()

    def __len__(self) -> int:
        return len(self.batch_sampler)  # type: ignore[arg-type]

    def _read(self, indices: list[int], slot: _Slot) -> Any:
        """One batch, in a reader thread: samples read into ``slot``'s buffers, collated."""
        try:
            ds = self._copies.get_nowait()
        except queue.Empty:
            base = self._base
            ds = _thread_copy(base) if isinstance(base, StoreDataset) else base
        try:
            return self._read_with(ds, indices, slot)
        finally:
            self._copies.put(ds)

    def _read_with(self, ds: Any, indices: list[int], slot: _Slot) -> Any:
        rows = self._to_base(list(indices))
        try:
            if isinstance(ds, StoreDataset):
                samples = ds.__getitems__(rows, allocate=slot.allocate)
            elif hasattr(ds, "__getitems__"):
                samples = ds.__getitems__(rows)
            else:
                samples = [ds[i] for i in rows]
            return self.collate_fn(samples)
        except RecordError:
            raise
        except Exception as err:
            shards = _shards_of(self._base, _failing_rows(ds, rows))
            path = ", ".join(shards) if shards else type(ds).__name__
            raise RecordError(path, f"reading a batch failed ({type(err).__name__}: "
                                    f"{err})") from err

    def __iter__(self) -> Iterator[Any]:
        if self.generator is not None:  # as a DataLoader iterator draws its base seed
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        return self._batches()

    def _batches(self) -> Iterator[Any]:
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix=THREAD_PREFIX)
        pending: deque[tuple[Future, _Slot]] = deque()
        order = iter(self.batch_sampler)
        submitted = 0
        previous: _Slot | None = None

        def submit() -> bool:
            nonlocal submitted
            indices = next(order, None)
            if indices is None:
                return False
            slot = self.slots[submitted % len(self.slots)]
            pending.append((pool.submit(self._read, list(indices), slot), slot))
            submitted += 1
            return True

        try:
            while len(pending) < self.prefetch and submit():
                pass
            while pending:
                future, slot = pending.popleft()
                batch = future.result()
                del future
                submit()
                if self.pin_memory:  # the copies queued so far cover the previous batch
                    if previous is not None:
                        previous.event = torch.cuda.Event()
                        previous.event.record()
                    previous = slot
                if self.device is not None:
                    batch = _to_device(batch, self.device)
                    if self.pin_memory:
                        slot.event = torch.cuda.Event()
                        slot.event.record()
                yield batch
                del batch
        finally:
            for future, _ in pending:
                future.cancel()
            pending.clear()
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Close the file handles of the readers' dataset copies (reopened when needed)."""
        while True:
            try:
                ds = self._copies.get_nowait()
            except queue.Empty:
                return
            files = getattr(ds, "files", None)
            if isinstance(files, _Files) and ds is not self._base:
                for fd in files.fds.values():
                    os.close(fd)
                for parquet in files.parquet.values():
                    parquet.close()
                files.fds.clear()
                files.parquet.clear()
                files.cache.clear()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown: nothing to tidy
            self.close()
