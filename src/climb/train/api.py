"""Programmatic access to a finished run: ``load_run`` and ``predict`` (used by evaluate)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from climb.errors import ClimbError
from climb.models.heads import scores_from_logits
from climb.models.model import MultimodalModel

PREDICTION_COLUMNS = ["sample_id", "patient_id", "dataset", "task", "split", "label", "scores",
                      "meta"]


def read_tasks(run_dir: str | Path) -> list:
    """The TaskSpecs of ``RUN/tasks.json``."""
    from climb.load.tasks import TaskSpec

    path = Path(run_dir) / "tasks.json"
    if not path.exists():
        raise ClimbError(f"{path}: not a training run (no tasks.json)")
    return [TaskSpec(t["key"], t["dataset"], t["task"], t["type"], list(t["classes"]))
            for t in json.loads(path.read_text())]


def load_state(model: torch.nn.Module, ckpt: str | Path) -> None:
    """Load the ``model.*`` weights of a Lightning checkpoint into ``model`` (strict)."""
    state = torch.load(str(ckpt), map_location="cpu", weights_only=False)["state_dict"]
    own = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    model.load_state_dict(own)


def load_run(run_dir: str | Path, checkpoint: str = "best") -> tuple[MultimodalModel, list,
                                                                      dict[str, Any]]:
    """``(model, tasks, config)`` of a run, with the ``best`` (else ``last``) weights, in
    eval mode on CPU."""
    run = Path(run_dir)
    cfg_path = run / "config.yaml"
    if not cfg_path.exists():
        raise ClimbError(f"{cfg_path}: not a training run (no config.yaml)")
    config = yaml.safe_load(cfg_path.read_text())
    tasks = read_tasks(run)
    model = MultimodalModel(config["model"]["encoders"], tasks, config["model"]["fusion"],
                            config["model"]["head"])
    ckpt = run / "checkpoints" / f"{checkpoint}.ckpt"
    if not ckpt.exists():
        ckpt = run / "checkpoints" / "last.ckpt"
    if not ckpt.exists():
        raise ClimbError(f"{run}/checkpoints: no best.ckpt or last.ckpt")
    load_state(model, ckpt)
    return model.eval(), tasks, config


def _move(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    inputs = {}
    for k, v in batch["inputs"].items():
        inputs[k] = v.to(device) if hasattr(v, "to") else v
    return {**batch, "inputs": inputs}


def _label_list(task, value: torch.Tensor) -> list[float]:
    if task.type == "multilabel":
        return [float(x) for x in value.tolist()]
    if task.type in {"multiclass", "binary"}:
        return [float(int(value))]
    return [float(value)]


@torch.no_grad()
def predict(model: MultimodalModel, dataloader: Iterable[dict[str, Any]], tasks: list,
            progress: bool = False) -> pd.DataFrame:
    """Run ``model`` over ``dataloader``; one row per (sample, task of the sample's dataset)
    in the predictions format of ``docs/interfaces.md``."""
    model.eval()
    device = model.device
    rows: list[dict[str, Any]] = []
    it = dataloader
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(dataloader, desc="predict", leave=False)
    for batch in it:
        logits = model(_move(batch, device))
        for task in tasks:
            scores = scores_from_logits(logits[task.key].float(), task.type).cpu().numpy()
            labels = batch["labels"].get(task.key)
            for i, sid in enumerate(batch["sample_id"]):
                if batch["dataset"][i] != task.dataset:
                    continue
                label = _label_list(task, labels[i]) if labels is not None else [np.nan]
                rows.append({
                    "sample_id": sid,
                    "patient_id": batch["patient_id"][i],
                    "dataset": batch["dataset"][i],
                    "task": task.key,
                    "split": batch["split"][i],
                    "label": np.asarray(label, dtype=np.float32),
                    "scores": scores[i].astype(np.float32).reshape(-1),
                    "meta": json.dumps(batch["meta"][i] or {}, sort_keys=True),
                })
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)


def write_predictions(df: pd.DataFrame, path: str | Path) -> None:
    """Write predictions as Parquet with ``label``/``scores`` as list<float32>."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("sample_id", pa.string()), ("patient_id", pa.string()), ("dataset", pa.string()),
        ("task", pa.string()), ("split", pa.string()), ("label", pa.list_(pa.float32())),
        ("scores", pa.list_(pa.float32())), ("meta", pa.string()),
    ])
    table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
