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
    meta = pq.ParquetFile(two_store / NAMES[0] / m["shards"][0]["path"]).metadata
    assert meta.num_row_groups >= 2
    assert max(meta.row_group(g).num_rows for g in range(meta.num_row_groups)) <= 2


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
