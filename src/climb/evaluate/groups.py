"""Subgroup metrics (per site, sex, age bucket, dataset) and the worst-group metric."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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
) -> dict[str, dict[str, dict]]:
    """``{attribute: {value: {n, n_patients, metrics}}}`` for each attribute the samples carry.

    Samples without the attribute are left out of that attribute's groups. Metrics are point
    estimates (a group's interval comes from ``climb evaluate`` on that subset if needed).
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
            summary, _ = task_metrics(part, thresholds=thresholds)
            out[attribute][value] = {
                "n": part.n,
                "n_patients": len(np.unique(part.patient_id.astype(str))),
                "metrics": {k: _scalar(v[0]) for k, v in summary.items()},
            }
    return out


def worst_group(
    groups: dict[str, dict[str, dict]], metric: str, min_samples: int = 1
) -> dict | None:
    """The group with the worst defined ``metric`` over attributes with two or more groups.

    Worst is the lowest value, or the highest for error metrics (MAE, RMSE, ECE). Returns
    ``{attribute, group, value, n}`` or None when no attribute splits the samples.
    """
    lower_better = metric in LOWER_IS_BETTER
    best: dict | None = None
    for attribute, by_value in groups.items():
        if len(by_value) < 2:
            continue
        for value, entry in by_value.items():
            score = entry["metrics"].get(metric)
            if score is None or entry["n"] < min_samples:
                continue
            if best is None or (score > best["value"] if lower_better else score < best["value"]):
                best = {"attribute": attribute, "group": value, "value": score, "n": entry["n"]}
    if best is not None:
        best["metric"] = metric
    return best


def headline(task_type: str) -> str:
    """The summary metric of a task type."""
    return HEADLINE[task_type]


def _scalar(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)
