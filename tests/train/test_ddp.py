"""A 2-process DDP run on CPU (gloo) gives the metrics of the single-process run.

Designed so that it must hold: full-batch training (one global batch of all training rows,
split 607 + 607 over the ranks), no dropout, per-sample normalisation only (LayerNorm), and a
per-task mean loss: the all-reduced DDP gradient is then the single-process gradient.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.train.conftest import TINY_TAB, base_config, train

N_TRAIN = 1214  # demo_mitbih_beats train rows (first 16 minutes of record 100)


@pytest.mark.slow
def test_ddp_two_cpu_processes_match_single_process(store, tmp_path):
    cfg = base_config(store, tmp_path)
    cfg["model"] = {"encoders": {"tabular": dict(TINY_TAB)}}
    cfg["data"]["batch_size"] = N_TRAIN
    cfg["trainer"] = {"max_epochs": 6, "enable_progress_bar": False, "log_every_n_steps": 1}
    cfg["monitor"] = {"metric": "train/loss_epoch", "mode": "min"}
    cfg["optim"] = {"lr": 0.01}
    single = train(cfg, "run.name=single")

    path = tmp_path / "ddp.yaml"
    cfg["run"]["name"] = "ddp"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "climb.cli", "train", str(path), "trainer.devices=2",
           "trainer.strategy=ddp", "trainer.accelerator=cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stderr + proc.stdout
    assert "distributed_backend=gloo" in out and "Starting with 2 processes" in out
    ddp = json.loads((tmp_path / "ddp" / "metrics.json").read_text())

    assert ddp["global_step"] == single["global_step"] == 6
    assert ddp["best_score"] == pytest.approx(single["best_score"], rel=1e-5)
    for split in ("val", "test"):
        a = single["tasks"]["demo_mitbih_beats.beat"][split]
        b = ddp["tasks"]["demo_mitbih_beats.beat"][split]
        assert a["n"] == b["n"]
        assert b["auroc"] == pytest.approx(a["auroc"], abs=1e-6)
        assert b["accuracy"] == pytest.approx(a["accuracy"], abs=1e-6)
    assert single["tasks"]["demo_mitbih_beats.beat"]["test"]["auroc"] > 0.6  # it learned
