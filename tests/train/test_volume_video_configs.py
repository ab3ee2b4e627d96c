"""configs/ct_volume_slices.yaml, echo_video_frames.yaml and video_videomae.yaml train (with
their augmentation) and evaluate on tiny stores written through ``prepare``: CT series from
pydicom's CT_small.dcm (zstd_shuffle volumes) and the EchoNet-Dynamic fixture (zstd
clips), with tiny encoders in place of the pretrained ones (no download)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from climb.train.config import load_config
from tests.store.volume_stores import CT_NAME, prepare_ct, prepare_echo
from tests.train.conftest import CPU_TRAINER

ROOT = Path(__file__).resolve().parents[2]
CPU = [
    *CPU_TRAINER,
    "trainer.max_epochs=1",
    "trainer.max_steps=2",
    "optim.warmup_steps=1",
    "data.batch_size=2",
    "run.predict=[test]",
]
TINY_2D = (
    "{pretrained: null, arch: convnextv2, normalize: none, config: {num_channels: 3, "
    "hidden_sizes: [8, 16], depths: [1, 1], image_size: 32}}"
)
ECHO_TASKS = {"echonet_dynamic.ejection_fraction", "echonet_dynamic.reduced_ef"}


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("volume_video")
    store = root / "store"
    prepare_ct(root, store)
    prepare_echo(root, store, {"frames": 4, "size": 32})
    return store


def _train(path: Path, *overrides: str) -> dict[str, Any]:
    from climb.train.runner import run

    return run(load_config(path, list(overrides)))


def test_ct_volume_slices_config_trains_and_evaluates(stores, tmp_path):
    path = ROOT / "configs" / "ct_volume_slices.yaml"
    cfg = load_config(path, [])
    volume = cfg["model"]["encoders"]["volume"]
    assert volume["type"] == "volume_slices" and volume["window"] == [40, 400]
    assert volume["image"]["pretrained"] == "facebook/convnextv2-tiny-22k-224"
    assert [next(iter(op)) for op in cfg["transforms"]["volume"]] == [
        "flip3d",
        "affine3d",
        "intensity_shift",
        "intensity_scale",
    ]
    metrics = _train(
        path,
        f"data.store={stores}",
        f"run.dir={tmp_path}",
        f"data.datasets=[{CT_NAME}]",
        f"data.tasks=[{CT_NAME}.label]",
        f"model.encoders.volume.image={TINY_2D}",
        "model.encoders.volume.max_slices=3",
        *CPU,
    )
    assert metrics["global_step"] == 2 and set(metrics["tasks"]) == {f"{CT_NAME}.label"}
    preds = pd.read_parquet(tmp_path / "ct_volume_slices" / "predictions" / "test.parquet")
    assert len(preds) > 0 and all(len(s) == 2 for s in preds["scores"])


def test_echo_video_frames_config_trains_and_evaluates(stores, tmp_path):
    path = ROOT / "configs" / "echo_video_frames.yaml"
    cfg = load_config(path, [])
    assert cfg["model"]["encoders"]["video"]["type"] == "video_frames"
    assert next(iter(cfg["transforms"]["video"][0])) == "temporal_crop"
    metrics = _train(
        path,
        f"data.store={stores}",
        f"run.dir={tmp_path}",
        f"model.encoders.video.image={TINY_2D}",
        *CPU,
    )
    assert metrics["global_step"] == 2 and set(metrics["tasks"]) == ECHO_TASKS
    preds = pd.read_parquet(tmp_path / "echo_video_frames" / "predictions" / "test.parquet")
    assert len(preds) > 0


def test_videomae_config_trains_with_a_tiny_model(stores, tmp_path):
    path = ROOT / "configs" / "video_videomae.yaml"
    cfg = load_config(path, [])
    video = cfg["model"]["encoders"]["video"]
    assert video == {"type": "videomae", "pretrained": "MCG-NJU/videomae-base-finetuned-kinetics"}
    tiny = (
        "model.encoders.video={type: videomae, pretrained: null, config: {num_frames: 4, "
        "image_size: 32, patch_size: 16, tubelet_size: 2, hidden_size: 32, "
        "num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64}}"
    )
    metrics = _train(path, f"data.store={stores}", f"run.dir={tmp_path}", tiny, *CPU)
    assert metrics["global_step"] == 2 and set(metrics["tasks"]) == ECHO_TASKS
    preds = pd.read_parquet(tmp_path / "video_videomae" / "predictions" / "test.parquet")
    assert len(preds) > 0
