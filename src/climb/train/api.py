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
from climb.models.heads import position_type, scores_from_logits
from climb.models.model import MultimodalModel

PREDICTION_COLUMNS = ["sample_id", "patient_id", "dataset", "task", "split", "label", "scores",
                      "meta"]


def read_tasks(run_dir: str | Path) -> list:
    """The TaskSpecs of ``RUN/tasks.json``."""
    from climb.load.tasks import TaskSpec

    path = Path(run_dir) / "tasks.json"
    if not path.exists():
        raise ClimbError(f"{path}: not a training run (no tasks.json)")
    return [TaskSpec(t["key"], t["dataset"], t["task"], t["type"], list(t["classes"]),
                     t.get("level", "sample"))
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
        batch = _move(batch, device)
        logits = model(batch)
        for task in tasks:
            if position_type(task) is not None:
                rows += _position_rows(model, batch, task, logits[task.key])
                continue
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


def _position_rows(model: MultimodalModel, batch: dict[str, Any], task,
                   logits: torch.Tensor) -> list[dict[str, Any]]:
    """One prediction row per sample of a per-token / per-node task: ``label`` = the sample's
    position labels flattened (tokens: ``[L]`` class ids of its real tokens, -1 missing;
    nodes: ``[N * C]``, NaN unknown), ``scores`` = its positions' scores flattened
    (``[L * C]`` softmax / ``[N * C]`` sigmoid)."""
    kind = position_type(task)
    scores = scores_from_logits(logits.float(), kind).cpu()
    labels = batch["labels"].get(task.key)
    rows = []
    if kind == "multiclass":
        from climb.models.encoders.sequence import token_ids

        ids = token_ids(batch["inputs"][model.position_input]).flatten(1)
        lengths = (ids != 0).sum(1).cpu().tolist()
    else:
        owner = batch["inputs"][model.position_input].batch.cpu()
    for i, sid in enumerate(batch["sample_id"]):
        if batch["dataset"][i] != task.dataset:
            continue
        if kind == "multiclass":
            n = int(lengths[i])
            s = scores[i, :n]
            y = torch.full((n,), -1.0)
            if labels is not None:
                known = labels[i, :n].float().cpu()
                y[: known.shape[0]] = known
        else:
            mine = owner == i
            s = scores[mine]
            y = (labels.cpu()[mine].float() if labels is not None
                 else torch.full(s.shape, float("nan")))
        rows.append({
            "sample_id": sid, "patient_id": batch["patient_id"][i],
            "dataset": batch["dataset"][i], "task": task.key, "split": batch["split"][i],
            "label": y.numpy().astype(np.float32).reshape(-1),
            "scores": s.numpy().astype(np.float32).reshape(-1),
            "meta": json.dumps(batch["meta"][i] or {}, sort_keys=True),
        })
    return rows


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
