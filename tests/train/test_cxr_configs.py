"""configs/cxr_convnext.yaml and configs/multitask_cxr.yaml on stores that `climb prepare`
writes from the MIMIC-CXR-JPG and CheXpert fixtures (real pixels, the official layouts): a
ConvNeXt V2 built from a tiny transformers config (no download), two CPU training steps, then
`climb evaluate`. Each dataset's head covers the 14 shared findings (``cxr14``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from climb.cli import app
from climb.harmonize import load_vocabulary
from climb.train.config import load_config
from climb.train.runner import run
from tests.fixtures import chexpert, mimic_cxr
from tests.train.conftest import CPU_TRAINER

ROOT = Path(__file__).resolve().parents[2]
CXR14 = list(load_vocabulary("cxr14").classes)
TINY = (
    "model.encoders.image={pretrained: null, arch: convnextv2, config: {hidden_sizes: "
    "[8, 16], depths: [1, 1], image_size: 32}}"
)
CPU = [
    *CPU_TRAINER,
    "trainer.max_steps=2",
    "trainer.max_epochs=1",
    "optim.warmup_steps=1",
]


def _cli(args: list[str]):
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def cxr_store(tmp_path_factory) -> Path:
    """MIMIC-CXR and CheXpert fixtures prepared by `climb prepare` into one store (32 x 32)."""
    root = tmp_path_factory.mktemp("cxr")
    store = root / "store"
    for name, module in (("mimic_cxr", mimic_cxr), ("chexpert", chexpert)):
        raw = module.build(root / "raw")
        _cli(
            [
                "prepare",
                name,
                "--raw",
                str(raw),
                "--out",
                str(store),
                "--workers",
                "1",
                "--config",
                "size=32",
            ]
        )
    return store


def _heads(run_dir: Path) -> dict[str, int]:
    """{parameter name: output size} of each task head's last linear layer (last.ckpt)."""
    state = torch.load(
        run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )["state_dict"]
    heads: dict[str, int] = {}
    for key, value in state.items():
        if key.startswith("model.heads.") and key.endswith(".weight") and value.ndim == 2:
            heads[key.split(".")[2]] = value.shape[0]  # the last linear of a head wins
    return heads


def _evaluate(run_dir: Path, split: str) -> dict:
    _cli(["evaluate", str(run_dir), "--split", split, "--bootstrap", "20"])
    return json.loads((run_dir / "metrics.json").read_text())


def _tasks(run_dir: Path) -> dict[str, list[str]]:
    return {t["key"]: t["classes"] for t in json.loads((run_dir / "tasks.json").read_text())}


def test_cxr_convnext_trains_and_evaluates_on_prepared_mimic_cxr(cxr_store, tmp_path):
    path = ROOT / "configs" / "cxr_convnext.yaml"
    shipped = load_config(path, [])
    assert shipped["model"]["encoders"]["image"]["pretrained"] == (
        "facebook/convnextv2-base-22k-224"
    )
    cfg = load_config(
        path,
        [
            f"data.store={cxr_store}",
            f"run.dir={tmp_path}",
            "data.datasets=[mimic_cxr]",
            TINY,
            *CPU,
            "data.batch_size=4",
            "run.predict=[val, test]",
        ],
    )
    assert cfg["model"]["encoders"]["image"]["arch"] == "convnextv2"
    assert [next(iter(op)) for op in cfg["transforms"]["image"]] == [
        "random_resized_crop",
        "flip",
        "rotate",
        "brightness",
        "contrast",
    ]  # the shipped ones
    metrics = run(cfg)
    run_dir = tmp_path / "cxr_convnext"
    assert metrics["global_step"] == 2 and set(metrics["tasks"]) == {"mimic_cxr.findings"}
    assert _tasks(run_dir) == {"mimic_cxr.findings": CXR14}
    assert list(_heads(run_dir).values()) == [14]
    preds = pd.read_parquet(run_dir / "predictions" / "test.parquet")
    assert len(preds) == 2 and all(len(s) == 14 for s in preds["scores"])  # 2 test images

    evaluated = _evaluate(run_dir, "test")
    assert evaluated["split"] == "test" and set(evaluated["tasks"]) == {"mimic_cxr.findings"}
    task = evaluated["tasks"]["mimic_cxr.findings"]
    assert (task["n_samples"], task["n_patients"], task["type"]) == (2, 1, "multilabel")
    assert task["headline"] in task["metrics"] and len(task["per_class"]) == 14


def test_multitask_cxr_trains_both_datasets_in_the_shared_space(cxr_store, tmp_path):
    path = ROOT / "configs" / "multitask_cxr.yaml"
    cfg = load_config(
        path,
        [
            f"data.store={cxr_store}",
            f"run.dir={tmp_path}",
            TINY,
            *CPU,
            "data.batch_size=4",
            "loss.drpo.refit_every=1",
            "run.predict=[train, test]",
        ],
    )
    assert cfg["data"]["datasets"] == ["chexpert", "mimic_cxr"]
    metrics = run(cfg)
    run_dir = tmp_path / "multitask_cxr"
    keys = {"chexpert.findings", "mimic_cxr.findings"}
    assert metrics["regime"] == "multitask" and metrics["global_step"] == 2
    assert _tasks(run_dir) == dict.fromkeys(keys, CXR14)
    assert sorted(_heads(run_dir).values()) == [14, 14]
    preds = pd.read_parquet(run_dir / "predictions" / "train.parquet")
    assert set(preds["dataset"]) == {"chexpert", "mimic_cxr"}

    evaluated = _evaluate(run_dir, "test")
    assert set(evaluated["tasks"]) == keys
    for key in keys:
        with open(cxr_store / key.split(".")[0] / "splits.csv") as fh:
            n_test = sum(line.rstrip().endswith(",test") for line in fh)
        assert evaluated["tasks"][key]["n_samples"] == n_test > 0, key
