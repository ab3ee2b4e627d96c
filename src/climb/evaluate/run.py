"""Evaluate a run directory: read its predictions, compute metrics with CIs, write metrics.json.

The run directory format is the contract in docs/interfaces.md (config.yaml, tasks.json,
predictions/{split}.parquet).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from climb.errors import ClimbError
from climb.evaluate import bootstrap as bs
from climb.evaluate.groups import (
    DEFAULT_MIN_GROUP_SIZE,
    group_metrics,
    small_groups,
    subset,
    worst_group,
)
from climb.evaluate.metrics import (
    HEADLINE,
    TaskArrays,
    classes_defined_check,
    defined_classes,
    n_defined,
    position_counts,
    task_metrics,
    youden_thresholds,
)

PREDICTION_COLUMNS = ("sample_id", "patient_id", "dataset", "task", "split", "label", "scores")


class RunError(ClimbError):
    """A run directory is missing a file or a file does not follow the run contract."""


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """RUN/config.yaml as a dict ({} when absent)."""
    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise RunError(f"{path}: expected a mapping, got {type(data).__name__}")
    return data


def run_name(config: dict[str, Any], run_dir: str | Path) -> str:
    """The run's name: ``run.name`` (or a top-level ``name``) of its config, else the folder."""
    run = config.get("run") if isinstance(config.get("run"), dict) else {}
    return str(run.get("name") or config.get("name") or Path(run_dir).name)


def read_tasks(run_dir: str | Path) -> dict[str, dict]:
    """RUN/tasks.json as {task_key: {key, dataset, task, type, classes}}."""
    path = Path(run_dir) / "tasks.json"
    if not path.exists():
        raise RunError(f"{path}: not found (is {Path(run_dir)} a run directory?)")
    try:
        tasks = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RunError(f"{path}: invalid JSON ({err})") from err
    return {t["key"]: t for t in tasks}


def read_predictions(run_dir: str | Path, split: str) -> pd.DataFrame | None:
    """RUN/predictions/{split}.parquet, or None when the run has no predictions for that split."""
    path = Path(run_dir) / "predictions" / f"{split}.parquet"
    if not path.exists():
        return None
    frame = pd.read_parquet(path)
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise RunError(f"{path}: missing columns {missing}")
    return frame


def task_arrays(frame: pd.DataFrame, spec: dict) -> TaskArrays:
    """The rows of one task as arrays; rows with a missing label (-1 / NaN) are dropped
    (multilabel rows stay, their NaN entries are masked per class)."""
    rows = frame[frame["task"] == spec["key"]]
    task_type = spec["type"]
    labels = [np.asarray(v, dtype=np.float64) for v in rows["label"]]
    scores = [np.asarray(v, dtype=np.float64) for v in rows["scores"]]
    level = spec.get("level", "sample")
    if level in ("token", "node"):  # per-sample [3, C] counts; y = counts, s = predictions
        task_type = "token_multiclass" if level == "token" else "node_multilabel"
        n_classes = len(spec["classes"])
        y = np.stack([position_counts(task_type, label, score, n_classes)
                      for label, score in zip(labels, scores, strict=True)]) if labels else (
            np.zeros((0, 3, n_classes)))
        s = y[:, 0] + y[:, 1]
        keep = (y[:, 0] + y[:, 2]).sum(1) > 0  # samples with a labelled position
    elif task_type == "multilabel":
        y = np.stack(labels) if labels else np.zeros((0, len(spec["classes"])))
        s = np.stack(scores) if scores else np.zeros((0, len(spec["classes"])))
        keep = ~np.all(np.isnan(y), axis=1) if len(y) else np.zeros(0, bool)
    elif task_type in ("binary", "multiclass"):
        y = np.array([v[0] for v in labels], dtype=np.float64)
        s = np.stack(scores) if scores else np.zeros((0, len(spec["classes"])))
        keep = ~np.isnan(y) & (y >= 0)
        y = np.where(keep, y, 0).astype(int)
    else:
        y = np.array([v[0] for v in labels], dtype=np.float64)
        s = np.array([v[0] for v in scores], dtype=np.float64)
        keep = ~np.isnan(y)
    metas = [_parse_meta(m) for m in rows["meta"]] if "meta" in rows else [{}] * len(rows)
    return TaskArrays(
        key=spec["key"],
        type=task_type,
        classes=list(spec.get("classes") or []),
        y=y[keep],
        s=s[keep],
        sample_id=rows["sample_id"].to_numpy().astype(str)[keep],
        patient_id=rows["patient_id"].fillna("").to_numpy().astype(str)[keep],
        meta=[m for m, k in zip(metas, keep, strict=True) if k],
    )


def _parse_meta(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return {}
    try:
        parsed = json.loads(value)
    except (TypeError, json.JSONDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _units(task: TaskArrays) -> np.ndarray:
    """Bootstrap units: the patient id, or the sample id where a sample has no patient id."""
    return np.where(task.patient_id == "", "sample:" + task.sample_id, task.patient_id)


def bootstrap_units(task: TaskArrays, unit: str = "patient") -> tuple[np.ndarray, str]:
    """The resampling units of a task and what they are.

    Patients by default. A test set from a single patient (a single-subject recording split by
    time, such as MIT-BIH record 100) makes a patient-level interval degenerate (zero width),
    so it falls back to resampling samples and says so: the unit is then
    ``"sample (single patient)"``, never passed off as a patient-level interval.
    """
    if unit != "patient":
        return task.sample_id, "sample"
    units = _units(task)
    if len(np.unique(units)) < 2 and task.n > 1:
        return task.sample_id, "sample (single patient)"
    return units, "patient"


def bootstrap_task(
    task: TaskArrays,
    n_resamples: int = bs.DEFAULT_RESAMPLES,
    seed: int = bs.DEFAULT_SEED,
    thresholds: Sequence[float | None] | None = None,
    unit: str = "patient",
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Point metrics with bootstrap CIs, per-class metrics with CIs, and the distributions.

    One estimand per interval: macro averages run over a fixed class set, the classes defined
    (with positives and negatives) on the full ``task``; a resample where one of them is
    undefined is redrawn (at most ``bs.MAX_REDRAW_FACTOR`` times the resample count), and
    ``bootstrap.redrawn`` says how many were. Per-class intervals use the same resamples.
    Returns ``({metrics, per_class, bootstrap, classes_defined}, {metric: [B]})``.
    """
    point, per_class = task_metrics(task, thresholds=thresholds)
    units, unit = bootstrap_units(task, unit)
    fixed = defined_classes(task)
    info: dict[str, Any] = {"drawn": 0, "redrawn": 0, "kept": 0, "complete": True}
    dist: dict[str, np.ndarray] = {}
    if n_resamples > 0 and task.n > 0:

        def statistic(W: np.ndarray) -> dict[str, np.ndarray]:
            summary, classes = task_metrics(task, W, thresholds)
            return {**summary, **{f"class:{k}": v for k, v in classes.items()}}

        dist, info = bs.bootstrap_with_redraws(
            statistic, units, n_resamples, seed, accept=classes_defined_check(task, fixed)
        )
    none = np.full(0, np.nan)
    out: dict[str, Any] = {
        "bootstrap": {
            "unit": unit,
            "resamples": n_resamples,
            "seed": seed,
            "level": 0.95,
            "class_set": [_class_name(task, c) for c in fixed],
            "redrawn": int(info["redrawn"]),
            "max_redraws": bs.MAX_REDRAW_FACTOR * n_resamples,
            "complete": bool(info["complete"]),
        },
        "classes_defined": n_defined(task),
        "metrics": {
            name: bs.summarize(float(values[0]), dist.get(name, none))
            for name, values in point.items()
        },
    }
    if per_class:
        out["per_class"] = {
            _class_name(task, c): {
                name: bs.summarize(
                    float(values[0, c]),
                    dist[f"class:{name}"][:, c] if f"class:{name}" in dist else none,
                )
                for name, values in per_class.items()
            }
            for c in range(task.s.shape[1])
        }
    return out, {name: v for name, v in dist.items() if not name.startswith("class:")}


def _class_name(task: TaskArrays, index: int) -> str:
    return str(task.classes[index]) if index < len(task.classes) else str(index)


def evaluate_task(
    task: TaskArrays,
    n_resamples: int = bs.DEFAULT_RESAMPLES,
    seed: int = bs.DEFAULT_SEED,
    thresholds: Sequence[float | None] | None = None,
    unit: str = "patient",
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> dict[str, Any]:
    """Point metrics, patient-level bootstrap CIs, per-class metrics and subgroups of one task.

    Subgroups get their own bootstrap CIs; the worst group is taken among groups of at least
    ``min_group_size`` samples, and the smaller ones are listed in ``small_groups``.
    """
    result, _ = bootstrap_task(task, n_resamples, seed, thresholds, unit)
    out: dict[str, Any] = {
        "task": task.key,
        "type": task.type,
        "headline": HEADLINE.get(task.type),
        "n_samples": task.n,
        "n_patients": len(np.unique(_units(task))),
        **result,
    }

    def evaluate_group(part: TaskArrays) -> dict[str, Any]:
        if part.n == task.n:  # a group of every sample (one site, one dataset): same numbers
            return result
        return bootstrap_task(part, n_resamples, seed, thresholds, unit)[0]

    groups = group_metrics(task, evaluate=evaluate_group)
    out["groups"] = groups
    out["worst_group"] = worst_group(groups, HEADLINE[task.type], min_group_size)
    out["min_group_size"] = min_group_size
    out["small_groups"] = small_groups(groups, min_group_size)
    return out


def paired_bootstrap(
    a: TaskArrays,
    b: TaskArrays,
    metric: str | None = None,
    n_resamples: int = bs.DEFAULT_RESAMPLES,
    seed: int = bs.DEFAULT_SEED,
) -> dict[str, Any]:
    """Difference ``metric(a) - metric(b)`` on the samples both runs scored, with a paired
    patient-level bootstrap (the same resampled patients for both) CI and two-sided p-value.

    Typical use: ``a`` = the multitask run, ``b`` = the single-task run of the same task.
    """
    if a.type != b.type:
        raise RunError(f"{a.key}: cannot compare a {a.type} task with a {b.type} task")
    metric = metric or HEADLINE[a.type]
    common = np.intersect1d(a.sample_id, b.sample_id)
    if common.size == 0:
        raise RunError(f"{a.key}: the two runs share no sample_id")
    a2 = _align(a, common)
    b2 = _align(b, common)
    if a.type != "regression" and not np.array_equal(
        np.nan_to_num(a2.y, nan=-9), np.nan_to_num(b2.y, nan=-9)
    ):
        raise RunError(f"{a.key}: the two runs disagree on labels of the same samples")

    def diff(W: np.ndarray) -> dict[str, np.ndarray]:
        va = task_metrics(a2, W)[0][metric]
        vb = task_metrics(b2, W)[0][metric]
        return {"a": va, "b": vb, "diff": va - vb}

    point = diff(np.ones((1, a2.n)))
    units, unit = bootstrap_units(a2)
    fixed = sorted(set(defined_classes(a2)) & set(defined_classes(b2)))
    accept = classes_defined_check(a2, fixed) if a.type != "regression" else None
    boot, info = bs.bootstrap_with_redraws(diff, units, n_resamples, seed, accept=accept)
    return {
        "task": a.key,
        "metric": metric,
        "n_samples": int(common.size),
        "n_patients": len(np.unique(_units(a2))),
        "a": bs.summarize(float(point["a"][0]), boot["a"]),
        "b": bs.summarize(float(point["b"][0]), boot["b"]),
        "diff": bs.summarize(float(point["diff"][0]), boot["diff"]),
        "p_value": bs.two_sided_p(boot["diff"]),
        "unit": unit,
        "resamples": n_resamples,
        "redrawn": int(info["redrawn"]),
        "seed": seed,
    }


def _align(task: TaskArrays, ids: np.ndarray) -> TaskArrays:
    """The samples of ``task`` in the order of ``ids`` (sample ids)."""
    index = {sid: i for i, sid in enumerate(task.sample_id)}
    return subset(task, np.array([index[i] for i in ids], dtype=int))


def load_task_arrays(run_dir: str | Path, split: str) -> dict[str, TaskArrays]:
    """{task_key: TaskArrays} of one split of a run ({} when there are no predictions)."""
    tasks = read_tasks(run_dir)
    frame = read_predictions(run_dir, split)
    if frame is None:
        return {}
    unknown = sorted(set(frame["task"]) - set(tasks))
    if unknown:
        raise RunError(
            f"{Path(run_dir) / 'predictions' / split}.parquet: tasks {unknown} "
            "are not in tasks.json"
        )
    return {
        key: task_arrays(frame, spec) for key, spec in tasks.items() if (frame["task"] == key).any()
    }


def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    n_resamples: int = bs.DEFAULT_RESAMPLES,
    seed: int = bs.DEFAULT_SEED,
    progress: bool = False,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> dict[str, Any]:
    """Evaluate every task of a run on ``split``; thresholds tuned on val when val exists.

    Returns the metrics.json document: ``{run, split, tasks: {key: ...}}``.
    """
    run_dir = Path(run_dir)
    tasks = load_task_arrays(run_dir, split)
    if not tasks:
        raise RunError(f"{run_dir / 'predictions' / split}.parquet: no predictions to evaluate")
    val = load_task_arrays(run_dir, "val") if split != "val" else {}
    config = read_config(run_dir)
    results: dict[str, Any] = {}
    items = list(tasks.items())
    iterator = items
    if progress:
        from rich.progress import track

        iterator = track(items, description="evaluating tasks")
    for key, task in iterator:
        thresholds, source = None, "fixed 0.5"
        if task.type in ("binary", "multilabel") and key in val and val[key].n > 0:
            thresholds = youden_thresholds(val[key].y, val[key].s, task.type)
            source = "youden on val"
        result = evaluate_task(task, n_resamples, seed, thresholds, min_group_size=min_group_size)
        result["thresholds"] = {"source": source, "values": thresholds}
        results[key] = result
    return {
        "run": run_name(config, run_dir),
        "regime": config.get("regime"),
        "split": split,
        "tasks": results,
    }


def to_json(document: Any) -> str:
    """JSON text with NaN/inf written as null."""
    return json.dumps(_clean_tree(document), indent=2, allow_nan=False)


def write_json(path: str | Path, document: Any) -> Path:
    """Write ``document`` atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(to_json(document))
    tmp.replace(path)
    return path


def _clean(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _clean_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_tree(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean_tree(v) for v in value.tolist()]
    return _clean(value)
