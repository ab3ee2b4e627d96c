"""Classification and regression metrics, written once for point estimates and bootstraps.

Every metric here takes *sample weights* ``W`` of shape ``[B, N]`` and returns ``B`` values.
A point estimate is ``W = ones([1, N])``; a bootstrap is ``B`` rows of resampling counts
(how many times each sample was drawn), so one vectorized code path serves both and the
bootstrap never calls scikit-learn in a loop. With unit weights every function agrees with
scikit-learn (tests cross-check this).

Task types follow the run directory contract (docs/interfaces.md):

* multilabel: ``y`` float ``[N, C]`` (NaN = unknown, masked per class), ``s`` ``[N, C]``
  probabilities;
* binary / multiclass: ``y`` int ``[N]`` class index (-1 rows are dropped before), ``s``
  ``[N, C]`` softmax probabilities;
* regression: ``y`` and ``s`` float ``[N]``.

A per-class metric is *undefined* (NaN, ``null`` in JSON) when that class has no positives
or no negatives in the evaluated set; macro averages take the mean over the defined classes
and the caller reports how many were defined. A bootstrap keeps that class set fixed (the
classes defined on the full evaluated set) by redrawing resamples where one of them is
undefined (:func:`classes_defined_check`), so every resample estimates the same macro mean.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_curve

N_ECE_BINS = 15
CLASSIFICATION = ("binary", "multiclass", "multilabel")

# The single number that summarizes a task (tables, robustness curves, worst group).
HEADLINE = {
    "token_multiclass": "accuracy",
    "node_multilabel": "micro_f1",
    "binary": "auroc_macro",
    "multiclass": "auroc_macro",
    "multilabel": "auroc_macro",
    "regression": "mae",
}
LOWER_IS_BETTER = frozenset({"mae", "rmse", "ece"})


@dataclass
class TaskArrays:
    """One task's labels and scores as numpy arrays, ready for the metric functions."""

    key: str
    type: str
    classes: list[str]
    y: np.ndarray
    s: np.ndarray
    sample_id: np.ndarray
    patient_id: np.ndarray
    meta: list[dict] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.y)


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


# ---------------------------------------------------------------- binary building blocks


def _grouped(y: np.ndarray, s: np.ndarray, W: np.ndarray, descending: bool):
    """Weighted positives/negatives per distinct score value, in score order: [B, G] each."""
    order = np.argsort(-s if descending else s, kind="mergesort")
    s_sorted = s[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    Wo = W[:, order]
    yo = y[order].astype(bool)
    pos = np.where(yo, Wo, 0.0)
    neg = Wo - pos
    if len(starts) < len(s_sorted):  # tied scores: one column per distinct value
        pos = np.add.reduceat(pos, starts, axis=1)
        neg = np.add.reduceat(neg, starts, axis=1)
    return pos, neg


def binary_auroc(y: np.ndarray, s: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted area under the ROC curve (ties count 1/2); NaN without positives or negatives."""
    if len(y) == 0:
        return np.full(W.shape[0], np.nan)
    pos, neg = _grouped(y, s, W, descending=False)
    neg_below = np.cumsum(neg, axis=1) - neg
    num = np.sum(pos * (neg_below + 0.5 * neg), axis=1)
    return _div(num, pos.sum(1) * neg.sum(1))


def binary_auprc(y: np.ndarray, s: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted average precision (scikit-learn's step-wise definition)."""
    if len(y) == 0:
        return np.full(W.shape[0], np.nan)
    pos, neg = _grouped(y, s, W, descending=True)
    tp = np.cumsum(pos, axis=1)
    fp = np.cumsum(neg, axis=1)
    total_pos = tp[:, -1:]
    precision = np.zeros_like(tp)
    np.divide(tp, tp + fp, out=precision, where=(tp + fp) > 0)
    recall = _div(tp, np.broadcast_to(total_pos, tp.shape))
    d_recall = np.diff(np.concatenate([np.zeros((len(tp), 1)), recall], axis=1), axis=1)
    ap = np.sum(d_recall * precision, axis=1)
    defined = (total_pos[:, 0] > 0) & (fp[:, -1] > 0)
    return np.where(defined, ap, np.nan)


def _confusion(y: np.ndarray, pred: np.ndarray, W: np.ndarray):
    y = y.astype(bool)
    pred = pred.astype(bool)
    tp = W @ (y & pred).astype(np.float64)
    fp = W @ (~y & pred).astype(np.float64)
    fn = W @ (y & ~pred).astype(np.float64)
    tn = W @ (~y & ~pred).astype(np.float64)
    return tp, fp, fn, tn


def binary_threshold_metrics(
    y: np.ndarray, pred: np.ndarray, W: np.ndarray
) -> dict[str, np.ndarray]:
    """Sensitivity, specificity, F1 and balanced accuracy of hard predictions, per weight row.

    All four are NaN where the class has no positives or no negatives in that row.
    """
    tp, fp, fn, tn = _confusion(y, pred, W)
    defined = ((tp + fn) > 0) & ((tn + fp) > 0)
    sens = _div(tp, tp + fn)
    spec = _div(tn, tn + fp)
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    out = {"sensitivity": sens, "specificity": spec, "f1": f1}
    out["balanced_accuracy"] = (sens + spec) / 2
    return {k: np.where(defined, v, np.nan) for k, v in out.items()}


def calibration_error(
    prob: np.ndarray, correct: np.ndarray, W: np.ndarray, n_bins: int = N_ECE_BINS
) -> np.ndarray:
    """Expected calibration error: sum over equal-width bins of weight * |accuracy - confidence|.

    ``prob`` is the confidence of each prediction and ``correct`` whether it was right (or, for
    the marginal multilabel version, the probability of the positive class and the label).
    Binning is torchmetrics' (``torch.bucketize(prob, linspace(0, 1, n_bins + 1), right=True)
    - 1``): bins are [lo, hi), and a confidence of exactly 1.0 gets a bin of its own. With
    unit weights the value equals torchmetrics' ``binary_calibration_error`` (marginal form)
    and ``multiclass_calibration_error`` (top-label form) with ``norm="l1"`` (tests check it).
    """
    if len(prob) == 0:
        return np.full(W.shape[0], np.nan)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, prob, side="right") - 1, 0, n_bins)
    onehot = np.zeros((len(prob), n_bins + 1))
    onehot[np.arange(len(prob)), idx] = 1.0
    w_bin = W @ onehot
    conf_bin = W @ (onehot * prob[:, None])
    acc_bin = W @ (onehot * correct.astype(np.float64)[:, None])
    total = w_bin.sum(1)
    return _div(np.abs(acc_bin - conf_bin).sum(1), total)


# ---------------------------------------------------------------- thresholds


def youden_thresholds(y: np.ndarray, s: np.ndarray, task_type: str) -> list[float | None]:
    """Per-class threshold maximizing Youden's J (sensitivity + specificity - 1) on ``y``/``s``.

    Meant for validation predictions. ``None`` for a class without positives or negatives
    (the caller falls back to the default 0.5). Binary tasks return one threshold, for the
    positive (second) class.
    """
    Y, S = one_vs_rest(y, s, task_type)
    cols = [1] if task_type == "binary" else range(Y.shape[1])
    out: list[float | None] = []
    for c in cols:
        valid = ~np.isnan(Y[:, c])
        yc = Y[valid, c]
        if yc.size == 0 or yc.min() == yc.max():
            out.append(None)
            continue
        fpr, tpr, thr = roc_curve(yc, S[valid, c])
        best = int(np.argmax(tpr - fpr))
        out.append(float(min(thr[best], 1.0)))
    return out


def one_vs_rest(y: np.ndarray, s: np.ndarray, task_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Label matrix [N, C] (NaN = unknown) and score matrix [N, C] for any classification task."""
    s = np.asarray(s, dtype=np.float64)
    if task_type == "multilabel":
        return np.asarray(y, dtype=np.float64), s
    y = np.asarray(y).astype(int)
    Y = np.zeros(s.shape, dtype=np.float64)
    Y[np.arange(len(y)), y] = 1.0
    return Y, s


# ---------------------------------------------------------------- task-level metrics


def classification_metrics(
    task_type: str,
    y: np.ndarray,
    s: np.ndarray,
    W: np.ndarray,
    thresholds: Sequence[float | None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """All classification metrics for one task.

    Returns ``(summary, per_class)``: summary maps a metric name to ``[B]`` values, per_class
    maps a metric name to ``[B, C]``. ``thresholds`` (per class for multilabel, one value for
    binary; ``None`` entries mean 0.5) turn probabilities into hard predictions; multiclass
    tasks with more than two classes use the arg-max instead.
    """
    Y, S = one_vs_rest(y, s, task_type)
    n_cls = S.shape[1]
    B = W.shape[0]
    per_class = {k: np.full((B, n_cls), np.nan) for k in ("auroc", "auprc")}
    for k in ("sensitivity", "specificity", "f1", "balanced_accuracy"):
        per_class[k] = np.full((B, n_cls), np.nan)

    if task_type == "multilabel":
        thr = _thresholds(thresholds, n_cls)
        pred_matrix = np.asarray(thr)[None, :] <= S
    elif task_type == "binary":
        thr1 = _thresholds(thresholds, 1)[0]
        pos = S[:, 1] >= thr1
        pred_matrix = np.stack([~pos, pos], axis=1)
    else:
        pred_matrix = np.zeros_like(S, dtype=bool)
        pred_matrix[np.arange(len(S)), np.argmax(S, axis=1)] = True

    for c in range(n_cls):
        valid = ~np.isnan(Y[:, c])
        yc, sc, Wc = Y[valid, c], S[valid, c], W[:, valid]
        per_class["auroc"][:, c] = binary_auroc(yc, sc, Wc)
        per_class["auprc"][:, c] = binary_auprc(yc, sc, Wc)
        for k, v in binary_threshold_metrics(yc, pred_matrix[valid, c], Wc).items():
            per_class[k][:, c] = v

    summary: dict[str, np.ndarray] = {
        "auroc_macro": _nanmean(per_class["auroc"], 1),
        "auprc_macro": _nanmean(per_class["auprc"], 1),
        "f1_macro": _nanmean(per_class["f1"], 1),
    }
    # micro AUROC: every (sample, class) entry pooled
    rows, cols = np.nonzero(~np.isnan(Y))
    summary["auroc_micro"] = binary_auroc(Y[rows, cols], S[rows, cols], W[:, rows])

    if task_type == "multilabel":
        summary["balanced_accuracy"] = _nanmean(per_class["balanced_accuracy"], 1)
        summary["sensitivity"] = _nanmean(per_class["sensitivity"], 1)
        summary["specificity"] = _nanmean(per_class["specificity"], 1)
        correct = pred_matrix[rows, cols] == Y[rows, cols].astype(bool)
        summary["hamming_accuracy"] = _div(W[:, rows] @ correct, W[:, rows].sum(1))
        summary["ece"] = calibration_error(S[rows, cols], Y[rows, cols], W[:, rows])
    else:
        yi = np.asarray(y).astype(int)
        pred = np.argmax(pred_matrix, axis=1)
        correct = pred == yi
        summary["accuracy"] = _div(W @ correct, W.sum(1))
        # mean recall over the classes present (scikit-learn's balanced accuracy)
        summary["balanced_accuracy"] = _nanmean(per_class["sensitivity"], 1)
        if task_type == "binary":
            summary["sensitivity"] = per_class["sensitivity"][:, 1]
            summary["specificity"] = per_class["specificity"][:, 1]
            summary["auroc"] = per_class["auroc"][:, 1]
            summary["auprc"] = per_class["auprc"][:, 1]
        else:
            summary["sensitivity"] = _nanmean(per_class["sensitivity"], 1)
            summary["specificity"] = _nanmean(per_class["specificity"], 1)
        summary["ece"] = calibration_error(S.max(1), np.argmax(S, 1) == yi, W)
    return summary, per_class


def regression_metrics(y: np.ndarray, s: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted mean absolute error and root mean squared error."""
    err = np.asarray(s, np.float64) - np.asarray(y, np.float64)
    total = W.sum(1)
    return {"mae": _div(W @ np.abs(err), total), "rmse": np.sqrt(_div(W @ err**2, total))}


# ---------------------------------------------------------------- per-position tasks

POSITION_TYPES = ("token_multiclass", "node_multilabel")


def position_counts(kind: str, label: np.ndarray, scores: np.ndarray,
                    n_classes: int) -> np.ndarray:
    """One sample's ``[3, C]`` true-positive / false-positive / false-negative counts over its
    positions: tokens (``label [L]`` class ids, -1 skipped; ``scores [L * C]``, argmax) or nodes
    (``label``/``scores`` ``[N * C]``, NaN labels skipped, score >= 0.5 = predicted)."""
    s = np.asarray(scores, np.float64).reshape(-1, n_classes)
    out = np.zeros((3, n_classes))
    if kind == "token_multiclass":
        y = np.asarray(label, np.float64).reshape(-1)[: len(s)].astype(int)
        keep = y >= 0
        y, pred = y[keep], s[: len(keep)][keep].argmax(1)
        for c in range(n_classes):
            out[0, c] = np.sum((pred == c) & (y == c))
            out[1, c] = np.sum((pred == c) & (y != c))
            out[2, c] = np.sum((pred != c) & (y == c))
        return out
    y = np.asarray(label, np.float64).reshape(-1, n_classes)
    known = ~np.isnan(y)
    pos, pred = (y == 1) & known, (s >= 0.5) & known
    out[0], out[1], out[2] = (pos & pred).sum(0), (~pos & pred).sum(0), (pos & ~pred).sum(0)
    return out


def position_metrics(kind: str, counts: np.ndarray,
                     W: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-position metrics from per-sample counts ``[n, 3, C]`` weighted by ``W [B, n]``
    (a bootstrap resamples samples, i.e. whole proteins / graphs, never single positions).
    Tokens: ``accuracy`` (Q3/Q8 as TAPE reports) and ``macro_f1`` over classes present;
    nodes: ``micro_f1`` (as GraphSAGE reports on PPI) and ``macro_f1``; per class ``f1``."""
    tp, fp, fn = (np.einsum("bn,nc->bc", W, counts[:, k]) for k in range(3))
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    present = (tp + fn) > 0
    macro = _nanmean(np.where(present, f1, np.nan), axis=1)
    if kind == "token_multiclass":
        summary = {"accuracy": _div(tp.sum(1), (tp + fn).sum(1)), "macro_f1": macro}
    else:
        summary = {"micro_f1": _div(2 * tp.sum(1), (2 * tp + fp + fn).sum(1)),
                   "macro_f1": macro}
    return summary, {"f1": f1}


def task_metrics(
    task: TaskArrays, W: np.ndarray | None = None, thresholds: Sequence[float | None] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Summary ``{name: [B]}`` and per-class ``{name: [B, C]}`` metrics of one task."""
    if W is None:
        W = np.ones((1, task.n))
    if task.type in POSITION_TYPES:
        return position_metrics(task.type, task.y, W)
    if task.type == "regression":
        return regression_metrics(task.y, task.s, W), {}
    if task.type not in CLASSIFICATION:
        raise ValueError(f"{task.key}: metrics for task type {task.type!r} are not implemented")
    return classification_metrics(task.type, task.y, task.s, W, thresholds)


def defined_classes(task: TaskArrays) -> list[int]:
    """Indices of the classes with both positives and negatives (the classes macro averages
    use); for a bootstrap, the fixed class set of the estimand."""
    if task.type == "regression":
        return []
    if task.type in POSITION_TYPES:  # classes with a labelled position
        return [int(c) for c in np.flatnonzero((task.y[:, 0] + task.y[:, 2]).sum(0) > 0)]
    Y, _ = one_vs_rest(task.y, task.s, task.type)
    out = []
    for c in range(Y.shape[1]):
        yc = Y[~np.isnan(Y[:, c]), c]
        if yc.size > 0 and 0 < yc.sum() < yc.size:
            out.append(c)
    return out


def n_defined(task: TaskArrays) -> dict[str, int]:
    """How many classes have both positives and negatives (the classes macro averages use)."""
    if task.type == "regression":
        return {"defined": 0, "of": 0}
    return {"defined": len(defined_classes(task)), "of": int(task.s.shape[1])}


def classes_defined_check(task: TaskArrays, classes: Sequence[int]):
    """``accept(W) -> bool[B]``: True for weight rows in which every class in ``classes`` has
    positive and negative weight (every per-class metric of the fixed class set is defined).
    None when there is nothing to check (regression, or no class)."""
    if task.type == "regression" or not len(classes):
        return None
    if task.type in POSITION_TYPES:  # every class of the set keeps a labelled position
        support = (task.y[:, 0] + task.y[:, 2])[:, list(classes)]
        return lambda W: np.all(W @ support > 0, axis=1)
    Y, _ = one_vs_rest(task.y, task.s, task.type)
    Y = Y[:, list(classes)]
    positive = np.nan_to_num(Y, nan=0.0)
    negative = np.where(np.isnan(Y), 0.0, 1.0 - Y)

    def accept(W: np.ndarray) -> np.ndarray:
        return np.all(W @ positive > 0, axis=1) & np.all(W @ negative > 0, axis=1)

    return accept


def _thresholds(thresholds: Sequence[float | None] | None, n: int) -> list[float]:
    if thresholds is None:
        return [0.5] * n
    if len(thresholds) != n:
        raise ValueError(f"expected {n} thresholds, got {len(thresholds)}")
    return [0.5 if t is None else float(t) for t in thresholds]
