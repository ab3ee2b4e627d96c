"""Patient-level bootstrap and paired bootstrap behave as a statistician expects."""

from __future__ import annotations

import json

import numpy as np
import pytest

from climb.evaluate.bootstrap import resample_weights, two_sided_p
from climb.evaluate.groups import subset
from climb.evaluate.metrics import TaskArrays
from climb.evaluate.run import evaluate_task, load_task_arrays, paired_bootstrap
from tests.evaluate.runs import make_run


def _binary_task(n_patients=80, seed=0, dup_patient=None, dup_times=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n_patients)
    p1 = 1 / (1 + np.exp(-(1.2 * (2 * y - 1) + rng.normal(size=n_patients))))
    pid = np.array([f"p{i}" for i in range(n_patients)])
    if dup_patient is not None:
        idx = np.r_[np.arange(n_patients), np.full(dup_times, dup_patient)]
        y, p1, pid = y[idx], p1[idx], pid[idx]
    s = np.stack([1 - p1, p1], 1)
    sid = np.array([f"s{i}" for i in range(len(y))])
    return TaskArrays("d.t", "binary", ["neg", "pos"], y, s, sid, pid, [{}] * len(y))


def _width(result, metric="auroc"):
    lo, hi = result["metrics"][metric]["ci"]
    return hi - lo


def test_weights_are_patient_blocks_and_deterministic():
    groups = np.array(["a", "a", "a", "b", "c", "c"])
    blocks = list(resample_weights(groups, 50, seed=3, chunk=20))
    assert [b.shape for b in blocks] == [(20, 6), (20, 6), (10, 6)]
    W = np.concatenate(blocks)
    # every sample of a patient gets the same count, and 3 patients are drawn per resample
    assert np.all(W[:, 0] == W[:, 1]) and np.all(W[:, 1] == W[:, 2]) and np.all(W[:, 4] == W[:, 5])
    assert np.all(W[:, [0, 3, 4]].sum(1) == 3)
    again = np.concatenate(list(resample_weights(groups, 50, seed=3)))
    assert np.array_equal(W, again)
    other = np.concatenate(list(resample_weights(groups, 50, seed=4)))
    assert not np.array_equal(W, other)


def test_ci_contains_point_and_is_deterministic():
    task = _binary_task()
    a = evaluate_task(task, n_resamples=500, seed=11)
    b = evaluate_task(task, n_resamples=500, seed=11)
    c = evaluate_task(task, n_resamples=500, seed=12)
    for name, m in a["metrics"].items():
        lo, hi = m["ci"]
        assert lo <= m["value"] <= hi, name
    assert a["metrics"] == b["metrics"]
    assert a["metrics"]["auroc"]["ci"] != c["metrics"]["auroc"]["ci"]


def test_duplicated_samples_do_not_shrink_patient_ci_but_shrink_sample_ci():
    """Each patient's sample repeated 4 times (e.g. 4 windows of one recording) adds no
    independent evidence. (Duplicating only one patient would change the estimand itself,
    since that patient would then weigh more in the metric, so every patient is duplicated.)"""
    base = _binary_task(n_patients=60, seed=1)
    dup = subset(base, np.repeat(np.arange(base.n), 4))
    dup.sample_id = np.array([f"{sid}-w{i % 4}" for i, sid in enumerate(dup.sample_id)])
    patient_base = evaluate_task(base, 1000, seed=0)
    patient_dup = evaluate_task(dup, 1000, seed=0)
    sample_base = _width(evaluate_task(base, 1000, seed=0, unit="sample"))
    sample_dup = _width(evaluate_task(dup, 1000, seed=0, unit="sample"))
    # same point estimate, and exactly the same patient-level interval
    assert patient_dup["metrics"]["auroc"] == patient_base["metrics"]["auroc"]
    assert patient_dup["n_patients"] == 60 and patient_dup["n_samples"] == 240
    # the sample-level bootstrap takes the copies as independent: about half as wide
    assert sample_dup < 0.7 * sample_base
    assert _width(patient_dup) > 1.4 * sample_dup


def test_undefined_metric_gives_null_ci():
    task = _binary_task()
    only_neg = subset(task, task.y == 0)
    result = evaluate_task(only_neg, n_resamples=100)
    assert result["metrics"]["auroc"]["value"] is None
    assert result["metrics"]["auroc"]["ci"] == [None, None]
    assert result["classes_defined"]["defined"] == 0


def test_two_sided_p():
    assert two_sided_p(np.r_[np.full(990, 0.1), np.full(10, -0.1)]) == pytest.approx(0.02)
    assert two_sided_p(np.full(100, 0.3)) == 0.0
    assert two_sided_p(np.linspace(-1, 1, 101)) == 1.0
    assert two_sided_p(np.full(5, np.nan)) is None


def test_paired_bootstrap_on_runs(tmp_path):
    strong = make_run(tmp_path, "mt", regime="multitask", skill=2.0, seed=1, n_patients=80)
    weak = make_run(tmp_path, "st", regime="single", skill=0.6, seed=2, n_patients=80)
    same = make_run(tmp_path, "st2", regime="single", skill=0.6, seed=2, n_patients=80)
    a = load_task_arrays(strong, "test")["ptbxl.superclass"]
    b = load_task_arrays(weak, "test")["ptbxl.superclass"]
    res = paired_bootstrap(a, b, n_resamples=500, seed=0)
    assert res["diff"]["value"] == pytest.approx(res["a"]["value"] - res["b"]["value"])
    assert res["diff"]["value"] > 0 and res["diff"]["ci"][0] > 0
    assert res["p_value"] < 0.01
    # a run against an identical copy: difference exactly 0, p = 1
    c = load_task_arrays(same, "test")["ptbxl.superclass"]
    res0 = paired_bootstrap(b, c, n_resamples=200)
    assert res0["diff"]["value"] == 0 and res0["p_value"] == 1.0
    # alignment is by sample_id, not row order
    shuffled = subset(b, np.random.default_rng(0).permutation(b.n))
    res1 = paired_bootstrap(a, shuffled, n_resamples=500, seed=0)
    assert res1["diff"] == res["diff"]
    # paired intervals are narrower than the unpaired sum of the two intervals
    width = res["diff"]["ci"][1] - res["diff"]["ci"][0]
    wa = res["a"]["ci"][1] - res["a"]["ci"][0]
    wb = res["b"]["ci"][1] - res["b"]["ci"][0]
    assert width < wa + wb
    json.dumps(res)


def test_single_patient_falls_back_to_sample_bootstrap_and_says_so():
    """One patient (a single-subject time split): a patient-level CI would have zero width."""
    import numpy as np

    from climb.evaluate.run import TaskArrays, evaluate_task

    rng = np.random.default_rng(0)
    n = 200
    y = (rng.random(n) < 0.3).astype(np.float32)
    s = np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1).astype(np.float32)
    task = TaskArrays(
        key="d.t", type="binary", classes=["neg", "pos"], y=y,
        s=np.stack([1 - s, s], axis=1), sample_id=np.array([f"s{i}" for i in range(n)]),
        patient_id=np.array(["one-patient"] * n), meta=[{}] * n,
    )
    out = evaluate_task(task, n_resamples=200, seed=0)
    assert out["bootstrap"]["unit"] == "sample (single patient)"
    lo, hi = out["metrics"]["auroc_macro"]["ci"]
    assert hi - lo > 0.01
    many = TaskArrays(**{**task.__dict__, "patient_id": np.array([f"p{i}" for i in range(n)])})
    assert evaluate_task(many, n_resamples=50, seed=0)["bootstrap"]["unit"] == "patient"
