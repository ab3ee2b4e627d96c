"""Training with ``data.threads`` (the in-process threaded loader) is the same run as with the
DataLoader: same batches in the same order, so the same weights and predictions."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from climb.train.config import ConfigError
from tests.train.conftest import base_config, train


def _state(run):
    return torch.load(str(run / "checkpoints" / "last.ckpt"), map_location="cpu",
                      weights_only=False)["state_dict"]


def test_threads_train_the_same_model_as_the_dataloader(store, tmp_path):
    trainer = {"max_epochs": 2, "limit_train_batches": 2, "limit_val_batches": 1}
    for name, extra in (("dl", []), ("threads", ["data.threads=2"])):
        train(base_config(store, tmp_path, run={"name": name, "predict": ["test"]},
                          trainer=trainer), *extra)
    a, b = _state(tmp_path / "dl"), _state(tmp_path / "threads")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    pa = pd.read_parquet(tmp_path / "dl" / "predictions" / "test.parquet")
    pb = pd.read_parquet(tmp_path / "threads" / "predictions" / "test.parquet")
    pd.testing.assert_frame_equal(pa, pb)


def test_threads_and_workers_exclude_each_other(store, tmp_path):
    with pytest.raises(ConfigError, match=r"data\.threads"):
        train(base_config(store, tmp_path), "data.threads=2", "data.num_workers=2")
