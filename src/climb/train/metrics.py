"""Summary metrics written by training (``climb evaluate`` adds CIs and subgroups)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def _auroc(y: np.ndarray, s: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, s))


def task_metrics(df: pd.DataFrame, task) -> dict[str, Any]:
    """AUROC (macro over classes with both labels) and accuracy for classification tasks;
    MAE/RMSE for regression. Rows with unknown labels are skipped."""
    rows = df[df["task"] == task.key]
    if rows.empty:
        return {"n": 0}
    level = getattr(task, "level", "sample")
    if level in ("token", "node"):  # per-position: pooled counts over the split
        from climb.evaluate.metrics import position_counts, position_metrics

        kind = "token_multiclass" if level == "token" else "node_multilabel"
        counts = np.stack([position_counts(kind, y, s, len(task.classes))
                           for y, s in zip(rows["label"], rows["scores"], strict=True)])
        summary, _ = position_metrics(kind, counts, np.ones((1, len(counts))))
        return {"n": len(rows), **{k: (None if np.isnan(v[0]) else float(v[0]))
                                   for k, v in summary.items()}}
    labels = np.stack(rows["label"].to_numpy())
    scores = np.stack(rows["scores"].to_numpy())
    out: dict[str, Any] = {"n": len(rows)}
    if task.type == "regression":
        ok = ~np.isnan(labels[:, 0])
        err = scores[ok, 0] - labels[ok, 0]
        out.update(n=int(ok.sum()), mae=float(np.abs(err).mean()) if ok.any() else None,
                   rmse=float(math.sqrt((err ** 2).mean())) if ok.any() else None)
        return out
    if task.type == "multilabel":
        aucs = []
        for c in range(labels.shape[1]):
            ok = ~np.isnan(labels[:, c])
            a = _auroc(labels[ok, c], scores[ok, c]) if ok.any() else None
            if a is not None:
                aucs.append(a)
        out["auroc_macro"] = float(np.mean(aucs)) if aucs else None
        return out
    y = labels[:, 0].astype(int)
    ok = y >= 0
    y, s = y[ok], scores[ok]
    out["n"] = int(ok.sum())
    out["accuracy"] = float((s.argmax(1) == y).mean()) if ok.any() else None
    aucs = [a for c in range(s.shape[1]) if (a := _auroc((y == c).astype(int), s[:, c]))
            is not None]
    if s.shape[1] == 2:
        out["auroc"] = _auroc(y, s[:, 1])
    else:
        out["auroc_macro"] = float(np.mean(aucs)) if aucs else None
    return out
