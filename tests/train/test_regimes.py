"""The regimes end to end on tiny prepared stores of bundled real data (MIT-BIH beats, EEG)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from climb.train.api import load_run, predict
from tests.train.conftest import TINY_ECG, TINY_EEG, TINY_TAB, base_config, train


def _state(path):
    return torch.load(str(path), map_location="cpu", weights_only=False)["state_dict"]


def test_single_task_run_directory_predictions_and_api(store, tmp_path):
    metrics = train(base_config(store, tmp_path, run={"name": "single"}))
    run = tmp_path / "single"
    for rel in ["config.yaml", "tasks.json", "checkpoints/last.ckpt", "checkpoints/best.ckpt",
                "predictions/val.parquet",
                "predictions/test.parquet", "metrics.json", "metrics.csv"]:
        assert (run / rel).exists(), rel
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert json.loads((run / "tasks.json").read_text()) == [{
        "key": "demo_mitbih_beats.beat", "dataset": "demo_mitbih_beats", "task": "beat",
        "type": "binary", "classes": ["normal", "abnormal"]}]
    assert metrics == json.loads((run / "metrics.json").read_text())
    assert metrics["global_step"] == 4

    table = pq.read_table(run / "predictions" / "test.parquet")
    assert table.schema.names == ["sample_id", "patient_id", "dataset", "task", "split",
                                  "label", "scores", "meta"]
    for col in ("label", "scores"):
        assert table.schema.field(col).type.value_type == pa.float32()
    df = table.to_pandas()
    assert (df["split"] == "test").all() and (df["task"] == "demo_mitbih_beats.beat").all()
    assert len(df) == metrics["tasks"]["demo_mitbih_beats.beat"]["test"]["n"] > 100
    scores = np.stack(df["scores"].to_numpy())
    np.testing.assert_allclose(scores.sum(1), 1.0, rtol=1e-5)  # softmax over the 2 classes
    assert set(np.concatenate(df["label"].to_numpy())) <= {0.0, 1.0}
    assert json.loads(df["meta"].iloc[0])["event"] in {"N", "A", "V"}  # whitelisted meta

    # load_run + predict reproduce the written predictions
    model, tasks, config = load_run(run)
    from climb.train.data import ClimbData

    data = ClimbData(config, tasks, ["ecg"])
    again = predict(model, data.predict_loader("test"), tasks)
    pd.testing.assert_series_equal(again["sample_id"], df["sample_id"])
    np.testing.assert_allclose(np.stack(again["scores"].to_numpy()), scores, rtol=1e-5,
                               atol=1e-6)


def test_resume_continues_and_matches_an_uninterrupted_run(store, tmp_path, caplog):
    """Seeded CPU runs are deterministic: 1 epoch + resume == 2 epochs straight."""
    cfg = base_config(store, tmp_path)
    straight = train(cfg, "run.name=straight", "trainer.max_epochs=2")
    train(cfg, "run.name=resumed", "trainer.max_epochs=1")
    with caplog.at_level(logging.INFO):
        resumed = train(cfg, "run.name=resumed", "trainer.max_epochs=2")
    assert "Restoring states from the checkpoint" in caplog.text
    assert resumed["global_step"] == straight["global_step"] == 8
    assert resumed["tasks"] == straight["tasks"]
    a = _state(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    b = _state(tmp_path / "resumed" / "checkpoints" / "last.ckpt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


@pytest.mark.parametrize("fusion", ["early", "late", "low_rank"])
def test_fusion_runs_on_ecg_and_rr_features(store, tmp_path, fusion):
    cfg = base_config(store, tmp_path, run={"name": fusion})
    cfg["model"] = {"encoders": {"ecg": dict(TINY_ECG), "tabular": dict(TINY_TAB)},
                    "fusion": {"type": fusion, **({} if fusion == "late" else {"dim": 16})}}
    metrics = train(cfg, "trainer.limit_train_batches=2", "loss.class_weights=balanced")
    test = metrics["tasks"]["demo_mitbih_beats.beat"]["test"]
    assert test["n"] > 100 and 0.0 <= test["auroc"] <= 1.0


def test_multitask_then_fewshot_and_probe(store, tmp_path):
    cfg = base_config(store, tmp_path, run={"name": "mt"})
    cfg["regime"] = "multitask"
    cfg["data"]["datasets"] = None  # every dataset of the store
    cfg["model"] = {"encoders": {"ecg": dict(TINY_ECG), "tabular": dict(TINY_TAB),
                                 "eeg": dict(TINY_EEG)},
                    "fusion": {"type": "cross_attention", "dim": 16, "heads": 2,
                               "query": "ecg"}}
    mt = train(cfg, "loss.drpo.mode=simple", "loss.drpo.beta=0", "data.mixture.temperature=4",
               "trainer.limit_train_batches=6")
    assert set(mt["tasks"]) == {"demo_mitbih_beats.beat", "demo_eeg_eyes.eyes"}
    test = pd.read_parquet(tmp_path / "mt" / "predictions" / "test.parquet")
    # each sample is predicted for its own dataset's task only
    assert (test["task"].str.split(".").str[0] == test["dataset"]).all()
    assert set(test["dataset"]) == {"demo_mitbih_beats", "demo_eeg_eyes"}
    log = pd.read_csv(tmp_path / "mt" / "metrics.csv")
    w = log[["drpo/weight/demo_eeg_eyes", "drpo/weight/demo_mitbih_beats"]].dropna().iloc[-1]
    # rarer in the drawn batches (temperature 4 still draws EEG less) -> higher weight
    assert w["drpo/weight/demo_eeg_eyes"] > w["drpo/weight/demo_mitbih_beats"]

    # few-shot transfer to the ECG task from the multitask checkpoint
    fs = train(cfg, "regime=fewshot", "run.name=fs", "data.datasets=[demo_mitbih_beats]",
               "fewshot.k=8", "fewshot.seed=3", f"init.checkpoint={tmp_path / 'mt'}")
    assert set(fs["tasks"]) == {"demo_mitbih_beats.beat"}
    chosen = json.loads((tmp_path / "fs" / "fewshot_indices.json").read_text())
    assert chosen["k"] == 8 and chosen["seed"] == 3
    assert {c: len(v) for c, v in chosen["per_class"].items()} == {"normal": 8, "abnormal": 8}
    train_rows = pq.read_table(store / "demo_mitbih_beats" / "train-00000.parquet",
                               columns=["sample_id", "label.beat"]).to_pydict()
    labels = dict(zip(train_rows["sample_id"], train_rows["label.beat"], strict=True))
    assert all(labels[s] == 1.0 for s in chosen["per_class"]["abnormal"])
    assert all(labels[s] == 0.0 for s in chosen["per_class"]["normal"])

    # linear probe on EEG: encoders and fusion frozen at the multitask weights
    train(cfg, "regime=probe", "run.name=probe", "data.datasets=[demo_eeg_eyes]",
          f"init.checkpoint={tmp_path / 'mt' / 'checkpoints' / 'last.ckpt'}",
          "optim.lr=0.05")
    src = _state(tmp_path / "mt" / "checkpoints" / "last.ckpt")
    dst = _state(tmp_path / "probe" / "checkpoints" / "last.ckpt")
    frozen = [k for k in dst if k.startswith(("model.encoders.", "model.fusion."))]
    assert frozen and all(torch.equal(src[k], dst[k]) for k in frozen)  # incl. BN stats
    head = "model.heads.demo_eeg_eyes__eyes.net.1.weight"
    assert not torch.equal(src[head], dst[head])  # the head trained

    # fine-tuning from the same checkpoint trains the encoders too
    train(cfg, "regime=finetune", "run.name=ft", "data.datasets=[demo_eeg_eyes]",
          f"init.checkpoint={tmp_path / 'mt'}", "trainer.limit_train_batches=1")
    ft = _state(tmp_path / "ft" / "checkpoints" / "last.ckpt")
    eeg = [k for k in ft if k.startswith("model.encoders.eeg.") and "weight" in k]
    assert any(not torch.equal(src[k], ft[k]) for k in eeg)
