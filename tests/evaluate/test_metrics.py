"""Metrics agree with scikit-learn (and torchmetrics when installed), degenerate cases included."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from climb.evaluate.metrics import (
    TaskArrays,
    binary_auprc,
    binary_auroc,
    calibration_error,
    n_defined,
    task_metrics,
    youden_thresholds,
)


def _task(task_type, y, s, classes=None):
    n = len(y)
    classes = classes or [f"c{i}" for i in range(np.asarray(s).shape[1] if np.ndim(s) > 1 else 0)]
    return TaskArrays(
        "d.t",
        task_type,
        classes,
        np.asarray(y),
        np.asarray(s, np.float64),
        np.array([f"s{i}" for i in range(n)]),
        np.array([f"p{i}" for i in range(n)]),
    )


@pytest.fixture()
def rng():
    return np.random.default_rng(7)


def test_binary_auroc_auprc_match_sklearn_with_ties_and_weights(rng):
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) * 0.5 + 0.3 * y, 2)  # rounding makes many ties
    w = rng.integers(0, 4, 300).astype(float)
    W = np.stack([np.ones(300), w])
    auc = binary_auroc(y, s, W)
    ap = binary_auprc(y, s, W)
    assert auc[0] == pytest.approx(skm.roc_auc_score(y, s))
    assert auc[1] == pytest.approx(skm.roc_auc_score(y, s, sample_weight=w))
    assert ap[0] == pytest.approx(skm.average_precision_score(y, s))
    assert ap[1] == pytest.approx(skm.average_precision_score(y, s, sample_weight=w))


def test_multilabel_matches_sklearn_with_nan_masking(rng):
    n, c = 400, 4
    y = (rng.random((n, c)) < 0.35).astype(float)
    s = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(size=(n, c)))))
    y[rng.random((n, c)) < 0.15] = np.nan
    thr = [0.4, 0.5, 0.6, 0.5]
    summary, per_class = task_metrics(_task("multilabel", y, s), thresholds=thr)
    aucs, aps, f1s, bals, sens, specs = [], [], [], [], [], []
    for k in range(c):
        m = ~np.isnan(y[:, k])
        yk, sk, pk = y[m, k], s[m, k], s[m, k] >= thr[k]
        aucs.append(skm.roc_auc_score(yk, sk))
        aps.append(skm.average_precision_score(yk, sk))
        f1s.append(skm.f1_score(yk, pk))
        bals.append(skm.balanced_accuracy_score(yk, pk))
        sens.append(skm.recall_score(yk, pk))
        specs.append(skm.recall_score(yk, pk, pos_label=0))
    assert per_class["auroc"][0] == pytest.approx(aucs)
    assert summary["auroc_macro"][0] == pytest.approx(np.mean(aucs))
    assert summary["auprc_macro"][0] == pytest.approx(np.mean(aps))
    assert summary["f1_macro"][0] == pytest.approx(np.mean(f1s))
    assert summary["balanced_accuracy"][0] == pytest.approx(np.mean(bals))
    assert summary["sensitivity"][0] == pytest.approx(np.mean(sens))
    assert summary["specificity"][0] == pytest.approx(np.mean(specs))
    valid = ~np.isnan(y)
    assert summary["auroc_micro"][0] == pytest.approx(skm.roc_auc_score(y[valid], s[valid]))
    pred = s >= np.array(thr)
    assert summary["hamming_accuracy"][0] == pytest.approx(np.mean(pred[valid] == y[valid]))


def test_multiclass_matches_sklearn(rng):
    n, c = 300, 3
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), y] += 1.0
    s = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    summary, _per_class = task_metrics(_task("multiclass", y, s))
    pred = s.argmax(1)
    assert summary["auroc_macro"][0] == pytest.approx(skm.roc_auc_score(y, s, multi_class="ovr"))
    onehot = np.eye(c)[y]
    assert summary["auroc_micro"][0] == pytest.approx(skm.roc_auc_score(onehot, s, average="micro"))
    assert summary["auprc_macro"][0] == pytest.approx(
        skm.average_precision_score(onehot, s, average="macro")
    )
    assert summary["f1_macro"][0] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert summary["balanced_accuracy"][0] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert summary["accuracy"][0] == pytest.approx(skm.accuracy_score(y, pred))


def test_binary_threshold_and_youden(rng):
    n = 500
    y = rng.integers(0, 2, n)
    p1 = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + rng.normal(size=n) - 0.8)))
    s = np.stack([1 - p1, p1], 1)
    (thr,) = youden_thresholds(y, s, "binary")
    fpr, tpr, t = skm.roc_curve(y, p1)
    assert thr == pytest.approx(t[np.argmax(tpr - fpr)])
    summary, _ = task_metrics(_task("binary", y, s), thresholds=[thr])
    pred = p1 >= thr
    assert summary["sensitivity"][0] == pytest.approx(skm.recall_score(y, pred))
    assert summary["specificity"][0] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert summary["auroc"][0] == pytest.approx(skm.roc_auc_score(y, p1))
    assert summary["auroc_macro"][0] == pytest.approx(skm.roc_auc_score(y, p1))
    # the tuned threshold beats 0.5 on Youden's J for these shifted scores
    default, _ = task_metrics(_task("binary", y, s))
    assert (summary["sensitivity"] + summary["specificity"])[0] >= (
        default["sensitivity"] + default["specificity"]
    )[0]


def test_regression_matches_sklearn(rng):
    y = rng.normal(50, 10, 200)
    s = y + rng.normal(0, 5, 200)
    summary, _ = task_metrics(_task("regression", y, s))
    assert summary["mae"][0] == pytest.approx(skm.mean_absolute_error(y, s))
    assert summary["rmse"][0] == pytest.approx(np.sqrt(skm.mean_squared_error(y, s)))


def test_degenerate_classes_are_undefined_not_half(rng):
    n = 100
    y = (rng.random((n, 3)) < 0.4).astype(float)
    y[:, 1] = 0.0  # no positives
    y[:, 2] = 1.0  # no negatives
    s = rng.random((n, 3))
    task = _task("multilabel", y, s)
    summary, per_class = task_metrics(task)
    assert np.isnan(per_class["auroc"][0, 1]) and np.isnan(per_class["auroc"][0, 2])
    assert np.isnan(per_class["auprc"][0, 1]) and np.isnan(per_class["sensitivity"][0, 1])
    assert summary["auroc_macro"][0] == pytest.approx(skm.roc_auc_score(y[:, 0], s[:, 0]))
    assert n_defined(task) == {"defined": 1, "of": 3}
    # a task where no class is defined: every summary metric NaN, no crash
    y_none = np.zeros((n, 2))
    summary, _ = task_metrics(_task("multilabel", y_none, rng.random((n, 2))))
    assert np.isnan(summary["auroc_macro"][0]) and np.isnan(summary["auroc_micro"][0])
    # empty task
    summary, _ = task_metrics(_task("multiclass", np.zeros(0, int), np.zeros((0, 3))))
    assert np.isnan(summary["auroc_macro"][0])


def test_multiclass_with_absent_class(rng):
    n = 120
    y = rng.integers(0, 2, n)  # class 2 never occurs
    s = rng.dirichlet(np.ones(3), n)
    summary, per_class = task_metrics(_task("multiclass", y, s))
    assert np.isnan(per_class["auroc"][0, 2])
    expected = np.mean([skm.roc_auc_score(y == k, s[:, k]) for k in (0, 1)])
    assert summary["auroc_macro"][0] == pytest.approx(expected)
    pred = s.argmax(1)
    assert summary["balanced_accuracy"][0] == pytest.approx(
        np.mean([skm.recall_score(y == k, pred == k) for k in (0, 1)])
    )


def test_ece_known_value_and_torchmetrics(rng):
    # all predictions 0.8 confident, 60% right -> ECE 0.2
    prob = np.full(10, 0.8)
    correct = np.array([1] * 6 + [0] * 4)
    assert calibration_error(prob, correct, np.ones((1, 10)))[0] == pytest.approx(0.2)
    tm = pytest.importorskip("torchmetrics.functional.classification")
    torch = pytest.importorskip("torch")
    n, c = 500, 4
    y = rng.integers(0, c, n)
    s = rng.dirichlet(np.ones(c) * 0.7, n)
    summary, _ = task_metrics(_task("multiclass", y, s))
    ref = tm.multiclass_calibration_error(
        torch.tensor(s), torch.tensor(y), num_classes=c, n_bins=15, norm="l1"
    )
    assert summary["ece"][0] == pytest.approx(float(ref), abs=1e-5)
    ref_auc = tm.multiclass_auroc(torch.tensor(s), torch.tensor(y), num_classes=c)
    assert summary["auroc_macro"][0] == pytest.approx(float(ref_auc), abs=1e-5)
    yl = (rng.random((n, c)) < 0.3).astype(float)
    sl = rng.random((n, c))
    summary, _ = task_metrics(_task("multilabel", yl, sl))
    ref = tm.binary_calibration_error(
        torch.tensor(sl.ravel()), torch.tensor(yl.ravel()).long(), n_bins=15, norm="l1"
    )
    assert summary["ece"][0] == pytest.approx(float(ref), abs=1e-5)


def test_ece_bins_are_torchmetrics_bins_on_the_edges(rng):
    """Confidences exactly on bin edges (and 1.0) fall where torchmetrics puts them: bins are
    [lo, hi), 1.0 alone in a last bin. With (lo, hi] bins these cases give other values."""
    tm = pytest.importorskip("torchmetrics.functional.classification")
    torch = pytest.importorskip("torch")
    n_bins = 8  # edges k/8 are exact in float64 for numpy and torch alike
    edges = np.arange(n_bins + 1) / n_bins
    prob = np.where(rng.random(400) < 0.5, rng.choice(edges, 400), rng.random(400))
    label = (rng.random(400) < prob).astype(int)
    ours = calibration_error(prob, label, np.ones((1, 400)), n_bins=n_bins)[0]
    ref = tm.binary_calibration_error(
        torch.tensor(prob), torch.tensor(label), n_bins=n_bins, norm="l1"
    )
    assert ours == pytest.approx(float(ref), abs=1e-12)
    # the half-open side matters here: a (lo, hi] binning gives a different value
    shifted = np.clip(np.searchsorted(edges, prob, side="left") - 1, 0, n_bins - 1)
    onehot = np.eye(n_bins)[shifted]
    other = np.abs(onehot.T @ label - onehot.T @ prob).sum() / len(prob)
    assert abs(other - ours) > 1e-3
    # multiclass top-label form: confidences 1/2, 3/4, 1 are bin edges
    base = np.array([[0.5, 0.25, 0.25], [0.75, 0.125, 0.125], [1.0, 0.0, 0.0]])
    s = base[rng.integers(0, 3, 300)][:, rng.permutation(3)]
    y = rng.integers(0, 3, 300)
    summary, _ = task_metrics(_task("multiclass", y, s))
    ref = tm.multiclass_calibration_error(
        torch.tensor(s), torch.tensor(y), num_classes=3, n_bins=n_bins, norm="l1"
    )
    top = calibration_error(s.max(1), s.argmax(1) == y, np.ones((1, 300)), n_bins=n_bins)[0]
    assert top == pytest.approx(float(ref), abs=1e-6)  # torchmetrics casts to float32
    assert summary["ece"][0] == pytest.approx(
        float(tm.multiclass_calibration_error(torch.tensor(s), torch.tensor(y), num_classes=3)),
        abs=1e-6,
    )
