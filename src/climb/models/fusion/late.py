"""Late fusion: one set of task heads per modality; logits averaged over present modalities."""

from __future__ import annotations

import torch
from torch import nn

from climb.models.heads import TaskHead


class LateFusion(nn.Module):
    """Per-modality heads; ``forward`` returns ``{task_key: logits}`` (mask-weighted mean).

    A sample with no modality at all gets zero logits (uniform probabilities), never NaN.
    """

    produces_logits = True

    def __init__(self, in_dims: dict[str, int], tasks: list, hidden: int | None = None,
                 dropout: float = 0.0):
        super().__init__()
        self.names = sorted(in_dims)
        self.task_keys = [t.key for t in tasks]
        self.heads = nn.ModuleDict({
            n: nn.ModuleDict({_safe(t.key): TaskHead(in_dims[n], t, hidden, dropout)
                              for t in tasks})
            for n in self.names
        })
        self.out_dim = None

    def forward(self, embeddings: dict[str, torch.Tensor],
                masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for key in self.task_keys:
            total, count = 0.0, 0.0
            for n in self.names:
                logits = self.heads[n][_safe(key)](embeddings[n])
                m = masks[n].view(-1, *([1] * (logits.dim() - 1)))
                total = total + torch.where(m, logits, torch.zeros_like(logits))
                count = count + m.to(logits.dtype)
            out[key] = total / torch.clamp(count, min=1.0)
        return out


def _safe(key: str) -> str:
    """ModuleDict keys cannot contain dots."""
    return key.replace(".", "__")
