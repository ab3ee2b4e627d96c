"""Per-token (TAPE ss3) and per-node (PPI GO labels) tasks: fixtures -> `climb prepare` ->
configs/tape_ss3.yaml and configs/ppi_nodes.yaml (shrunk) train 2 steps -> `climb evaluate`;
plus the per-position loss masking and the metrics against hand-countable cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from climb.evaluate.metrics import position_counts, position_metrics
from climb.models.losses import masked_position_loss
from tests.fixtures import ppi, tape_secondary_structure
from tests.train.conftest import prepare_with_cli, train_and_evaluate


def test_tape_ss3_per_token(cli, tmp_path):
    store = tmp_path / "store"
    prepare_with_cli(cli, "tape_secondary_structure",
             tape_secondary_structure.build(tmp_path / "raw"), store,
             tape_secondary_structure.CONFIG)
    tasks = json.loads((store / "tape_secondary_structure" / "manifest.json").read_text())["tasks"]
    assert {t["name"]: t.get("level") for t in tasks} == {"ss3": "token", "ss8": "token"}
    train, run, out = train_and_evaluate(
        cli, "tape_ss3.yaml", store, tmp_path / "runs",
        ["model.encoders.sequence.channels=[8]", "model.encoders.sequence.embed_dim=8"])
    assert train["global_step"] == 2
    # predictions: one row per protein; its residues' labels and 3 softmax scores each
    pred = pd.read_parquet(run / "predictions" / "test.parquet")
    chains = {f"{name}_{i:05d}": c for name in ("casp12", "ts115", "cb513")
              for i, c in enumerate(tape_secondary_structure.chains(name))}
    assert sorted(pred["sample_id"]) == sorted(chains)
    for _, row in pred.iterrows():
        chain = chains[row["sample_id"]]
        np.testing.assert_array_equal(row["label"], chain["ss3"].astype(np.float32))
        scores = np.asarray(row["scores"]).reshape(len(chain["primary"]), 3)
        np.testing.assert_allclose(scores.sum(1), 1.0, rtol=1e-5)
    task = out["tasks"]["tape_secondary_structure.ss3"]
    assert task["headline"] == "accuracy" and task["n_samples"] == 7
    assert task["bootstrap"]["unit"] == "patient"  # no patient ids: each protein its own unit
    # the Q3 accuracy equals the residue-level count over the predictions file
    y = np.concatenate([np.asarray(r, int) for r in pred["label"]])
    s = np.concatenate([np.asarray(r).reshape(-1, 3).argmax(1) for r in pred["scores"]])
    assert task["metrics"]["accuracy"]["value"] == pytest.approx((y == s).mean())
    lo, hi = task["metrics"]["accuracy"]["ci"]
    assert lo <= task["metrics"]["accuracy"]["value"] <= hi
    assert set(task["per_class"]) == {"H", "E", "C"}


def test_ppi_per_node(cli, tmp_path):
    store = tmp_path / "store"
    prepare_with_cli(cli, "ppi", ppi.build(tmp_path / "raw"), store)
    train, run, out = train_and_evaluate(
        cli, "ppi_nodes.yaml", store, tmp_path / "runs",
        ["model.encoders.graph.in_channels=8", "model.encoders.graph.hidden=16",
         "model.encoders.graph.layers=1"], batch_size=1)
    assert train["global_step"] == 1  # one training record (the train graphs' union)
    pred = pd.read_parquet(run / "predictions" / "test.parquet")
    assert list(pred["sample_id"]) == ["ppi_test"]
    row = pred.iloc[0]
    assert len(row["label"]) == len(row["scores"]) == 30 * 121  # 30 proteins x 121 GO sets
    task = out["tasks"]["ppi.go_function"]
    assert task["headline"] == "micro_f1"
    y = np.asarray(row["label"]).reshape(30, 121)
    s = np.asarray(row["scores"]).reshape(30, 121) >= 0.5
    tp, fp, fn = (s & (y == 1)).sum(), (s & (y == 0)).sum(), (~s & (y == 1)).sum()
    assert task["metrics"]["micro_f1"]["value"] == pytest.approx(2 * tp / (2 * tp + fp + fn))


def test_position_loss_masks_padding_and_unknown():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 3, requires_grad=True)
    labels = torch.tensor([[0, 2, 1, -1, -1], [1, 1, 1, 1, 0]])
    per, w = masked_position_loss(logits, labels, "multiclass")
    assert w.tolist() == [3, 5]
    want0 = torch.nn.functional.cross_entropy(logits[0, :3], labels[0, :3])
    assert per[0].item() == pytest.approx(want0.item(), rel=1e-6)
    per.sum().backward()
    assert logits.grad[0, 3:].abs().sum() == 0  # padding gets no gradient
    node_logits = torch.randn(4, 2, requires_grad=True)
    y = torch.tensor([[1.0, float("nan")], [0.0, 1.0], [float("nan")] * 2, [1.0, 0.0]])
    per, w = masked_position_loss(node_logits, y, "multilabel", torch.tensor([0, 0, 1, 1]), 2)
    assert w.tolist() == [2, 1]  # graph 1's first node has no known label
    per.sum().backward()
    assert node_logits.grad[2].abs().sum() == 0 and node_logits.grad[0, 1] == 0


def test_position_metrics_by_hand():
    # tokens: labels [0, 1, 2, -1], predictions [0, 2, 2, x]: 2 of 3 right
    scores = np.eye(3)[[0, 2, 2, 1]].reshape(-1)
    counts = position_counts("token_multiclass", np.array([0, 1, 2, -1]), scores, 3)
    summary, per_class = position_metrics("token_multiclass", counts[None], np.ones((1, 1)))
    assert summary["accuracy"][0] == pytest.approx(2 / 3)
    np.testing.assert_allclose(per_class["f1"][0], [1.0, 0.0, 2 / 3])
    assert summary["macro_f1"][0] == pytest.approx((1 + 0 + 2 / 3) / 3)
    # nodes: tp 1, fp 1, fn 1 -> micro F1 0.5
    y = np.array([[1, 0], [1, np.nan]]).reshape(-1)
    s = np.array([[0.9, 0.8], [0.1, 0.9]]).reshape(-1)
    counts = position_counts("node_multilabel", y, s, 2)
    summary, _ = position_metrics("node_multilabel", counts[None], np.ones((1, 1)))
    assert summary["micro_f1"][0] == pytest.approx(0.5)
