"""The loader decodes codec-stored images inside its DataLoader workers, into the same uint8
batches a raw store gives (real images: tests/store/codec_images.py)."""

from __future__ import annotations

import os

import pytest
import torch

import climb.load.dataset as dataset_module
from climb.load import Collator, StoreDataset
from tests.store.codec_images import prepare_codec, write_raw

SPLITS = ["train", "val", "test"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("codec_loader")
    raw = write_raw(root, size=40)
    return {c: prepare_codec(root, raw, c, row_group_bytes=1) for c in ("raw", "png")}


def _batches(store, workers: int) -> list[dict]:
    ds = StoreDataset(store, split=SPLITS)
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=3,
        shuffle=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(3),
        collate_fn=Collator(ds.tasks, keep_dtype=True),
    )
    return list(loader)


def test_png_store_decodes_in_two_workers_to_the_raw_batches(stores, tmp_path, monkeypatch):
    log = tmp_path / "decoders"
    log.mkdir()
    decode = dataset_module.decode_array

    def noting_decode(*args, **kwargs):  # forked workers inherit this: each notes its pid
        (log / str(os.getpid())).touch()
        return decode(*args, **kwargs)

    monkeypatch.setattr(dataset_module, "decode_array", noting_decode)
    raw = _batches(stores["raw"], workers=0)
    assert not list(log.iterdir())  # raw: no decode at all
    png = _batches(stores["png"], workers=2)
    pids = {int(p.name) for p in log.iterdir()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert len(raw) == len(png) == 3
    for a, b in zip(raw, png, strict=True):
        assert a["sample_id"] == b["sample_id"]
        image_a, image_b = a["inputs"]["image"], b["inputs"]["image"]
        assert image_b.dtype == torch.uint8 and image_b.shape[1:] == (3, 40, 40)
        assert torch.equal(image_a, image_b)
