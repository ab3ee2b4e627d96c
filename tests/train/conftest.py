"""Tiny prepared stores (bundled real demo data, via the store's `prepare`) and configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import real_data_dir

REPO = Path(__file__).resolve().parents[2]

# One CPU process, 32-bit, quiet: the trainer overrides the config-file training tests share.
CPU_TRAINER = [
    "trainer.accelerator=cpu",
    "trainer.devices=1",
    "trainer.precision=32-true",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "data.num_workers=0",
]
TINY_ECG = {"type": "xresnet1d", "in_channels": 2, "layers": [1], "widths": [8],
            "stem": [8, 8, 8], "expansion": 1, "dim": 16}
TINY_TAB = {"type": "mlp", "in_features": 3, "hidden": [16]}
TINY_EEG = {"type": "biot", "dim": 16, "depth": 1, "heads": 2, "n_fft": 32, "hop": 16}


def _prepare(name: str, raw: Path, out: Path, config: dict | None = None) -> None:
    from climb.store.prepare import prepare

    prepare(name, raw, out, progress=False, workers=1, config=config)


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Path:
    """MIT-BIH record 100 beats (ecg + RR tabular) and UCI EEG eye state (eeg)."""
    out = tmp_path_factory.mktemp("store")
    data = real_data_dir()
    _prepare("demo_mitbih_beats", data / "wfdb", out)
    _prepare("demo_eeg_eyes", data / "eeg-uea", out)
    return out


def base_config(store: Path, run_dir: Path, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "run": {"dir": str(run_dir)},
        "data": {"store": str(store), "datasets": ["demo_mitbih_beats"], "batch_size": 32},
        "model": {"encoders": {"ecg": dict(TINY_ECG)}},
        "trainer": {"max_epochs": 1, "limit_train_batches": 4, "limit_val_batches": 2,
                    "enable_progress_bar": False, "log_every_n_steps": 1},
    }
    for key, value in extra.items():
        cfg[key] = {**cfg.get(key, {}), **value} if isinstance(value, dict) else value
    return cfg


def train(cfg: dict[str, Any], *overrides: str) -> dict[str, Any]:
    from climb.train.config import load_config
    from climb.train.runner import run

    return run(load_config(None, list(overrides), base=cfg))


def prepare_with_cli(cli, name: str, raw: Path, store: Path, config: dict | None = None) -> None:
    """`climb prepare NAME` on one worker through the CLI, with optional --config pairs."""
    args = ["prepare", name, "--raw", str(raw), "--out", str(store), "--workers", "1"]
    for key, value in (config or {}).items():
        args += ["--config", f"{key}={value}"]
    result = cli(args)
    assert result.exit_code == 0, result.output


def train_and_evaluate(cli, config: str, store: Path, run_dir: Path, overrides: list[str],
                       batch_size: int = 4) -> tuple[dict[str, Any], Path, dict[str, Any]]:
    """configs/CONFIG shrunk to one short epoch, trained, then `climb evaluate` on its run:
    (training metrics, run folder, metrics.json)."""
    import json

    from climb.train.config import load_config
    from climb.train.runner import run

    cfg = load_config(REPO / "configs" / config, [
        f"data.store={store}", f"run.dir={run_dir}", f"data.batch_size={batch_size}",
        "trainer.max_epochs=1", "trainer.limit_train_batches=2",
        "trainer.enable_progress_bar=false", *overrides])
    metrics = run(cfg)
    run_path = run_dir / cfg["run"]["name"]
    result = cli(["evaluate", str(run_path), "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    return metrics, run_path, json.loads((run_path / "metrics.json").read_text())
