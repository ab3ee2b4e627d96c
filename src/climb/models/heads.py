"""Per-task heads over each dataset's harmonized label space.

A task is anything with ``key``, ``type`` (multilabel | multiclass | binary | regression) and
``classes`` (``climb.load.TaskSpec`` or the entries of ``RUN/tasks.json``).
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

TASK_TYPES = ("multilabel", "multiclass", "binary", "regression")


def position_type(task) -> str | None:
    """The per-position loss/score type of a ``level: token | node`` task (None for
    sample-level tasks): a token ``segmentation`` (one class per residue) is ``multiclass``
    per position, a node ``multilabel`` task is ``multilabel`` per node."""
    level = getattr(task, "level", "sample")
    if level not in ("token", "node"):
        return None
    kind = "multiclass" if task.type == "segmentation" else task.type
    if kind not in ("multiclass", "multilabel"):
        raise ValueError(f"task {task.key}: per-{level} {task.type!r} tasks are not supported "
                         "(multiclass / segmentation or multilabel)")
    return kind


class TaskLike(Protocol):
    key: str
    type: str
    classes: list[Any]


def task_out_dim(task: TaskLike) -> int:
    """Logit width: one per class (binary = 2 softmax classes), 1 for regression."""
    kind = position_type(task)
    if kind is not None:
        return len(task.classes)
    if task.type not in TASK_TYPES:
        raise ValueError(f"task {task.key}: unknown type {task.type!r}; one of {TASK_TYPES}")
    if task.type == "regression":
        return 1
    n = len(task.classes or [])
    if task.type == "binary":
        return max(n, 2)
    if n < 1:
        raise ValueError(f"task {task.key}: {task.type} task without classes")
    return n


class TaskHead(nn.Module):
    """Linear (``hidden=None``) or one-hidden-layer MLP head for one task."""

    def __init__(self, in_dim: int, task: TaskLike, hidden: int | None = None,
                 dropout: float = 0.0):
        super().__init__()
        out = task_out_dim(task)
        self.task_type = position_type(task) or task.type
        if hidden:
            self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                     nn.Linear(hidden, out))
        else:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, out))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``[B, D] -> [B, C]``; per position ``[B, L, D] -> [B, L, C]`` or ``[N, D] -> [N, C]``."""
        out = self.net(h)
        return out[:, 0] if self.task_type == "regression" else out


def scores_from_logits(logits: torch.Tensor, task_type: str) -> torch.Tensor:
    """Scores of the predictions format: sigmoid (multilabel), softmax (multiclass/binary),
    the value itself (regression, as ``[B, 1]``)."""
    if task_type == "multilabel":
        return torch.sigmoid(logits)
    if task_type in {"multiclass", "binary"}:
        return torch.softmax(logits, dim=-1)
    return logits.reshape(-1, 1)
