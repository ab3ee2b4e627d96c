"""Early fusion: concatenate the (masked) embeddings and the modality masks, then an MLP."""

from __future__ import annotations

import torch
from torch import nn


def masked(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero the rows of ``h`` whose sample lacks the modality (also clears NaN there)."""
    return torch.where(mask.view(-1, *([1] * (h.dim() - 1))), h, torch.zeros_like(h))


class EarlyFusion(nn.Module):
    """``concat(h_m * mask_m for m) ++ masks`` -> MLP -> ``[B, dim]``."""

    def __init__(self, in_dims: dict[str, int], dim: int = 256, hidden: int | None = None,
                 dropout: float = 0.0):
        super().__init__()
        self.names = sorted(in_dims)
        width = sum(in_dims.values()) + len(in_dims)
        hidden = hidden or dim
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim))
        self.out_dim = dim

    def forward(self, embeddings: dict[str, torch.Tensor],
                masks: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [masked(embeddings[n], masks[n]) for n in self.names]
        parts += [masks[n].to(parts[0].dtype).unsqueeze(1) for n in self.names]
        return self.mlp(torch.cat(parts, dim=1))


class MaskedMeanFusion(nn.Module):
    """No learned fusion: one modality passes through; several are projected to ``dim``
    (when widths differ) and averaged over the present ones."""

    def __init__(self, in_dims: dict[str, int], dim: int | None = None):
        super().__init__()
        self.names = sorted(in_dims)
        widths = {in_dims[n] for n in self.names}
        if dim is None and len(widths) == 1:
            dim = widths.pop()
        dim = dim or max(in_dims.values())
        self.proj = nn.ModuleDict({n: nn.Identity() if in_dims[n] == dim
                                   else nn.Linear(in_dims[n], dim) for n in self.names})
        self.out_dim = dim

    def forward(self, embeddings: dict[str, torch.Tensor],
                masks: dict[str, torch.Tensor]) -> torch.Tensor:
        total, count = 0.0, 0.0
        for n in self.names:
            m = masks[n].unsqueeze(1)
            total = total + masked(self.proj[n](embeddings[n]), masks[n])
            count = count + m.to(embeddings[n].dtype)
        return total / torch.clamp(count, min=1.0)
