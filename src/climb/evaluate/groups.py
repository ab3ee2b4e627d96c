"""Subgroup metrics with CIs (per site, sex, age bucket, dataset) and the worst group."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from climb.evaluate import DEFAULT_MIN_GROUP_SIZE
from climb.evaluate.metrics import HEADLINE, LOWER_IS_BETTER, TaskArrays, task_metrics

GROUP_ATTRIBUTES = ("site", "sex", "age_bucket", "dataset")


def group_values(task: TaskArrays, attribute: str) -> np.ndarray:
    """The attribute of each sample as a string array; None where the sample lacks it."""
    if attribute == "dataset":
        return np.array([task.key.split(".")[0]] * task.n, dtype=object)
    values = [m.get(attribute) if isinstance(m, dict) else None for m in task.meta]
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def subset(task: TaskArrays, mask: np.ndarray) -> TaskArrays:
    """The samples of ``task`` selected by a boolean mask or an index array (in that order)."""
    mask = np.asarray(mask)
    index = np.flatnonzero(mask) if mask.dtype == bool else mask.astype(int)
    return TaskArrays(
        key=task.key,
        type=task.type,
        classes=task.classes,
        y=task.y[index],
        s=task.s[index],
        sample_id=task.sample_id[index],
        patient_id=task.patient_id[index],
        meta=[task.meta[i] for i in index] if task.meta else [{} for _ in index],
    )


def group_metrics(
    task: TaskArrays,
    attributes: Sequence[str] = GROUP_ATTRIBUTES,
    thresholds: Sequence[float | None] | None = None,
    evaluate: Callable[[TaskArrays], dict[str, Any]] | None = None,
) -> dict[str, dict[str, dict]]:
    """``{attribute: {value: {n, n_patients, metrics, ...}}}`` for each attribute the samples
    carry; samples without the attribute are left out of that attribute's groups.

    ``evaluate(part) -> {metrics: {name: {value, ci, n_boot}}, ...}`` computes a group's
    metrics (``climb.evaluate.run`` passes its patient bootstrap, so each group has CIs);
    without it, metrics are point estimates ``{name: {value, ci: [None, None]}}``.
    """
    out: dict[str, dict[str, dict]] = {}
    for attribute in attributes:
        values = group_values(task, attribute)
        present = sorted({v for v in values if v is not None})
        if not present:
            continue
        out[attribute] = {}
        for value in present:
            part = subset(task, values == value)
            if evaluate is not None:
                result = evaluate(part)
            else:
                summary, _ = task_metrics(part, thresholds=thresholds)
                result = {
                    "metrics": {
                        k: {"value": _scalar(v[0]), "ci": [None, None], "n_boot": 0}
                        for k, v in summary.items()
                    }
                }
            out[attribute][value] = {
                "n": part.n,
                "n_patients": len(np.unique(part.patient_id.astype(str))),
                **result,
            }
    return out


def _eligible(groups: dict[str, dict[str, dict]]):
    """(attribute, value, entry) of attributes that split the samples into two or more groups."""
    for attribute, by_value in groups.items():
        if len(by_value) < 2:
            continue
        for value, entry in by_value.items():
            yield attribute, value, entry


def worst_group(
    groups: dict[str, dict[str, dict]],
    metric: str,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> dict | None:
    """The group with the worst defined ``metric`` among groups of at least ``min_group_size``
    samples, over attributes with two or more groups.

    Worst is the lowest value, or the highest for error metrics (MAE, RMSE, ECE); a group of a
    handful of samples is never named (its estimate is mostly noise). Returns ``{attribute,
    group, metric, value, ci, n, n_patients, min_group_size}`` or None when no group qualifies.
    """
    lower_better = metric in LOWER_IS_BETTER
    best: dict | None = None
    for attribute, value, entry in _eligible(groups):
        score = (entry["metrics"].get(metric) or {}).get("value")
        if score is None or entry["n"] < min_group_size:
            continue
        if best is None or (score > best["value"] if lower_better else score < best["value"]):
            best = {
                "attribute": attribute,
                "group": value,
                "metric": metric,
                "value": score,
                "ci": entry["metrics"][metric].get("ci", [None, None]),
                "n": entry["n"],
                "n_patients": entry["n_patients"],
                "min_group_size": min_group_size,
            }
    return best


def small_groups(groups: dict[str, dict[str, dict]], min_group_size: int) -> list[dict]:
    """Groups left out of the worst-group comparison for having fewer than ``min_group_size``
    samples: ``[{attribute, group, n, n_patients}]``."""
    return [
        {"attribute": a, "group": v, "n": e["n"], "n_patients": e["n_patients"]}
        for a, v, e in _eligible(groups)
        if e["n"] < min_group_size
    ]


def headline(task_type: str) -> str:
    """The summary metric of a task type."""
    return HEADLINE[task_type]


def _scalar(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)
