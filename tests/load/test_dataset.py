"""StoreDataset: random access over several prepared datasets, DataLoader workers."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import torch

from climb.load import Collator, StoreDataset, TaskSpec, load_task_specs
from climb.store.reader import iter_rows, open_store
from tests.load.conftest import NAMES


def _expected(store, split):
    rows = {}
    for ds in open_store(store):
        for r in iter_rows(ds, split):
            rows[(r["dataset"], r["sample_id"])] = r
    return rows


def test_task_specs_from_manifests(two_store):
    specs = load_task_specs(two_store)
    assert [s.key for s in specs] == [f"{n}.{t}" for n in NAMES for t in ("rhythm", "beats")]
    assert specs[1] == TaskSpec("synthetic_ecg.beats", "synthetic_ecg", "beats", "multilabel",
                                ["N", "A", "V"])
    assert load_task_specs(two_store, [NAMES[1]])[0].dataset == NAMES[1]


def test_random_access_matches_the_store(two_store):
    ds = StoreDataset(two_store, split="train")
    expected = _expected(two_store, "train")
    assert len(ds) == len(expected)
    assert set(ds.dataset_sizes()) == set(NAMES)
    rng = np.random.default_rng(0)
    for i in rng.permutation(len(ds)):
        s = ds[int(i)]
        row = expected[(s["dataset"], s["sample_id"])]
        assert s["inputs"]["ecg"].tobytes() == row["inputs"]["ecg"].tobytes()
        assert s["labels"][f"{s['dataset']}.rhythm"] == row["labels"]["rhythm"]
        assert s["split"] == "train" and s["meta"] == row["meta"]
    assert ds[-1]["sample_id"] == ds[len(ds) - 1]["sample_id"]


def test_row_groups_are_small_for_random_access(two_store):
    m = json.loads((two_store / NAMES[0] / "manifest.json").read_text())
    shard = two_store / NAMES[0] / m["shards"][0]["path"]
    meta = pq.ParquetFile(shard).metadata
    assert meta.num_row_groups >= 2
    # about row_group_bytes (12000) of payload per group; payloads are signal-codec encoded
    smallest = min(len(v) for v in pq.read_table(shard, columns=["input.ecg"])[0].to_pylist())
    most = max(1, 12000 // (smallest + 256))
    assert max(meta.row_group(g).num_rows for g in range(meta.num_row_groups)) <= min(most, 3)


def test_dataloader_workers_see_every_sample_once(two_store):
    ds = StoreDataset(two_store, split=["train", "val", "test"])
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True, num_workers=2,
                                         collate_fn=Collator(ds.tasks),
                                         generator=torch.Generator().manual_seed(0))
    seen = [(d, s) for b in loader for d, s in zip(b["dataset"], b["sample_id"], strict=True)]
    assert len(seen) == len(set(seen)) == 36


def test_inputs_subset_and_pickling(two_store):
    import pickle

    ds = StoreDataset(two_store, names=[NAMES[1]], split="train", inputs=[])
    assert ds[0]["inputs"] == {}
    ds2 = pickle.loads(pickle.dumps(StoreDataset(two_store, split="train")))
    assert ds2[0]["inputs"]["ecg"].shape[0] == 2


def test_pread_fast_path_matches_the_parquet_reader(tmp_path):
    """One row group per record: payloads come from one pread, equal to a Parquet read."""
    from climb.store.prepare import prepare
    from tests.store import synthetic

    overlay = synthetic.write_overlay(tmp_path / "overlay.yaml")
    prepare(synthetic.NAME, synthetic.build(tmp_path, n=10), tmp_path / "store",
            catalog=overlay, workers=1, config={"row_group_bytes": 1}, progress=False)
    ds = StoreDataset(tmp_path / "store", split=["train", "val", "test"])
    files = ds.files
    assert all((part.offset["ecg"] > 0).all() for part in ds._parts)
    expected = _expected(tmp_path / "store", ["train", "val", "test"])
    assert len(ds) == len(expected) == 10
    for i in range(len(ds)):
        s = ds[i]
        want = expected[(s["dataset"], s["sample_id"])]["inputs"]["ecg"]
        assert s["inputs"]["ecg"].dtype == want.dtype and s["inputs"]["ecg"].shape == want.shape
        assert s["inputs"]["ecg"].tobytes() == want.tobytes()
    assert not files.parquet  # no footer was parsed: every payload came from a pread
    # a payload whose length prefix does not match is refused, not misread
    part = ds._parts[0]
    assert files.pread(int(part.file[0]), int(part.offset["ecg"][0]), 123) is None


def test_store_without_index_uses_row_group_reads(two_store, tmp_path):
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(two_store, copy)
    for name in NAMES:
        shutil.rmtree(copy / name / "_index")
    plain = StoreDataset(copy, split="train")
    indexed = StoreDataset(two_store, split="train")
    assert len(plain) == len(indexed)
    for i in range(len(plain)):
        a, b = plain[i], indexed[i]
        assert a["sample_id"] == b["sample_id"]
        assert a["inputs"]["ecg"].tobytes() == b["inputs"]["ecg"].tobytes()
        assert a["meta"] == b["meta"]
        for key, value in a["labels"].items():
            np.testing.assert_array_equal(np.asarray(value, dtype=float),
                                          np.asarray(b["labels"][key], dtype=float))
