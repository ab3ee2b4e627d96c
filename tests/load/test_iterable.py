"""StreamingStoreDataset: exactly-once over DDP ranks x DataLoader workers, any fsspec path."""

from __future__ import annotations

from collections import Counter

import fsspec
import pytest
import torch

from climb.load import Collator, StreamingStoreDataset
from tests.load.conftest import NAMES


def _urls(store):
    return [str(store / n) for n in NAMES]


def _epoch(store, world, workers, epoch=0, **kwargs):
    seen = []
    for rank in range(world):
        ds = StreamingStoreDataset(_urls(store), split="train", rank=rank, world_size=world,
                                   **kwargs)
        ds.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=workers,
                                             collate_fn=Collator(ds.tasks))
        per_rank = [(d, s) for b in loader for d, s in zip(b["dataset"], b["sample_id"],
                                                            strict=True)]
        assert abs(len(per_rank) - len(ds)) == 0
        seen.append(per_rank)
    return seen


@pytest.mark.parametrize(("world", "workers"), [(1, 0), (2, 2), (3, 1), (16, 0), (8, 2)])
def test_every_sample_exactly_once(two_store, world, workers):
    total = StreamingStoreDataset(_urls(two_store), split="train").total_rows
    seen = _epoch(two_store, world, workers)
    flat = [x for rank in seen for x in rank]
    assert len(flat) == total and len(set(flat)) == total
    sizes = [len(r) for r in seen]
    assert max(sizes) - min(sizes) <= 1  # balanced, even with more consumers than groups


def test_more_consumers_than_row_groups(two_store):
    ds = StreamingStoreDataset(_urls(two_store), split="val")
    consumers = len(ds.groups) * 3
    seen = []
    for rank in range(consumers):
        part = StreamingStoreDataset(_urls(two_store), split="val", rank=rank,
                                     world_size=consumers)
        seen += [s["sample_id"] + s["dataset"] for s in part]
    assert Counter(seen) == Counter({k: 1 for k in seen}) and len(seen) == ds.total_rows


def test_shuffle_changes_with_epoch_and_is_deterministic(two_store):
    a0 = _epoch(two_store, 1, 0, epoch=0, shuffle_buffer=8)[0]
    a0_again = _epoch(two_store, 1, 0, epoch=0, shuffle_buffer=8)[0]
    a1 = _epoch(two_store, 1, 0, epoch=1, shuffle_buffer=8)[0]
    assert a0 == a0_again and a0 != a1 and sorted(a0) == sorted(a1)
    plain = _epoch(two_store, 1, 0, shuffle=False)[0]
    assert plain != a0 and sorted(plain) == sorted(a0)


def test_streams_from_a_non_local_fsspec_filesystem(two_store):
    fs = fsspec.filesystem("memory")
    for name in NAMES:
        for path in (two_store / name).glob("*.*"):
            with fs.open(f"/climbtest/{name}/{path.name}", "wb") as fh:
                fh.write(path.read_bytes())
    try:
        ds = StreamingStoreDataset([f"memory://climbtest/{n}" for n in NAMES], split="train")
        local = StreamingStoreDataset(_urls(two_store), split="train", shuffle=False)
        got = sorted((s["dataset"], s["sample_id"], s["inputs"]["ecg"].tobytes()) for s in ds)
        want = sorted((s["dataset"], s["sample_id"], s["inputs"]["ecg"].tobytes())
                      for s in local)
        assert got == want
    finally:
        fs.rm("/climbtest", recursive=True)
