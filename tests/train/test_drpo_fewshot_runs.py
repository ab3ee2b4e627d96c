"""End to end on the bundled real data: DRPO on vs off trains different models; a k-shot run
selects its checkpoint and thresholds on k-shot validation data only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch

from tests.train.conftest import TINY_ECG, TINY_EEG, base_config, train


def _multitask(store, tmp_path, name: str) -> dict:
    cfg = base_config(store, tmp_path, run={"name": name})
    cfg["regime"] = "multitask"
    cfg["data"]["datasets"] = None
    cfg["model"] = {
        "encoders": {"ecg": dict(TINY_ECG), "eeg": dict(TINY_EEG)},
        "fusion": {"type": "late"},
    }
    return cfg


def _scores(run) -> np.ndarray:
    df = pd.read_parquet(run / "predictions" / "test.parquet").sort_values(["task", "sample_id"])
    return np.concatenate(df["scores"].to_list())


def test_drpo_on_and_off_train_different_models(store, tmp_path):
    common = (
        "trainer.limit_train_batches=4",
        "trainer.limit_val_batches=1",
        "run.predict=[test]",
        "data.mixture.temperature=4",
    )
    cfg = _multitask(store, tmp_path, "off")
    train(cfg, *common, "loss.drpo.mode=off")
    train(cfg, *common, "run.name=on", "loss.drpo.mode=hierarchical", "loss.drpo.refit_every=2")
    diff = np.abs(_scores(tmp_path / "on") - _scores(tmp_path / "off")).max()
    assert diff > 1e-3, diff  # a seed change moves scores by ~0.3; a no-op by ~1e-7

    state = torch.load(tmp_path / "on" / "checkpoints" / "last.ckpt", weights_only=False)
    drawn = state["state_dict"]["drpo.drawn"]
    assert float(drawn.sum()) == 4 * 32  # every drawn sample counted, not the split sizes
    log = pd.read_csv(tmp_path / "on" / "metrics.csv")
    weights = log.filter(like="drpo/weight/").dropna().iloc[-1]
    share = drawn / drawn.sum()
    assert abs(float((weights.to_numpy() * share.numpy()).sum()) - 1.0) < 1e-5  # mean 1
    assert (log.filter(like="drpo/clusters/").dropna().to_numpy() >= 1).all()


def test_fewshot_selects_on_kshot_validation_only(store, tmp_path):
    from climb.evaluate.metrics import youden_thresholds
    from climb.evaluate.run import evaluate_run, load_task_arrays

    cfg = base_config(store, tmp_path, run={"name": "fs"})
    metrics = train(
        cfg,
        "regime=fewshot",
        "fewshot.k=4",
        "fewshot.seed=2",
        "trainer.limit_train_batches=null",
        "trainer.limit_val_batches=null",
    )
    assert metrics["selection"] == "k-shot validation (k=4 per class, 8 samples)"
    record = json.loads((tmp_path / "fs" / "fewshot_indices.json").read_text())
    assert record["selection"] == metrics["selection"]
    val_ids = record["validation"]["sample_ids"]
    assert {c: len(v) for c, v in record["validation"]["per_class"].items()} == {
        "normal": 4,
        "abnormal": 4,
    }
    assert not set(val_ids) & set(record["sample_ids"])
    # the only validation predictions are the k-shot ones, so evaluate's Youden thresholds
    # come from them and nothing else
    val = pd.read_parquet(tmp_path / "fs" / "predictions" / "val.parquet")
    assert sorted(val["sample_id"]) == sorted(val_ids)
    document = evaluate_run(tmp_path / "fs", "test", n_resamples=20)
    task = document["tasks"]["demo_mitbih_beats.beat"]
    arrays = load_task_arrays(tmp_path / "fs", "val")["demo_mitbih_beats.beat"]
    assert task["thresholds"]["values"] == youden_thresholds(arrays.y, arrays.s, "binary")

    # a fixed schedule: no validation data at all, the last checkpoint
    fixed = train(
        cfg,
        "regime=fewshot",
        "run.name=fixed",
        "fewshot.k=4",
        "fewshot.selection=none",
        "trainer.limit_train_batches=null",
    )
    assert fixed["selection"].startswith("none (fewshot.selection=none)")
    assert fixed["checkpoint"] == "last.ckpt"
    assert not (tmp_path / "fixed" / "predictions" / "val.parquet").exists()
