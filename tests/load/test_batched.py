"""StoreDataset.__getitems__ (batched reads into one buffer) and the Collator's use of it."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from climb.load import Collator, StoreDataset
from tests.load.conftest import NAMES

PNG_OVERLAY = """
- name: png_test
  title: PNG folder test set
  modality: clinical_photo
  domain: test
  tasks:
    - name: label
      type: multiclass
      classes: [a, b]
  samples: {total: 8, unit: images}
  size_gb: 0
  access: {tier: bundled, gate: written by the tests}
  license: ODC-By
  homepage: https://github.com/climb
  citation: "@misc{png, title={png test}}"
  split: {official: false, definition: patient-level hash split}
  patient_ids: {available: true, field: patient_id}
  adapter: testing.png_folder
"""
ALL = ["train", "val", "test"]


@pytest.fixture(scope="module")
def ecg_store(tmp_path_factory) -> Path:
    """One synthetic ECG dataset, one row group per record (the pread layout)."""
    from climb.store.prepare import prepare
    from tests.store import synthetic

    root = tmp_path_factory.mktemp("batched_ecg")
    overlay = synthetic.write_overlay(root / "overlay.yaml")
    prepare(synthetic.NAME, synthetic.build(root, n=12), root / "store", catalog=overlay,
            workers=1, config={"row_group_bytes": 1}, progress=False)
    return root / "store"


@pytest.fixture(scope="module")
def png_store(tmp_path_factory) -> Path:
    """8 RGB PNGs (12 x 16, written with Pillow) prepared into H x W x C uint8 arrays."""
    from PIL import Image

    from climb.store.prepare import prepare

    root = tmp_path_factory.mktemp("batched_png")
    raw = root / "raw"
    (raw / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(
            raw / "images" / f"i{i}.png")
        rows.append({"record": f"i{i}", "patient_id": f"p{i}", "label": "ab"[i % 2]})
    with (raw / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (root / "overlay.yaml").write_text(PNG_OVERLAY)
    prepare("png_test", raw, root / "store", catalog=root / "overlay.yaml", workers=1,
            config={"row_group_bytes": 1}, progress=False)
    return root / "store"


def _same_sample(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in ("sample_id", "patient_id", "dataset", "split", "meta"):
        assert a[key] == b[key]
    assert a["inputs"].keys() == b["inputs"].keys()
    for name, value in a["inputs"].items():
        assert value.shape == b["inputs"][name].shape and value.dtype == b["inputs"][name].dtype
        np.testing.assert_array_equal(value, b["inputs"][name])
    assert a["labels"].keys() == b["labels"].keys()
    for key, value in a["labels"].items():
        np.testing.assert_array_equal(np.asarray(value, dtype=float),
                                      np.asarray(b["labels"][key], dtype=float))


def _same_batch(a: dict, b: dict) -> None:
    for name, value in a["inputs"].items():
        assert value.dtype == b["inputs"][name].dtype
        assert torch.equal(value, b["inputs"][name])
    for key in ("input_mask", "labels", "label_mask"):
        for name, value in a[key].items():
            assert torch.equal(value.nan_to_num(-7), b[key][name].nan_to_num(-7))
    assert a["sample_id"] == b["sample_id"] and a["meta"] == b["meta"]


def test_getitems_reads_one_buffer_equal_to_getitem(ecg_store):
    ds = StoreDataset(ecg_store, split=ALL)
    order = [7, 2, -1, 0, 5, 11, 3]
    samples = ds.__getitems__(order)
    assert len(samples) == len(order)
    for i, s in zip(order, samples, strict=True):
        _same_sample(s, ds[i])
    tensor, views = samples.batched["ecg"]
    assert tensor.shape == (len(order), *samples[0]["inputs"]["ecg"].shape)
    assert all(s["inputs"]["ecg"] is v for s, v in zip(samples, views, strict=True))
    assert all(np.shares_memory(v, tensor.numpy()) for v in views)
    # the Collator hands that buffer on (keep_dtype; float32 ECG also without it)
    per_sample = [ds[i] for i in order]
    for collate in (Collator(ds.tasks), Collator(ds.tasks, keep_dtype=True)):
        batch = collate(samples)
        assert batch["inputs"]["ecg"].data_ptr() == tensor.data_ptr()
        _same_batch(batch, collate(per_sample))
    with pytest.raises(IndexError):
        ds.__getitems__([0, len(ds)])


def test_a_payload_failing_the_length_check_is_read_by_parquet(ecg_store):
    ds = StoreDataset(ecg_store, split=ALL)
    want = [ds[i]["inputs"]["ecg"].copy() for i in range(4)]
    offsets = ds._parts[0].offset["ecg"].copy()
    offsets[1] += 8  # points into the payload: its length prefix will not match
    ds._parts[0].offset["ecg"] = offsets
    samples = ds.__getitems__([0, 1, 2, 3])
    assert "ecg" in samples.batched
    for s, w in zip(samples, want, strict=True):
        np.testing.assert_array_equal(s["inputs"]["ecg"], w)
    assert ds.files.parquet  # the bad one came from the Parquet reader


def test_getitems_without_offsets_or_across_datasets(two_store):
    """Shared row groups (no pread offsets), two datasets of different lengths: per-sample
    reads, nothing batched, the same samples as __getitem__."""
    ds = StoreDataset(two_store, split=ALL)
    a, b = ds.dataset_ranges[1][0] - 1, ds.dataset_ranges[1][0]
    order = [b, 0, a, b + 1]
    samples = ds.__getitems__(order)
    assert samples.batched == {}
    for i, s in zip(order, samples, strict=True):
        _same_sample(s, ds[i])
    assert {s["dataset"] for s in samples} == set(NAMES)


def test_images_batch_channels_last_without_a_copy(png_store):
    ds = StoreDataset(png_store, split=ALL)
    order = [3, 1, 6, 0]
    samples = ds.__getitems__(order)
    for i, s in zip(order, samples, strict=True):
        assert s["inputs"]["image"].shape == (3, 12, 16)
        _same_sample(s, ds[i])
    per_sample = [ds[i] for i in order]
    raw = Collator(ds.tasks, keep_dtype=True)(samples)["inputs"]["image"]
    assert raw.dtype == torch.uint8 and raw.shape == (4, 3, 12, 16)
    assert raw.is_contiguous(memory_format=torch.channels_last)
    assert raw.data_ptr() == samples.batched["image"][0].data_ptr()
    _same_batch(Collator(ds.tasks, keep_dtype=True)(per_sample),
                Collator(ds.tasks, keep_dtype=True)(samples))
    scaled = Collator(ds.tasks)(samples)
    assert scaled["inputs"]["image"].dtype == torch.float32
    assert torch.allclose(scaled["inputs"]["image"], raw.float() / 255)
    _same_batch(scaled, Collator(ds.tasks)(per_sample))
    # a configured shape other than the stored one: padded per sample, as before
    padded = Collator(ds.tasks, shapes={"image": (3, 12, 20)})(samples)["inputs"]["image"]
    assert padded.shape == (4, 3, 12, 20) and padded[..., 16:].eq(0).all()
    assert torch.equal(padded[..., :16], scaled["inputs"]["image"])


def test_collator_ignores_a_stale_buffer(ecg_store):
    ds = StoreDataset(ecg_store, split=ALL)
    samples = ds.__getitems__([0, 1])
    samples[1] = {**samples[1], "inputs": {"ecg": np.zeros_like(samples[1]["inputs"]["ecg"])}}
    out = Collator(ds.tasks)(samples)["inputs"]["ecg"]
    assert out[1].eq(0).all() and torch.equal(out[0], torch.from_numpy(ds[0]["inputs"]["ecg"]))


def test_dataloader_workers_batch_in_shared_memory(png_store):
    ds = StoreDataset(png_store, split=ALL)
    kwargs = {"batch_size": 3, "shuffle": True, "collate_fn": Collator(ds.tasks, keep_dtype=True)}
    inline = list(torch.utils.data.DataLoader(
        ds, generator=torch.Generator().manual_seed(0), **kwargs))
    workers = list(torch.utils.data.DataLoader(
        ds, num_workers=2, generator=torch.Generator().manual_seed(0), **kwargs))
    assert len(inline) == len(workers) == 3
    for a, b in zip(inline, workers, strict=True):
        _same_batch(a, b)
        assert b["inputs"]["image"].is_contiguous(memory_format=torch.channels_last)
    subset = torch.utils.data.Subset(ds, [5, 2, 7])
    batch = next(iter(torch.utils.data.DataLoader(subset, **{**kwargs, "shuffle": False})))
    assert batch["sample_id"] == [ds[i]["sample_id"] for i in (5, 2, 7)]
