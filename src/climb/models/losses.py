"""Masked losses: unknown labels never contribute and never produce NaN.

``masked_task_loss`` returns per-sample losses and per-sample weights (0 = unsupervised), so
callers can reweight samples (e.g. by domain, see ``climb.train.drpo``) when reducing with
:func:`reduce_loss`.

- multilabel: BCE-with-logits over the known entries (NaN label or False mask = ignored),
  averaged over the known classes of each sample; optional ``pos_weight`` per class.
- multiclass / binary: cross-entropy, ``-1`` = ignored; optional class weights (the sample
  weight is then the weight of its class, as in ``torch.nn.CrossEntropyLoss``).
- regression: MSE or Huber, NaN = ignored.

:func:`masked_position_loss` is the per-position version (``level: token | node`` tasks):
cross-entropy per token (label -1 = padding / missing) or BCE-with-logits per node and
class (NaN = unknown); each sample's loss is the mean over its supervised positions and its
weight the number of them, so :func:`reduce_loss` gives the mean over every supervised
position of the batch.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def masked_task_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    task_type: str,
    label_mask: torch.Tensor | None = None,
    class_weights: torch.Tensor | None = None,
    regression: str = "mse",
    huber_delta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample loss ``[B]`` and per-sample weight ``[B]`` (0 where unsupervised)."""
    if task_type == "multilabel":
        y = labels.float()
        known = ~torch.isnan(y)
        if label_mask is not None:
            lm = label_mask if label_mask.dim() == 2 else label_mask.unsqueeze(1)
            known = known & lm.bool()
        y0 = torch.where(known, y, torch.zeros_like(y))
        el = F.binary_cross_entropy_with_logits(logits, y0, reduction="none",
                                                pos_weight=class_weights)
        el = torch.where(known, el, torch.zeros_like(el))
        n_known = known.sum(1)
        per = el.sum(1) / n_known.clamp(min=1)
        return per, (n_known > 0).to(logits.dtype)
    if task_type in {"multiclass", "binary"}:
        y = labels.long().view(-1)
        known = y >= 0
        if label_mask is not None:
            known = known & label_mask.bool().view(-1)
        y0 = torch.where(known, y, torch.zeros_like(y))
        per = F.cross_entropy(logits, y0, reduction="none")
        w = known.to(logits.dtype)
        if class_weights is not None:
            w = w * class_weights.to(logits.dtype)[y0]
        return torch.where(known, per, torch.zeros_like(per)), w
    if task_type == "regression":
        y = labels.float().view(-1)
        pred = logits.view(-1)
        known = ~torch.isnan(y)
        if label_mask is not None:
            known = known & label_mask.bool().view(-1)
        y0 = torch.where(known, y, pred.detach())
        if regression == "huber":
            per = F.huber_loss(pred, y0, reduction="none", delta=huber_delta)
        elif regression == "mse":
            per = F.mse_loss(pred, y0, reduction="none")
        else:
            raise ValueError(f"regression loss must be 'mse' or 'huber', not {regression!r}")
        return torch.where(known, per, torch.zeros_like(per)), known.to(pred.dtype)
    raise ValueError(f"unknown task type {task_type!r}")


def reduce_loss(per_sample: torch.Tensor, weight: torch.Tensor,
                sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted mean ``sum(l * w * s) / sum(w)``; 0 (with a zero gradient) when nothing is
    supervised.

    ``sample_weight`` (e.g. DRPO domain weights, mean 1 over a batch) scales the samples'
    losses but is deliberately not in the normaliser: were it, a weight shared by every
    sample of a task (one domain per task) would cancel and change nothing.
    """
    scaled = weight if sample_weight is None else weight * sample_weight
    return (per_sample * scaled).sum() / weight.sum().clamp(min=1e-12)


def balanced_class_weights(counts: torch.Tensor, task_type: str) -> torch.Tensor:
    """Class weights from label counts: multiclass ``N / (C * n_c)``; multilabel
    ``pos_weight = n_neg / n_pos`` (from ``counts`` = [positives, negatives] per class)."""
    if task_type == "multilabel":
        pos, neg = counts[0].float(), counts[1].float()
        return (neg / pos.clamp(min=1)).clamp(max=1e3)
    c = counts.float()
    return (c.sum() / (len(c) * c.clamp(min=1))).clamp(max=1e3)


def masked_position_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    task_type: str,
    owner: torch.Tensor | None = None,
    n_samples: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample loss ``[B]`` and weight ``[B]`` (supervised positions) of a per-position task.

    ``multiclass`` (tokens): ``logits [B, L, C]``, ``labels [B, L']`` long, -1 ignored (padded
    or cropped to ``L``). ``multilabel`` (nodes): ``logits [N, C]``, ``labels [N, C]`` float,
    NaN ignored; ``owner [N]`` the sample of every node, ``n_samples`` = B."""
    if task_type == "multiclass":
        length = logits.shape[1]
        y = labels.long()
        if y.shape[1] < length:
            y = F.pad(y, (0, length - y.shape[1]), value=-1)
        y = y[:, :length]
        known = y >= 0
        el = F.cross_entropy(logits.transpose(1, 2), y.clamp(min=0), reduction="none")
        el = torch.where(known, el, torch.zeros_like(el))
        count = known.sum(1).to(logits.dtype)
        return el.sum(1) / count.clamp(min=1), count
    if task_type == "multilabel":
        if owner is None or n_samples is None:
            raise ValueError("node-level losses need owner (graph of every node) and n_samples")
        y = labels.float()
        known = ~torch.isnan(y)
        el = F.binary_cross_entropy_with_logits(logits, torch.where(known, y, 0.0),
                                                reduction="none")
        el = torch.where(known, el, torch.zeros_like(el))
        per_node = el.sum(1) / known.sum(1).clamp(min=1)
        node_known = known.any(1).to(logits.dtype)
        total = torch.zeros(n_samples, dtype=logits.dtype, device=logits.device)
        count = torch.zeros(n_samples, dtype=logits.dtype, device=logits.device)
        total = total.index_add(0, owner, per_node * node_known)
        count = count.index_add(0, owner, node_known)
        return total / count.clamp(min=1), count
    raise ValueError(f"per-position losses are multiclass (tokens) or multilabel (nodes), not "
                     f"{task_type!r}")
