"""One estimand per interval: macro metrics over a fixed class set, undefined resamples redrawn.

The constructed case of issue 11: a rare, badly predicted class held by 2 of 60 patients. A
resample without those 2 patients (about e^-2 = 13% of them) used to average over the other
classes only, a different and much higher number, which inflated the upper bound.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from climb.evaluate import bootstrap as bs
from climb.evaluate.metrics import TaskArrays, task_metrics
from climb.evaluate.run import bootstrap_units, evaluate_task

N_PATIENTS, PER_PATIENT = 60, 2


def rare_class_task(seed: int = 0) -> TaskArrays:
    """Multilabel, 3 classes: two common and well predicted, one rare (2 patients, 4 samples)
    and predicted worse than chance."""
    rng = np.random.default_rng(seed)
    n = N_PATIENTS * PER_PATIENT
    patient = np.repeat([f"p{i:02d}" for i in range(N_PATIENTS)], PER_PATIENT)
    y = np.zeros((n, 3))
    y[:, :2] = rng.random((n, 2)) < 0.4
    y[:, 2] = np.isin(patient, ["p07", "p42"])
    s = np.empty((n, 3))
    s[:, :2] = 1 / (1 + np.exp(-(1.5 * (2 * y[:, :2] - 1) + rng.normal(size=(n, 2)))))
    s[:, 2] = np.where(y[:, 2] == 1, 0.2, rng.random(n))  # the rare class: scored low
    return TaskArrays(
        "d.t",
        "multilabel",
        ["common_a", "common_b", "rare"],
        y,
        s,
        np.array([f"s{i:03d}" for i in range(n)]),
        patient,
        [{} for _ in range(n)],
    )


def test_rare_class_no_longer_inflates_macro_ci():
    task = rare_class_task()
    n_boot = 1000
    # the old estimator: every resample, macro over whatever classes it happens to define
    units, _ = bootstrap_units(task)
    old = bs.bootstrap_distribution(lambda W: task_metrics(task, W)[0], units, n_boot, seed=0)
    _, old_hi = bs.percentile_ci(old["auroc_macro"])
    new = evaluate_task(task, n_resamples=n_boot, seed=0)
    point = new["metrics"]["auroc_macro"]["value"]
    lo, hi = new["metrics"]["auroc_macro"]["ci"]
    two_common = np.mean([new["per_class"][c]["auroc"]["value"] for c in ("common_a", "common_b")])
    assert 0.65 < point < 0.85 and two_common > 0.95
    # about 13% of resamples lack the rare class and score like the two common ones
    assert old_hi > 0.93 and old_hi > two_common - 0.03
    # the fixed class set: the upper bound stays with the 3-class estimand
    assert lo <= point <= hi
    assert hi < old_hi - 0.08 and hi < 0.9
    boot = new["bootstrap"]
    assert boot["class_set"] == ["common_a", "common_b", "rare"] and boot["complete"]
    share = boot["redrawn"] / (boot["redrawn"] + n_boot)
    assert 0.08 < share < 0.2, share
    assert new["metrics"]["auroc_macro"]["n_boot"] == n_boot
    # per-class intervals come from the same resamples; the rare class is defined in each
    rare = new["per_class"]["rare"]["auroc"]
    assert rare["n_boot"] == n_boot and rare["ci"][0] <= rare["value"] <= rare["ci"][1]


def test_redraw_count_in_metrics_json(tmp_path, cli):
    task = rare_class_task()
    run = tmp_path / "rare"
    (run / "predictions").mkdir(parents=True)
    (run / "tasks.json").write_text(
        json.dumps(
            [
                {
                    "key": "d.t",
                    "dataset": "d",
                    "task": "t",
                    "type": "multilabel",
                    "classes": task.classes,
                }
            ]
        )
    )
    pd.DataFrame(
        {
            "sample_id": task.sample_id,
            "patient_id": task.patient_id,
            "dataset": "d",
            "task": "d.t",
            "split": "test",
            "label": list(task.y.astype(np.float32)),
            "scores": list(task.s.astype(np.float32)),
            "meta": "{}",
        }
    ).to_parquet(run / "predictions" / "test.parquet", index=False)
    result = cli(["evaluate", str(run), "--bootstrap", "300"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    doc = json.loads((run / "metrics.json").read_text())["tasks"]["d.t"]
    assert doc["bootstrap"]["redrawn"] > 0 and doc["bootstrap"]["resamples"] == 300
    assert f"{doc['bootstrap']['redrawn']} resamples redrawn" in result.output


def test_redraws_are_bounded_and_reported():
    groups = np.array([f"p{i}" for i in range(10)])

    def statistic(W):
        return {"mean": W.mean(1)}

    def has_p0(W):  # accept a resample only if patient p0 was drawn (about 65% of them)
        return W[:, 0] > 0

    dist, info = bs.bootstrap_with_redraws(statistic, groups, 200, seed=1, accept=has_p0)
    assert len(dist["mean"]) == 200 and info["complete"] and info["redrawn"] > 30
    dist, info = bs.bootstrap_with_redraws(
        statistic, groups, 200, seed=1, accept=has_p0, max_redraws=10
    )
    assert info["drawn"] == 210 and not info["complete"] and len(dist["mean"]) < 200
    # without a condition the stream is the plain bootstrap's
    plain = bs.bootstrap_distribution(statistic, groups, 50, seed=1)["mean"]
    again, info = bs.bootstrap_with_redraws(statistic, groups, 50, seed=1)
    assert np.array_equal(plain, again["mean"]) and info["redrawn"] == 0


@pytest.mark.parametrize("task_type", ["binary", "multiclass"])
def test_single_label_tasks_redraw_for_missing_classes(task_type):
    """A class held by one patient only: resamples without it are redrawn, never averaged
    over fewer classes."""
    rng = np.random.default_rng(3)
    n = 80
    c = 2 if task_type == "binary" else 3
    y = rng.integers(0, c - 1, n) if c == 3 else np.zeros(n, int)
    y[:2] = c - 1  # patient p0's two samples hold the last class
    s = rng.dirichlet(np.ones(c), n)
    patient = np.array([f"p{i // 2}" for i in range(n)])
    task = TaskArrays(
        "d.t",
        task_type,
        [f"c{i}" for i in range(c)],
        y,
        s,
        np.array([f"s{i}" for i in range(n)]),
        patient,
        [{}] * n,
    )
    out = evaluate_task(task, n_resamples=200, seed=0)
    assert out["bootstrap"]["redrawn"] > 0
    assert out["metrics"]["auroc_macro"]["n_boot"] == 200
