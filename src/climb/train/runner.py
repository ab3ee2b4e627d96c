"""Run one training: config -> run directory with checkpoints, predictions and metrics.

``run(cfg)`` resolves the tasks and samples of the regime, builds the model, and hands the
loop to a Lightning ``Trainer`` (so ``trainer.devices=2 trainer.strategy=ddp``, ``bf16-mixed``
precision or a SLURM/torchrun launch need no other change). It resumes from
``RUN/checkpoints/last.ckpt`` when present. After fitting, global rank 0 reloads the best
checkpoint and writes ``RUN/predictions/{split}.parquet`` and ``RUN/metrics.json``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from climb.errors import ClimbError
from climb.load import load_task_specs
from climb.models.model import MultimodalModel
from climb.train import regimes
from climb.train.api import load_state, predict, write_predictions
from climb.train.config import dump_config
from climb.train.data import ClimbData, split_labels
from climb.train.lightning_module import ClimbModule, drpo_mode
from climb.train.metrics import task_metrics

log = logging.getLogger(__name__)


def run_dir(cfg: dict[str, Any]) -> Path:
    """``run.dir / run.name`` (name defaults to the regime)."""
    return Path(cfg["run"]["dir"]) / (cfg["run"]["name"] or cfg["regime"])


def _trainer(cfg: dict[str, Any], run: Path, monitor: str, has_val: bool) -> L.Trainer:
    t = dict(cfg["trainer"])
    ckpt = ModelCheckpoint(dirpath=run / "checkpoints", filename="best", monitor=monitor,
                           mode=cfg["monitor"]["mode"], save_last=True, save_top_k=1,
                           enable_version_counter=False, auto_insert_metric_name=False)
    _keep_csv_parts(run / "csv")
    loggers = [CSVLogger(save_dir=str(run / "csv"), name="", version=""),
               TensorBoardLogger(save_dir=str(run), name="tb", version="",
                                 default_hp_metric=False)]
    limits = {k: t.pop(k) for k in ("limit_train_batches", "limit_val_batches")}
    limits = {k: v for k, v in limits.items() if v is not None}
    if not has_val:
        limits["limit_val_batches"] = 0
    return L.Trainer(
        default_root_dir=str(run),
        callbacks=[ckpt],
        logger=loggers,
        use_distributed_sampler=False,  # ClimbData builds rank-aware samplers itself
        num_sanity_val_steps=0,
        **t,
        **limits,
    )


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Train according to ``cfg`` (see :mod:`climb.train.config`); returns metrics.json."""
    seed = int(cfg["seed"])
    L.seed_everything(seed, workers=True, verbose=False)
    if cfg["trainer"]["deterministic"]:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    run = run_dir(cfg)
    d = cfg["data"]
    inputs = d["inputs"] or sorted(cfg["model"]["encoders"])
    all_tasks = load_task_specs(d["store"], d["datasets"])
    tasks = regimes.select_tasks(all_tasks, d["tasks"], cfg["regime"])

    index = ClimbData(cfg, tasks, inputs)  # datasets of every split (index only, cheap)
    labels = None
    train_indices = val_indices = None
    drpo_on = drpo_mode(cfg["loss"]["drpo"]) != "off"
    if cfg["regime"] == "fewshot" or cfg["loss"]["class_weights"] == "balanced" or drpo_on:
        labels = split_labels(index.datasets["train"])
    fewshot = None
    selection = None
    if cfg["regime"] == "fewshot":
        task, k, fs_seed = regimes.fewshot_config(cfg, tasks)
        tasks = [task]
        chosen, per_class = regimes.fewshot_indices(labels.task_array(task), task.type, k,
                                                    fs_seed, list(task.classes))
        if not chosen:
            raise ClimbError(f"few-shot: no labelled training sample for {task.key}")
        train_indices = chosen
        validation = regimes.fewshot_validation(index.datasets["val"], task, k, fs_seed,
                                                cfg["fewshot"]["selection"])
        val_indices = validation["indices"]
        selection = validation["selection"]
        fewshot = (task, k, fs_seed, chosen, per_class, validation)
    data = ClimbData(cfg, tasks, inputs, train_indices, val_indices)

    model = MultimodalModel(cfg["model"]["encoders"], tasks, cfg["model"]["fusion"],
                            cfg["model"]["head"])
    if cfg["init"]["checkpoint"]:
        loaded = regimes.init_from_checkpoint(model, cfg["init"]["checkpoint"])
        log.info("initialised %d tensors from %s", len(loaded), cfg["init"]["checkpoint"])
    freeze = cfg["init"]["freeze"] or regimes.FREEZE_DEFAULT.get(cfg["regime"])
    frozen = regimes.freeze(model, freeze)

    cw = regimes.class_weights(tasks, labels, train_indices) if (
        cfg["loss"]["class_weights"] == "balanced") else None
    domains = None
    if drpo_on:
        domains = _domains(labels, cfg["loss"]["drpo"]["domain"], train_indices)
    module = ClimbModule(model, tasks, cfg, class_weights=cw, domains=domains)
    module.frozen = frozen

    has_val = len(data.datasets["val"]) > 0
    monitor = cfg["monitor"]["metric"] if has_val else "train/loss_epoch"
    if not has_val and cfg["monitor"]["metric"].startswith("val/"):
        cfg["monitor"]["mode"] = "min"
    trainer = _trainer(cfg, run, monitor, has_val)
    if trainer.is_global_zero:
        run.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, run / "config.yaml")
        (run / "tasks.json").write_text(json.dumps([t.to_dict() for t in tasks], indent=2))
        if fewshot:
            task, k, fs_seed, chosen, per_class, validation = fewshot
            regimes.save_fewshot(run / "fewshot_indices.json", task, k, fs_seed, chosen,
                                 per_class, labels.sample_id, validation)
    last = run / "checkpoints" / "last.ckpt"
    resume = str(last) if cfg["run"]["resume"] and last.exists() else None
    trainer.fit(module, datamodule=data, ckpt_path=resume)

    if not trainer.is_global_zero:
        return {}
    return finish(cfg, run, model, tasks, data, trainer, monitor, selection)


def finish(cfg, run: Path, model: MultimodalModel, tasks: list, data: ClimbData,
           trainer: L.Trainer, monitor: str, selection: str | None = None) -> dict[str, Any]:
    """Reload the best weights, predict every split, write predictions and metrics.json.

    ``selection`` (few-shot) says what chose the checkpoint and the thresholds; with
    ``fewshot.selection=none`` the last checkpoint is used."""
    _merge_csv(run)
    best = run / "checkpoints" / "best.ckpt"
    ckpt = best if best.exists() else run / "checkpoints" / "last.ckpt"
    if cfg["regime"] == "fewshot" and cfg["fewshot"]["selection"] == "none":
        ckpt = run / "checkpoints" / "last.ckpt"
        monitor = "none (fixed schedule)"
    model = model.cpu()
    load_state(model, ckpt)
    metrics: dict[str, Any] = {
        "regime": cfg["regime"], "seed": cfg["seed"], "checkpoint": ckpt.name,
        "monitor": monitor, "epochs": trainer.current_epoch, "global_step": trainer.global_step,
        "tasks": {},
    }
    if selection:
        metrics["selection"] = selection
    score = trainer.checkpoint_callback.best_model_score if trainer.checkpoint_callback else None
    metrics["best_score"] = float(score) if score is not None else None
    for split in cfg["run"]["predict"] or []:
        if split not in data.datasets:
            raise ClimbError(f"run.predict: unknown split {split!r} (train, val, test)")
        loader = data.predict_loader(split)
        if loader is None:
            continue
        df = predict(model, loader, tasks, progress=cfg["trainer"]["enable_progress_bar"])
        write_predictions(df, run / "predictions" / f"{split}.parquet")
        for task in tasks:
            metrics["tasks"].setdefault(task.key, {})[split] = task_metrics(df, task)
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _keep_csv_parts(folder: Path) -> None:
    """Lightning's CSV logger deletes an existing metrics.csv: keep it as a numbered part."""
    current = folder / "metrics.csv"
    if current.exists():
        n = len(list(folder.glob("part-*.csv")))
        current.rename(folder / f"part-{n:03d}.csv")


def _merge_csv(run: Path) -> None:
    """RUN/metrics.csv = the per-epoch logs of every (resumed) segment of the run."""
    import pandas as pd

    folder = run / "csv"
    parts = [*sorted(folder.glob("part-*.csv")), folder / "metrics.csv"]
    frames = [pd.read_csv(p) for p in parts if p.exists() and p.stat().st_size]
    if frames:
        pd.concat(frames, ignore_index=True).to_csv(run / "metrics.csv", index=False)


def _domains(labels, key: str, indices: list[int] | None) -> list[str]:
    """The DRPO domains of the training samples (their dataset, or a meta field)."""
    rows = range(len(labels.sample_id)) if indices is None else indices
    if key == "dataset":
        return sorted({labels.dataset[i] for i in rows})
    return sorted({str(json.loads(labels.meta[i] or "{}").get(key) or "unknown")
                   for i in rows})


def train_from_config(path: str | Path | None, overrides: list[str] | None = None,
                      base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load a YAML config with overrides and run it."""
    from climb.train.config import load_config

    torch.set_num_threads(max(1, torch.get_num_threads()))
    return run(load_config(path, overrides, base))
