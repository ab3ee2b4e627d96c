"""Collator: the batch format of docs/interfaces.md (masks, padding/cropping, labels)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from climb.load import Collator, StoreDataset, TaskSpec
from tests.load.conftest import NAMES

TASKS = [
    TaskSpec("ecgset.rhythm", "ecgset", "rhythm", "multiclass", ["a", "b", "c"]),
    TaskSpec("ecgset.beats", "ecgset", "beats", "multilabel", ["N", "A", "V"]),
    TaskSpec("cxr.age", "cxr", "age", "regression", []),
]


def _sample(dataset, inputs, labels, sid):
    return {"inputs": inputs, "labels": labels, "sample_id": sid, "patient_id": "p" + sid,
            "dataset": dataset, "split": "train", "meta": {"site": "x"}}


def test_mixed_modalities_and_missing_labels():
    ecg = np.arange(2 * 10, dtype=np.float32).reshape(2, 10)
    img = np.full((1, 4, 4), 255, dtype=np.uint8)
    graph = {"x": np.ones((3, 2), np.float32), "edge_index": np.array([[0, 1], [1, 2]])}
    samples = [
        _sample("ecgset", {"ecg": ecg, "text": "sinus rhythm", "graph": graph},
                {"ecgset.rhythm": 2, "ecgset.beats": np.array([1, np.nan, 0], np.float32)}, "1"),
        _sample("cxr", {"image": img}, {"cxr.age": 63.0}, "2"),
    ]
    batch = Collator(TASKS, shapes={"ecg": (2, 12), "image": (1, 3, 5)})(samples)
    assert set(batch) == {"inputs", "input_mask", "labels", "label_mask", "sample_id",
                          "patient_id", "dataset", "split", "meta"}
    x = batch["inputs"]
    assert x["ecg"].shape == (2, 2, 12) and x["ecg"].dtype == torch.float32
    assert torch.equal(x["ecg"][0, :, :10], torch.from_numpy(ecg))
    assert x["ecg"][0, :, 10:].abs().sum() == 0 and x["ecg"][1].abs().sum() == 0
    assert x["image"].shape == (2, 1, 3, 5)  # cropped H, padded W; uint8 scaled to [0, 1]
    assert x["image"][1, 0, :, :4].eq(1.0).all() and x["image"][1, 0, :, 4].eq(0).all()
    assert x["text"] == ["sinus rhythm", ""]
    assert x["graph"].num_graphs == 2 and x["graph"].x.shape == (3, 2)
    assert batch["input_mask"]["ecg"].tolist() == [True, False]
    assert batch["input_mask"]["image"].tolist() == [False, True]
    assert batch["input_mask"]["graph"].tolist() == [True, False]
    labels, mask = batch["labels"], batch["label_mask"]
    assert labels["ecgset.rhythm"].tolist() == [2, -1]
    assert labels["ecgset.rhythm"].dtype == torch.long
    assert mask["ecgset.rhythm"].tolist() == [True, False]
    assert labels["ecgset.beats"].shape == (2, 3)
    assert mask["ecgset.beats"].tolist() == [[True, False, True], [False, False, False]]
    assert math.isnan(labels["cxr.age"][0]) and labels["cxr.age"][1] == 63.0
    assert mask["cxr.age"].tolist() == [False, True]
    assert batch["meta"] == [{"site": "x"}, {"site": "x"}]


def test_pads_to_the_largest_without_configured_shape():
    samples = [_sample("d", {"ecg": np.ones((2, n), np.float32)}, {}, str(n)) for n in (3, 7)]
    out = Collator()(samples)["inputs"]["ecg"]
    assert out.shape == (2, 2, 7) and out[0, :, 3:].sum() == 0


def test_rank_mismatch_is_an_error():
    samples = [_sample("d", {"v": np.ones(s, np.float32)}, {}, str(i))
               for i, s in enumerate([(2, 3), (2, 3, 4)])]
    with pytest.raises(ValueError, match="dimensions"):
        Collator()(samples)


def test_collates_store_samples_from_two_datasets(two_store):
    ds = StoreDataset(two_store, split=["train", "val", "test"])
    first_b = ds.dataset_ranges[1][0]
    batch = Collator(ds.tasks, shapes={"ecg": (2, 720)})([ds[0], ds[first_b]])
    assert batch["dataset"] == list(NAMES)
    assert batch["inputs"]["ecg"].shape == (2, 2, 720)
    key_a, key_b = f"{NAMES[0]}.beats", f"{NAMES[1]}.beats"
    assert batch["label_mask"][key_a][1].any().item() is False  # b's sample has no a-labels
    assert batch["label_mask"][key_b][0].any().item() is False
    assert batch["label_mask"][key_b][1].all()


def test_keeps_the_memory_order_and_optionally_the_dtype():
    hwc = [np.random.default_rng(i).integers(0, 256, (5, 6, 3), dtype=np.uint8)
           for i in range(2)]
    samples = [_sample("d", {"image": a.transpose(2, 0, 1)}, {}, str(i))
               for i, a in enumerate(hwc)]
    out = Collator()(samples)["inputs"]["image"]
    assert out.shape == (2, 3, 5, 6) and out.dtype == torch.float32
    assert out.is_contiguous(memory_format=torch.channels_last)  # no transposing copy
    want = torch.from_numpy(np.stack(hwc).transpose(0, 3, 1, 2).astype(np.float32) / 255)
    assert torch.allclose(out, want)
    kept = Collator(keep_dtype=True)(samples)["inputs"]["image"]
    assert kept.dtype == torch.uint8 and torch.equal(kept, torch.from_numpy(
        np.stack(hwc).transpose(0, 3, 1, 2)))
    mixed = [_sample("d", {"v": np.ones((2, 3), dt)}, {}, str(i))
             for i, dt in enumerate((np.int16, np.float32))]
    assert Collator(keep_dtype=True)(mixed)["inputs"]["v"].dtype == torch.float32
