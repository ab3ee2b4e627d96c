"""What differs between regimes: which tasks and samples train, and where weights start.

- ``single``: the tasks of one dataset (or ``data.tasks``), shuffled batches.
- ``multitask``: every task of several datasets, batches drawn by the mixture sampler.
- ``fewshot``: k examples per class of one task (multilabel-aware), indices saved and
  reproducible from the seed; optionally starting from a pretrained checkpoint.
- ``probe``: heads only, on frozen encoders (+ fusion) loaded from a checkpoint.
- ``finetune``: everything trains, starting from a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from climb.errors import ClimbError
from climb.models.losses import balanced_class_weights
from climb.models.model import MultimodalModel

FREEZE_DEFAULT = {"probe": "encoders+fusion", "finetune": None, "fewshot": None}


def select_tasks(all_tasks: list, wanted: list[str] | None, regime: str) -> list:
    """The tasks to train: ``data.tasks`` (validated) or all; few-shot trains one task."""
    by_key = {t.key: t for t in all_tasks}
    if wanted:
        missing = [k for k in wanted if k not in by_key]
        if missing:
            raise ClimbError(f"data.tasks {missing} not in the store (have {sorted(by_key)})")
        tasks = [by_key[k] for k in wanted]
    else:
        tasks = list(all_tasks)
    if not tasks:
        raise ClimbError("no tasks to train")
    return tasks


def fewshot_indices(labels: np.ndarray, task_type: str, k: int, seed: int,
                    classes: list[str]) -> tuple[list[int], dict[str, list[int]]]:
    """Choose ``k`` training examples per class, deterministically from ``seed``.

    Multiclass/binary: ``k`` random samples of every class (all of them when fewer).
    Multilabel: classes are visited from rarest to most common; samples (in a seeded random
    order) positive for the current class are added until it has ``k`` positives, counting
    the positives every chosen sample brings to the other classes too. Returns the sorted
    chosen indices and, per class, the chosen indices positive for (or labelled as) it.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    rng = np.random.default_rng(seed)
    n = len(labels)
    order = rng.permutation(n)
    if task_type in {"multiclass", "binary"}:
        chosen: list[int] = []
        per: dict[str, list[int]] = {}
        for c, name in enumerate(classes):
            members = [int(i) for i in order if labels[i] == c][:k]
            per[name] = sorted(members)
            chosen += members
        return sorted(chosen), per
    if task_type != "multilabel":
        raise ClimbError(f"few-shot needs a classification task, not {task_type!r}")
    pos = np.nan_to_num(labels, nan=0.0) > 0.5
    counts = np.zeros(pos.shape[1], dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    for c in np.argsort(pos.sum(0), kind="stable"):
        for i in order:
            if counts[c] >= k:
                break
            if not taken[i] and pos[i, c]:
                taken[i] = True
                counts += pos[i]
    chosen = sorted(int(i) for i in np.nonzero(taken)[0])
    per = {name: [i for i in chosen if pos[i, c]] for c, name in enumerate(classes)}
    return chosen, per


def fewshot_validation(val_dataset, task, k: int, seed: int, selection: str) -> dict[str, Any]:
    """The validation data a k-shot run may use to pick its checkpoint and thresholds.

    ``kshot_val``: k per class drawn from the validation split by :func:`fewshot_indices`
    with the training shots' seed (a k-shot user has no more labelled validation data than
    training data); ``none``: no validation (last checkpoint, fixed 0.5 thresholds). Returns
    ``{selection, indices, sample_ids, per_class}``; ``indices`` index the validation split
    (``[]`` = no validation).
    """
    from climb.train.data import split_labels

    if selection == "none" or len(val_dataset) == 0:
        why = "fewshot.selection=none" if selection == "none" else "no validation split"
        return {"selection": f"none ({why}): last checkpoint, fixed 0.5 thresholds",
                "indices": [], "sample_ids": [], "per_class": {}}
    labels = split_labels(val_dataset)
    chosen, per_class = fewshot_indices(labels.task_array(task), task.type, k, seed,
                                        list(task.classes))
    if not chosen:
        return {"selection": f"none (no labelled validation sample of {task.key}): last "
                             "checkpoint, fixed 0.5 thresholds",
                "indices": [], "sample_ids": [], "per_class": {}}
    return {
        "selection": f"k-shot validation (k={k} per class, {len(chosen)} samples)",
        "indices": chosen,
        "sample_ids": [labels.sample_id[i] for i in chosen],
        "per_class": {c: [labels.sample_id[i] for i in idx] for c, idx in per_class.items()},
    }


def save_fewshot(path: str | Path, task, k: int, seed: int, chosen: list[int],
                 per_class: dict[str, list[int]], sample_ids: list[str],
                 validation: dict[str, Any] | None = None) -> None:
    """Write ``RUN/fewshot_indices.json``: sample ids per class, indices, k and seed, and
    the validation samples used for selection (``validation``, with its ``selection``)."""
    record: dict[str, Any] = {
        "task": task.key, "k": k, "seed": seed,
        "indices": chosen,
        "sample_ids": [sample_ids[i] for i in chosen],
        "per_class": {c: [sample_ids[i] for i in idx] for c, idx in per_class.items()},
    }
    if validation is not None:
        record["selection"] = validation["selection"]
        record["validation"] = {key: validation[key]
                                for key in ("indices", "sample_ids", "per_class")}
    Path(path).write_text(json.dumps(record, indent=2) + "\n")


def class_weights(tasks: list, labels, train_indices: list[int] | None) -> dict[str,
                                                                                  torch.Tensor]:
    """Balanced class weights per classification task from the training labels."""
    out: dict[str, torch.Tensor] = {}
    for task in tasks:
        if getattr(task, "per_position", False):  # labels per token / node: not weighted
            continue
        y = labels.task_array(task)
        if train_indices is not None:
            y = y[train_indices]
        if task.type == "multilabel":
            known = ~np.isnan(y)
            pos = ((y > 0.5) & known).sum(0)
            neg = ((y <= 0.5) & known).sum(0)
            out[task.key] = balanced_class_weights(torch.tensor(np.stack([pos, neg])),
                                                   "multilabel")
        elif task.type in {"multiclass", "binary"}:
            counts = np.bincount(y[y >= 0], minlength=max(len(task.classes), 2))
            out[task.key] = balanced_class_weights(torch.tensor(counts), task.type)
    return out


def init_from_checkpoint(model: MultimodalModel, ckpt: str | Path) -> list[str]:
    """Copy every weight of ``ckpt`` whose name and shape match into ``model`` (encoders,
    fusion, and heads of tasks that exist in both); returns the names loaded."""
    path = Path(ckpt)
    if path.is_dir():  # a run directory
        for name in ("best.ckpt", "last.ckpt"):
            if (path / "checkpoints" / name).exists():
                path = path / "checkpoints" / name
                break
    if not path.is_file():
        raise ClimbError(f"{ckpt}: checkpoint not found")
    state = torch.load(str(path), map_location="cpu", weights_only=False)["state_dict"]
    src = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    own = model.state_dict()
    take = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
    if not any(k.startswith("encoders.") for k in take):
        raise ClimbError(f"{path}: no encoder weights match this model's encoders "
                         f"({sorted(model.encoders)})")
    model.load_state_dict(take, strict=False)
    return sorted(take)


def freeze(model: MultimodalModel, what: str | None) -> list[torch.nn.Module]:
    """Freeze ``encoders`` or ``encoders+fusion``; returns the frozen modules (kept in eval
    mode during training so BatchNorm statistics stay fixed)."""
    if not what:
        return []
    parts = what.split("+")
    unknown = set(parts) - {"encoders", "fusion"}
    if unknown:
        raise ClimbError(f"init.freeze: unknown part(s) {sorted(unknown)}; use encoders, "
                         "fusion or encoders+fusion")
    if "fusion" in parts and model.late:
        parts.remove("fusion")  # late fusion's parameters are the heads
    frozen = [getattr(model, p) for p in parts]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
        module.eval()
    return frozen


def fewshot_config(cfg: dict[str, Any], tasks: list) -> tuple[Any, int, int]:
    """(task, k, seed) of a few-shot run."""
    fs = cfg["fewshot"]
    key = fs["task"] or tasks[0].key
    task = next((t for t in tasks if t.key == key), None)
    if task is None:
        raise ClimbError(f"fewshot.task {key!r} is not among the tasks {[t.key for t in tasks]}")
    seed = int(fs["seed"] if fs["seed"] is not None else cfg["seed"])
    return task, int(fs["k"]), seed
