"""The in-process threaded loader (climb.load.threaded) against the DataLoader path.

One store holds WFDB ECG windows of MIT-BIH record 100 (one dataset with a row group per
record: the pread path; one with shared row groups: the Parquet fallback), real DICOM images
stored as PNG (decoded into the batch buffer) and CT series of pydicom's CT_small.dcm (int16
volumes, zstd_shuffle).
"""

from __future__ import annotations

import gc
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from climb.errors import RecordError
from climb.load import Collator, StoreDataset
from climb.load.threaded import THREAD_PREFIX, ThreadedLoader
from tests.store import codec_images, synthetic
from tests.store.volume_stores import CT_NAME, prepare_ct, write_ct_series

SPLITS = ["train", "val", "test"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """STORE/ with synthetic_ecg (pread), synthetic_ecg_b (shared row groups), codec_images
    (PNG) and ct_series (zstd_shuffle volumes)."""
    from climb.store.prepare import prepare

    root = tmp_path_factory.mktemp("threaded")
    store = root / "store"
    overlay = synthetic.write_overlay(root / "overlay.yaml", ("synthetic_ecg", "synthetic_ecg_b"))
    prepare("synthetic_ecg", synthetic.build(root / "a", n=24, per_patient=1), store,
            catalog=overlay, workers=1, progress=False, config={"row_group_bytes": 1000})
    prepare("synthetic_ecg_b", synthetic.build(root / "b", n=12, per_patient=1, seconds=1.0),
            store, catalog=overlay, workers=1, progress=False,
            config={"shard_rows": 5, "row_group_bytes": 1 << 20})
    images = root / "images"
    raw = codec_images.write_raw(images)
    prepare(codec_images.NAME, raw, store, catalog=images / "overlay.yaml", workers=1,
            progress=False, config={"image.codec": "png"})
    write_ct_series(root / "ct_raw", n=6, slices=4)
    prepare_ct(root, store)
    return store


def _assert_same(a: dict, b: dict) -> None:
    assert a["sample_id"] == b["sample_id"]
    assert a["inputs"].keys() == b["inputs"].keys()
    for name in a["inputs"]:
        assert a["inputs"][name].dtype == b["inputs"][name].dtype
        assert torch.equal(a["inputs"][name], b["inputs"][name]), name
        assert torch.equal(a["input_mask"][name], b["input_mask"][name])
    for key in a["labels"]:
        assert torch.equal(a["labels"][key].nan_to_num(-7), b["labels"][key].nan_to_num(-7))


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


@pytest.mark.parametrize("names", [["synthetic_ecg"], ["synthetic_ecg_b"], [codec_images.NAME],
                                   [CT_NAME], None])
def test_same_batches_as_dataloader(store, names):
    ds = StoreDataset(store, names, split=SPLITS)
    collate = Collator(ds.tasks, keep_dtype=True)
    reference = DataLoader(ds, batch_size=3, shuffle=True, num_workers=1, collate_fn=collate,
                           generator=torch.Generator().manual_seed(5))
    threaded = ThreadedLoader(ds, batch_size=3, shuffle=True, collate_fn=collate, threads=3,
                              prefetch=2, generator=torch.Generator().manual_seed(5))
    assert len(threaded) == len(reference)
    for _epoch in range(2):  # the generator carries on across epochs as a DataLoader's does
        expected = list(reference)
        got = list(threaded)  # every batch held at once: none may be overwritten
        assert len(got) == len(expected) == len(threaded)
        for a, b in zip(got, expected, strict=True):
            _assert_same(a, b)
    if names == [CT_NAME]:
        assert got[0]["inputs"]["volume"].dtype == torch.int16
    if names == [codec_images.NAME]:
        assert got[0]["inputs"]["image"].dtype == torch.uint8


def test_same_batches_with_a_sampler_and_a_subset(store):
    ds = StoreDataset(store, ["synthetic_ecg", CT_NAME], split=SPLITS)
    sub = Subset(ds, list(range(len(ds) - 1, 0, -2)))
    collate = Collator(ds.tasks)  # float32 batches
    sampler = DistributedSampler(sub, num_replicas=1, rank=0, shuffle=True, seed=3)
    threaded = ThreadedLoader(sub, batch_size=4, sampler=sampler, collate_fn=collate, threads=2)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        reference = DataLoader(sub, batch_size=4, sampler=sampler, num_workers=2,
                               collate_fn=collate)
        for a, b in zip(threaded, reference, strict=True):
            _assert_same(a, b)


def test_buffers_reused_but_never_overwritten_while_held(store):
    ds = StoreDataset(store, ["synthetic_ecg"], split=SPLITS)
    collate = Collator(ds.tasks, keep_dtype=True)
    loader = ThreadedLoader(ds, batch_size=4, collate_fn=collate, threads=2, prefetch=2)
    expected = [b["inputs"]["ecg"].clone() for b in
                DataLoader(ds, batch_size=4, collate_fn=collate)]
    # a training loop: each batch dropped after its step -> the ring's buffers are reused
    pointers = set()
    for k, batch in enumerate(loader):
        assert torch.equal(batch["inputs"]["ecg"], expected[k])
        pointers.add(batch["inputs"]["ecg"].data_ptr())
    assert len(pointers) <= len(loader.slots) < len(expected)
    del batch  # (the loop variable still holds the last batch)
    allocations = sum(s.allocations for s in loader.slots)
    # a consumer holding two tensors (and a numpy view) across the whole epoch: the slots
    # they live in get new buffers, the held values stay what they were
    held_tensor = held_numpy = None
    for k, batch in enumerate(loader):
        if k == 0:
            held_tensor = batch["inputs"]["ecg"]
        if k == 1:
            held_numpy = batch["inputs"]["ecg"].numpy()[1:]
        assert torch.equal(batch["inputs"]["ecg"], expected[k])
    assert torch.equal(held_tensor, expected[0])
    np.testing.assert_array_equal(held_numpy, expected[1][1:].numpy())
    assert sum(s.allocations for s in loader.slots) - allocations == 2


def test_file_handles_kept_across_epochs_and_closed(store):
    ds = StoreDataset(store, None, split=SPLITS)
    loader = ThreadedLoader(ds, batch_size=4, collate_fn=Collator(ds.tasks), threads=2)

    def shard_handles() -> list[str]:
        """The shard files this process holds open (one entry per descriptor)."""
        out = []
        for fd in Path("/proc/self/fd").iterdir():
            try:
                target = fd.readlink()
            except OSError:  # closed meanwhile
                continue
            if target.suffix == ".parquet" and target.parent.name != "_index":
                out.append(str(target))
        return sorted(out)

    before = shard_handles()
    for _ in loader:
        pass
    assert len(shard_handles()) > len(before)  # the readers' own handles on the shards
    for _epoch in range(4):
        for _ in loader:
            pass
    # at most a pread handle and a Parquet reader per shard per reader thread: kept
    assert len(shard_handles()) - len(before) <= 2 * 2 * len(ds.files.paths)  # fd + Parquet
    loader.close()
    assert shard_handles() == before


def test_reader_error_names_the_shard(store, tmp_path):
    bad = tmp_path / "store"
    shutil.copytree(store / codec_images.NAME, bad / codec_images.NAME)
    ds = StoreDataset(bad, [codec_images.NAME], split=SPLITS)
    part = ds._parts[0]
    target = len(ds) - 1
    shard = ds.files.paths[int(part.file[target])]
    with open(shard, "r+b") as fh:  # the PNG payload of the last image: garbage
        fh.seek(int(part.offset["image"][target]))
        fh.write(b"\x00not a png\x00" * 8)
    loader = ThreadedLoader(ds, batch_size=2, collate_fn=Collator(), threads=2)
    seen = 0
    with pytest.raises(RecordError) as err:
        for _batch in loader:
            seen += 1
    assert err.value.path == shard
    assert "reading a batch failed" in err.value.problem
    assert seen == (len(ds) - 1) // 2  # every batch before the bad one arrived
    gc.collect()
    assert not _reader_threads()


def test_early_break_leaves_no_threads(store):
    ds = StoreDataset(store, None, split=SPLITS)
    loader = ThreadedLoader(ds, batch_size=2, collate_fn=Collator(ds.tasks), threads=3,
                            prefetch=4)
    for k, _batch in enumerate(loader):
        assert _reader_threads()
        if k == 1:
            break
    gc.collect()
    assert not _reader_threads()
    it = iter(loader)  # an iterator dropped half-way
    next(it)
    del it
    gc.collect()
    assert not _reader_threads()
