"""Cross-dataset shift: a trained run evaluated on another prepared dataset (BenchMD, WILDS).

The run's model scores every record of the other dataset with the head of its own task, and
those scores are compared with the other dataset's labels of the task that shares the run
task's harmonized vocabulary (``label_vocabulary`` of the store manifests, e.g. PTB-XL's and
Georgia's ``climb7`` tasks are both ``climb_ecg7``). Only classes both datasets define are
compared: a class missing from the other dataset's class list, or without positives or
negatives in either evaluated set, is left out and listed with the reason. The
in-distribution side is the run's own predictions of ``split`` restricted to the same
classes, so both numbers estimate the same macro average. Thresholds are the run's operating
point (Youden on its own val predictions), never tuned on the other dataset.

Output ``RUN/shift-<dataset>.json``: ``{run, dataset, split, ood_splits, tasks: {run_task:
{ood_task, vocabulary, classes_compared, classes_excluded: [{class, reason}],
in_distribution, out_of_distribution: {n_samples, n_patients, bootstrap, metrics, ...},
gap: {metric, value, ci}}}}`` where gap = out-of-distribution minus in-distribution headline
metric; its interval pairs the two independent bootstrap distributions resample by resample.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from climb.errors import ClimbError
from climb.evaluate import bootstrap as bs
from climb.evaluate.groups import subset
from climb.evaluate.metrics import HEADLINE, TaskArrays, one_vs_rest, youden_thresholds
from climb.evaluate.run import (
    RunError,
    _units,
    bootstrap_task,
    load_task_arrays,
    read_config,
    run_name,
)

SPLITS = ("train", "val", "test")
DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def shift_path(run_dir: str | Path, dataset: str) -> Path:
    """RUN/shift-<dataset>.json."""
    return Path(run_dir) / f"shift-{dataset}.json"


def vocabularies(store: str | Path, dataset: str) -> dict[str, tuple[str | None, list[str]]]:
    """``{task_key: (vocabulary, classes)}`` of one prepared dataset, from its manifest."""
    from climb.store.manifest import dataset_dirs, read_manifest

    manifest = read_manifest(dataset_dirs(store, [dataset])[0])
    declared = manifest.get("label_vocabulary") or {}
    out = {}
    for t in manifest.get("tasks", []):
        entry = declared.get(t["name"]) or {}
        vocabulary = entry.get("vocabulary") or t.get("vocabulary")
        out[f"{dataset}.{t['name']}"] = (vocabulary, list(t.get("classes") or []))
    return out


def _stores(run_dir: Path, store: str | None) -> list[Path]:
    data = read_config(run_dir).get("data") or {}
    found = [Path(s) for s in (store, data.get("store")) if s and Path(s).exists()]
    if not found:
        raise RunError(
            f"{run_dir}: shift evaluation needs the prepared store (--store STORE); "
            f"config has {data.get('store')!r}"
        )
    return found


def _vocabularies_of(stores: list[Path], dataset: str) -> dict[str, tuple[str | None, list[str]]]:
    for s in stores:
        if (s / dataset / "manifest.json").exists():
            return vocabularies(s, dataset)
    raise ClimbError(f"{dataset}: not prepared in {', '.join(map(str, stores))}")


def pair_tasks(
    run_tasks: Sequence[Any],
    run_vocab: dict[str, tuple[str | None, list[str]]],
    other_vocab: dict[str, tuple[str | None, list[str]]],
) -> list[tuple[Any, str, str]]:
    """``(run task, other task key, vocabulary)`` for each run task whose harmonized
    vocabulary (and task type) some task of the other dataset shares."""
    pairs = []
    for task in run_tasks:
        vocabulary = run_vocab.get(task.key, (None, []))[0]
        if not vocabulary:
            continue
        for key, (other, _) in other_vocab.items():
            if other == vocabulary:
                pairs.append((task, key, vocabulary))
                break
    return pairs


def ood_arrays(
    model: Any,
    pairs: list[tuple[Any, str, str]],
    store: Path,
    dataset: str,
    splits: Sequence[str],
    inputs: Sequence[str] | None,
    batch_size: int = 32,
) -> dict[str, TaskArrays]:
    """The other dataset's labels (its task) with the run model's scores (the run task's
    head), one TaskArrays per run task, in the run task's class order (classes the other
    dataset lacks are NaN labels)."""
    import torch
    from torch.utils.data import DataLoader

    from climb.load.collate import Collator
    from climb.load.dataset import StoreDataset
    from climb.models.heads import scores_from_logits

    data = StoreDataset(store, [dataset], split=list(splits), inputs=inputs or None)
    if len(data) == 0:
        raise ClimbError(f"{dataset}: no records in splits {list(splits)} of {store}")
    by_key = {t.key: t for t in data.tasks}
    loader = DataLoader(
        data,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=Collator(data.tasks, inputs=inputs or None),
    )
    parts: dict[str, dict[str, list]] = {
        t.key: {"y": [], "s": [], "sid": [], "pid": []} for t, _, _ in pairs
    }
    model.eval()
    with torch.no_grad():
        for batch in loader:
            missing = sorted(set(inputs or []) - set(batch["inputs"]))
            if missing:
                raise ClimbError(f"{dataset}: has no input {missing} that the run's model reads")
            logits = model(batch)
            for task, other_key, _ in pairs:
                other = by_key[other_key]
                scores = scores_from_logits(logits[task.key].float(), task.type).numpy()
                labels = batch["labels"][other_key].numpy()
                part = parts[task.key]
                part["y"].append(_to_run_classes(labels, other.classes, task, dataset))
                part["s"].append(scores)
                part["sid"] += list(batch["sample_id"])
                part["pid"] += [p or "" for p in batch["patient_id"]]
    out = {}
    for task, _, _ in pairs:
        part = parts[task.key]
        y = np.concatenate(part["y"])
        s = np.concatenate(part["s"])
        keep = ~np.all(np.isnan(y), axis=1) if y.ndim == 2 else ~np.isnan(y)
        if y.ndim == 1:
            y = np.where(keep, y, 0).astype(int)
        out[task.key] = TaskArrays(
            key=task.key,
            type=task.type,
            classes=list(task.classes),
            y=y[keep],
            s=s[keep],
            sample_id=np.asarray(part["sid"], dtype=str)[keep],
            patient_id=np.asarray(part["pid"], dtype=str)[keep],
            meta=[{} for _ in range(int(keep.sum()))],
        )
    return out


def _to_run_classes(labels: np.ndarray, other_classes: list[str], task: Any, dataset: str):
    """Labels of the other dataset re-indexed into the run task's classes (by class name)."""
    index = {c: i for i, c in enumerate(other_classes)}
    if task.type == "multilabel":
        out = np.full((len(labels), len(task.classes)), np.nan)
        for j, c in enumerate(task.classes):
            if c in index:
                out[:, j] = labels[:, index[c]]
        return out
    if task.type in ("binary", "multiclass"):
        mapping = np.array(
            [task.classes.index(c) if c in task.classes else -1 for c in other_classes] or [-1]
        )
        mapped = np.where(labels >= 0, mapping[np.clip(labels, 0, None)], -1).astype(float)
        return np.where(mapped >= 0, mapped, np.nan)
    raise ClimbError(f"{task.key}: shift evaluation of {task.type} tasks is not supported")


def compared_classes(
    in_dist: TaskArrays, out_dist: TaskArrays, other_classes: list[str], dataset: str
) -> tuple[list[int], list[dict[str, str]]]:
    """Indices of the run task's classes both sides define, and the excluded ones with why."""
    y_in, _ = one_vs_rest(in_dist.y, in_dist.s, in_dist.type)
    y_out, _ = one_vs_rest(out_dist.y, out_dist.s, out_dist.type)
    keep, excluded = [], []
    for c, name in enumerate(in_dist.classes):
        if name not in other_classes:
            excluded.append({"class": name, "reason": f"not a class of {dataset}"})
            continue
        reason = _undefined(y_out[:, c], dataset) or _undefined(y_in[:, c], "in-distribution")
        if reason:
            excluded.append({"class": name, "reason": reason})
        else:
            keep.append(c)
    return keep, excluded


def _undefined(column: np.ndarray, where: str) -> str | None:
    values = column[~np.isnan(column)]
    if values.size == 0 or values.sum() == 0:
        return f"no positives in {where}"
    if values.sum() == values.size:
        return f"no negatives in {where}"
    return None


def restrict(task: TaskArrays, classes: list[int]) -> TaskArrays:
    """``task`` over the given classes only (multiclass: samples of other classes dropped and
    the scores renormalized over the kept classes)."""
    if task.type == "multilabel":
        return TaskArrays(
            task.key,
            task.type,
            [task.classes[c] for c in classes],
            task.y[:, classes],
            task.s[:, classes],
            task.sample_id,
            task.patient_id,
            task.meta,
        )
    if len(classes) == task.s.shape[1]:
        return task
    part = subset(task, np.isin(task.y, classes))
    s = part.s[:, classes]
    s = s / np.clip(s.sum(1, keepdims=True), 1e-12, None)
    y = np.searchsorted(np.asarray(classes), part.y)
    kind = "binary" if len(classes) == 2 else "multiclass"
    return TaskArrays(
        part.key,
        kind,
        [task.classes[c] for c in classes],
        y,
        s,
        part.sample_id,
        part.patient_id,
        part.meta,
    )


def _side(task: TaskArrays, result: dict[str, Any]) -> dict[str, Any]:
    return {"n_samples": task.n, "n_patients": len(np.unique(_units(task))), **result}


def shift_evaluate(
    run_dir: str | Path,
    dataset: str,
    store: str | None = None,
    split: str = "test",
    ood_splits: Sequence[str] = SPLITS,
    n_resamples: int = bs.DEFAULT_RESAMPLES,
    seed: int = bs.DEFAULT_SEED,
) -> dict[str, Any]:
    """In- vs out-of-distribution metrics with CIs of a run on another dataset (the module
    docstring has the protocol); returns the shift-<dataset>.json document."""
    from climb.train import api

    run_dir = Path(run_dir)
    if not DATASET_NAME.match(dataset):
        raise ClimbError(f"{dataset!r}: not a dataset name")
    config = read_config(run_dir)
    data = config.get("data") or {}
    if dataset in (data.get("datasets") or []):
        raise ClimbError(f"{dataset}: the run trained on it, so it is not out-of-distribution")
    stores = _stores(run_dir, store)
    model, tasks, config = api.load_run(run_dir)
    if dataset in {t.dataset for t in tasks}:
        raise ClimbError(f"{dataset}: the run trained on it, so it is not out-of-distribution")
    run_vocab: dict[str, tuple[str | None, list[str]]] = {}
    for ds in sorted({t.dataset for t in tasks}):
        run_vocab.update(_vocabularies_of(stores, ds))
    other_store = next((s for s in stores if (s / dataset / "manifest.json").exists()), None)
    if other_store is None:
        raise ClimbError(f"{dataset}: not prepared in {', '.join(map(str, stores))}")
    other_vocab = vocabularies(other_store, dataset)
    pairs = pair_tasks(tasks, run_vocab, other_vocab)
    if not pairs:
        shared = sorted({v for v, _ in run_vocab.values() if v})
        raise ClimbError(
            f"{dataset}: no task shares a harmonized vocabulary with the run's tasks "
            f"(run vocabularies: {shared or 'none'})"
        )
    inputs = data.get("inputs") or sorted((config.get("model") or {}).get("encoders") or {})
    batch_size = int(data.get("eval_batch_size") or data.get("batch_size") or 32)
    ood = ood_arrays(model, pairs, other_store, dataset, ood_splits, inputs, batch_size)
    in_dist = load_task_arrays(run_dir, split)
    val = load_task_arrays(run_dir, "val") if split != "val" else {}
    results: dict[str, Any] = {}
    for task, other_key, vocabulary in pairs:
        if task.key not in in_dist:
            raise RunError(f"{run_dir}: no {split} predictions of {task.key}")
        results[task.key] = shift_entry(
            in_dist[task.key],
            ood[task.key],
            other_key,
            other_vocab[other_key][1],
            vocabulary,
            val.get(task.key),
            n_resamples,
            seed,
        )
    return {
        "run": run_name(config, run_dir),
        "dataset": dataset,
        "split": split,
        "ood_splits": list(ood_splits),
        "tasks": results,
    }


def shift_entry(
    in_dist: TaskArrays,
    out_dist: TaskArrays,
    other_key: str,
    other_classes: list[str],
    vocabulary: str | None,
    val: TaskArrays | None = None,
    n_resamples: int = bs.DEFAULT_RESAMPLES,
    seed: int = bs.DEFAULT_SEED,
) -> dict[str, Any]:
    """One task of shift-<dataset>.json: the run task's predictions on its own test set
    (``in_dist``) and on the other dataset (``out_dist``, labels in the run task's classes)
    compared over the classes both define, with the run's thresholds (Youden on ``val``)."""
    dataset = other_key.split(".")[0]
    keep, excluded = compared_classes(in_dist, out_dist, other_classes, dataset)
    entry: dict[str, Any] = {
        "ood_task": other_key,
        "vocabulary": vocabulary,
        "classes_compared": [in_dist.classes[c] for c in keep],
        "classes_excluded": excluded,
    }
    if not keep or (in_dist.type != "multilabel" and len(keep) < 2):
        entry["note"] = "no class defined on both sides: nothing to compare"
        return entry
    a = restrict(in_dist, keep)
    b = restrict(out_dist, keep)
    thresholds, source = None, "fixed 0.5"
    if a.type in ("binary", "multilabel") and val is not None and val.n:
        v = restrict(val, keep)
        thresholds, source = youden_thresholds(v.y, v.s, v.type), "youden on run's val"
    id_result, id_dist = bootstrap_task(a, n_resamples, seed, thresholds)
    ood_result, ood_dist = bootstrap_task(b, n_resamples, seed, thresholds)
    entry["thresholds"] = {"source": source, "values": thresholds}
    entry["in_distribution"] = _side(a, id_result)
    entry["out_of_distribution"] = _side(b, ood_result)
    entry["gap"] = _gap(HEADLINE[a.type], id_result, ood_result, id_dist, ood_dist)
    return entry


def _gap(
    metric: str,
    id_result: dict[str, Any],
    ood_result: dict[str, Any],
    id_dist: dict[str, np.ndarray],
    ood_dist: dict[str, np.ndarray],
) -> dict[str, Any]:
    """OOD minus ID headline metric; CI from the two independent bootstraps paired by index."""
    a = id_result["metrics"][metric]["value"]
    b = ood_result["metrics"][metric]["value"]
    point = None if a is None or b is None else b - a
    da = id_dist.get(metric, np.full(0, np.nan))
    db = ood_dist.get(metric, np.full(0, np.nan))
    k = min(len(da), len(db))
    summary = bs.summarize(np.nan if point is None else point, db[:k] - da[:k])
    return {"metric": metric, **summary}
