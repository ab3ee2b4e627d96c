"""`climb evaluate RUN --robustness` with the real model, loader and store layers.

The run directory is what `climb train` leaves (config.yaml, tasks.json, a Lightning-style
checkpoint, predictions); the weights are freshly initialized rather than trained, which
keeps the test fast and changes nothing for the sweep machinery.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from tests.store import synthetic

ENCODER = {
    "type": "xresnet1d",
    "in_channels": 2,
    "layers": [1],
    "widths": [8],
    "stem": [8, 8, 8],
    "expansion": 1,
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> tuple[Path, Path]:
    from torch.utils.data import DataLoader

    from climb.load.collate import Collator
    from climb.load.dataset import StoreDataset
    from climb.load.tasks import load_task_specs
    from climb.models.model import MultimodalModel
    from climb.store.prepare import prepare
    from climb.train import api

    root = tmp_path_factory.mktemp("robust")
    overlay = synthetic.write_overlay(root / "overlay.yaml")
    store = root / "store"
    prepare(
        synthetic.NAME,
        synthetic.build(root / "raw", n=24, per_patient=2),
        store,
        catalog=overlay,
        workers=1,
        config={"split_ratios": "0.5,0.25,0.25"},
        progress=False,
    )
    tasks = load_task_specs(store)
    config = {
        "regime": "single",
        "seed": 0,
        "run": {"name": "robust"},
        "data": {
            "store": str(store),
            "datasets": None,
            "inputs": None,
            "batch_size": 8,
            "eval_batch_size": None,
        },
        "model": {
            "encoders": {"ecg": ENCODER},
            "fusion": {"type": "none"},
            "head": {"hidden": 8, "dropout": 0.0},
        },
    }
    torch.manual_seed(0)
    model = MultimodalModel(
        config["model"]["encoders"], tasks, config["model"]["fusion"], config["model"]["head"]
    ).eval()
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save(
        {"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}},
        run / "checkpoints" / "best.ckpt",
    )
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "tasks.json").write_text(
        json.dumps(
            [
                {
                    "key": t.key,
                    "dataset": t.dataset,
                    "task": t.task,
                    "type": t.type,
                    "classes": list(t.classes),
                }
                for t in tasks
            ]
        )
    )
    loader = DataLoader(
        StoreDataset(store, split="test"), batch_size=8, collate_fn=Collator(tasks, inputs=["ecg"])
    )
    api.write_predictions(api.predict(model, loader, tasks), run / "predictions" / "test.parquet")
    return run, store


def test_evaluate_robustness_end_to_end(run_dir, cli):
    run, store = run_dir
    result = cli(["evaluate", str(run), "--bootstrap", "20", "--robustness", "--store", str(store)])
    assert result.exit_code == 0, result.output
    doc = json.loads((run / "robustness.json").read_text())
    names = {s["corruption"] for s in doc["sweeps"]}
    assert names == {
        "white_noise",
        "baseline_wander",
        "powerline_50hz",
        "powerline_60hz",
        "lead_dropout",
    }
    for sweep in doc["sweeps"]:
        assert sweep["input"] == "ecg" and sweep["severities"] == [0, 1, 2, 3, 4, 5]
        assert set(sweep["metric"]) == {"synthetic_ecg.rhythm", "synthetic_ecg.beats"}
        assert all(len(v) == 6 for v in sweep["metric"].values())
    # the sampling rate of the stored signal (360 Hz) reaches the time-dependent corruptions
    wander = next(s for s in doc["sweeps"] if s["corruption"] == "baseline_wander")
    assert "fs 360 Hz" in wander["description"]
    # severity 0 is the clean metric, which is what metrics.json says for the same split
    metrics = json.loads((run / "metrics.json").read_text())
    clean = metrics["tasks"]["synthetic_ecg.beats"]["metrics"]["auroc_macro"]["value"]
    assert wander["metric"]["synthetic_ecg.beats"][0] == pytest.approx(clean)
    # with its only input masked the model cannot rank: constant scores -> AUROC 0.5
    drop = doc["modality_drop"]
    assert set(drop) == {"none", "drop:ecg"}
    assert drop["drop:ecg"]["synthetic_ecg.beats"] == pytest.approx(0.5)


def test_robustness_without_store_is_a_clear_error(run_dir, tmp_path, cli):
    import shutil

    from climb.errors import ClimbError

    run, _ = run_dir
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["data"]["store"] = str(tmp_path / "gone")
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ClimbError, match="needs the prepared store"):
        cli(["evaluate", str(copy), "--bootstrap", "0", "--robustness"])
