"""Training-time augmentation (``transforms:``): config schema, seeded and reproducible runs,
never applied at validation/prediction (the image configs: tests/train/test_cxr_configs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from climb.train.config import ConfigError, load_config
from tests.train.image_stores import IMAGE_SETS, TINY_IMAGE, build_image_store

AUGMENT = {
    "image": [
        {"random_resized_crop": {"scale": [0.6, 1.0]}},
        {"flip": {"p": 0.5}},
        {"rotate": {"degrees": 15}},
        {"brightness": {"delta": 0.2}},
        {"contrast": {"factor": [0.7, 1.3]}},
    ]
}


def _image_cfg(store: Path, run_dir: Path, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "run": {"dir": str(run_dir), "predict": []},
        "data": {"store": str(store), "datasets": [IMAGE_SETS[0]], "batch_size": 6},
        "model": {"encoders": {"image": dict(TINY_IMAGE)}},
        "optim": {"lr": 0.01},
        "monitor": {"metric": "train/loss_epoch", "mode": "min"},
        "trainer": {
            "max_epochs": 1,
            "max_steps": 3,
            "limit_val_batches": 0,
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
        "transforms": AUGMENT,
    }
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def image_store(tmp_path_factory) -> Path:
    return build_image_store(tmp_path_factory.mktemp("image_store"))


def _train(cfg: dict[str, Any], *overrides: str) -> dict[str, Any]:
    from climb.train.runner import run

    return run(load_config(None, list(overrides), base=cfg))


def _weights(run: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)[
        "state_dict"
    ]
    return {k: v for k, v in state.items() if k.startswith("model.")}


def _identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ config schema


def test_transforms_section_is_checked_like_config_keys(tmp_path):
    base = {"data": {"store": str(tmp_path)}, "model": {"encoders": {"image": TINY_IMAGE}}}
    cfg = load_config(None, [], base={**base, "transforms": AUGMENT})
    assert cfg["transforms"] == AUGMENT
    assert load_config(None, [], base=base)["transforms"] == {}
    bad = {
        "unknown operation 'flipp'": {"image": [{"flipp": {"p": 0.5}}]},
        "unknown parameter 'prob'": {"image": [{"flip": {"prob": 0.5}}]},
        "rotate.degrees must lie in": {"image": [{"rotate": {"degrees": 400}}]},
        "random_resized_crop.scale must be finite with low <= high": {
            "image": [{"random_resized_crop": {"scale": [1.0, 0.5]}}]
        },
        "flip.p must lie in": {"image": [{"flip": {"p": 2}}]},
        "transforms.ecg: not an input of the model": {"ecg": [{"time_shift": {}}]},
        "mixes image operations": {"image": [{"flip": {}}, {"time_shift": {}}]},
        "must be a list of operations": {"image": {"flip": {}}},
    }
    for message, spec in bad.items():
        with pytest.raises(ConfigError, match=message):
            load_config(None, [], base={**base, "transforms": spec})
    # dotted overrides reach the section, and transforms={} turns augmentation off
    cfg = load_config(None, ["transforms.image=[flip, {rotate: {degrees: 5}}]"], base=base)
    assert cfg["transforms"] == {"image": ["flip", {"rotate": {"degrees": 5}}]}
    assert (
        load_config(None, ["transforms={}"], base={**base, "transforms": AUGMENT})["transforms"]
        == {}
    )


# ------------------------------------------------------------------ seeded runs


def test_augmented_runs_are_reproducible_and_seeded(image_store, tmp_path):
    cfg = _image_cfg(image_store, tmp_path)
    runs = {}
    for name, overrides in {
        "a": [],
        "b": [],
        "seed1": ["seed=1"],
        "off": ["transforms={}"],
    }.items():
        _train(cfg, f"run.name={name}", *overrides)
        runs[name] = _weights(tmp_path / name)
    assert _identical(runs["a"], runs["b"])  # same seed: bit-identical parameters
    assert not _identical(runs["a"], runs["seed1"])
    assert not _identical(runs["a"], runs["off"])  # the augmentation reached the model


def test_resumed_augmented_run_matches_an_uninterrupted_one(image_store, tmp_path):
    """Draws are keyed by (seed, rank, epoch, batch): 1 epoch + resume == 2 epochs."""
    cfg = _image_cfg(image_store, tmp_path)
    cfg["trainer"] = {**cfg["trainer"], "max_steps": -1, "limit_train_batches": 2}
    _train(cfg, "run.name=straight", "trainer.max_epochs=2")
    _train(cfg, "run.name=resumed", "trainer.max_epochs=1")
    resumed = _train(cfg, "run.name=resumed", "trainer.max_epochs=2")
    assert resumed["global_step"] == 4
    assert _identical(_weights(tmp_path / "straight"), _weights(tmp_path / "resumed"))


def test_batch_draws_depend_on_seed_rank_epoch_and_step(image_store):
    from climb.load import Collator, StoreDataset
    from climb.load.transforms import BatchTransforms

    ds = StoreDataset(image_store, [IMAGE_SETS[0]], split="train", inputs=["image"])
    batch = Collator(inputs=["image"], keep_dtype=True)([ds[i] for i in range(4)])
    assert batch["inputs"]["image"].dtype == torch.uint8
    draws = [(0, (0, 0, 0)), (1, (0, 0, 0)), (0, (1, 0, 0)), (0, (0, 1, 0)), (0, (0, 0, 1))]
    values = [BatchTransforms(AUGMENT, seed)(batch, key)["inputs"]["image"] for seed, key in draws]
    again = BatchTransforms(AUGMENT, 0)(batch, (0, 0, 0))["inputs"]["image"]
    assert torch.equal(values[0], again)
    assert all(not torch.equal(values[0], v) for v in values[1:])
    assert all(v.dtype == torch.float32 and v.min() >= 0 and v.max() <= 1 for v in values)


# ------------------------------------------------------------------ never at evaluation


def test_transforms_never_touch_validation_or_predictions(image_store, tmp_path):
    from climb.load import Collator, StoreDataset, load_task_specs
    from climb.train.api import load_run, predict
    from climb.train.lightning_module import ClimbModule

    cfg = _image_cfg(
        image_store, tmp_path, run={"dir": str(tmp_path), "name": "aug", "predict": ["test"]}
    )
    _train(cfg)
    run = tmp_path / "aug"
    written = pd.read_parquet(run / "predictions" / "test.parquet")
    model, tasks, config = load_run(run, "last")
    assert config["transforms"] == AUGMENT
    # `climb evaluate` (and its robustness path) predicts through load_run + predict
    ds = StoreDataset(image_store, [IMAGE_SETS[0]], split="test", inputs=["image"])
    loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=Collator(tasks))
    again = predict(model, loader, tasks)
    assert len(written) == len(ds) > 0
    for a, b in zip(written["scores"], again["scores"], strict=True):
        assert (a == b).all()

    # the LightningModule with transforms on and off: identical validation losses for the
    # same weights, while its training batches are augmented
    full = load_config(None, [], base=cfg)
    specs = load_task_specs(image_store, [IMAGE_SETS[0]])
    on = ClimbModule(model, specs, full)
    off = ClimbModule(model, specs, {**full, "transforms": {}})
    assert on.transforms and not off.transforms
    batch = next(iter(loader))
    on.log = off.log = lambda *a, **k: None  # no trainer attached
    with torch.no_grad():
        model.eval()
        assert torch.equal(on.validation_step(batch, 0), off.validation_step(batch, 0))
        augmented = on.augment(batch, 0)["inputs"]["image"]
    assert not torch.equal(augmented, batch["inputs"]["image"])
    assert torch.equal(off.augment(batch, 0)["inputs"]["image"], batch["inputs"]["image"])


# ------------------------------------------------------------------ image configs
# configs/cxr_convnext.yaml and configs/multitask_cxr.yaml train on stores prepared from the
# MIMIC-CXR and CheXpert fixtures: tests/train/test_cxr_configs.py.
