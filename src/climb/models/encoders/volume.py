"""3D volume encoder: a 2D encoder applied per slice, then pooling over slices (as in CLIMB).

Input ``[B, D, H, W]`` (or ``[B, C, D, H, W]``); every slice goes through the 2D image encoder
and the slice embeddings are pooled (mean, or attention with a learned query).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class SlicePool(nn.Module):
    """Pool ``[B, S, D]`` -> ``[B, D]`` by ``mean`` or learned-query ``attention``."""

    def __init__(self, dim: int, mode: str = "mean", heads: int = 1):
        super().__init__()
        if mode not in {"mean", "attention"}:
            raise ValueError(f"pooling must be 'mean' or 'attention', not {mode!r}")
        self.mode = mode
        if mode == "attention":
            self.query = nn.Parameter(torch.zeros(1, 1, dim))
            self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.mode == "mean":
            return h.mean(1)
        out, _ = self.attn(self.query.expand(h.shape[0], -1, -1), h, h, need_weights=False)
        return out[:, 0]


def subsample_index(n: int, max_items: int | None) -> torch.Tensor:
    """Evenly spaced indices keeping at most ``max_items`` of ``n`` (deterministic)."""
    if not max_items or n <= max_items:
        return torch.arange(n)
    return torch.linspace(0, n - 1, max_items).round().long()


class SliceVolumeEncoder(nn.Module):
    """Per-slice 2D encoder + slice pooling.

    Args:
        image: config of the 2D image encoder (``climb.models.encoders.image``).
        pooling: ``mean`` or ``attention``.
        max_slices: evenly subsample at most this many slices (None = all).
        window: ``[centre, width]`` (e.g. HU of ``read.standardize_volume.HU_WINDOWS``): a
            non-uint8 volume (int16 HU) is mapped to [0, 1] over it first; None = as given.
    """

    def __init__(self, image: dict[str, Any], pooling: str = "mean",
                 max_slices: int | None = 32, window: list[float] | None = None):
        super().__init__()
        self.window = None if window is None else (float(window[0]), float(window[1]))
        from climb.models.encoders.image import HFImageEncoder

        self.image = HFImageEncoder(**{k: v for k, v in image.items() if k != "type"})
        self.pool = SlicePool(self.image.out_dim, pooling)
        self.max_slices = max_slices
        self.out_dim = self.image.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.window is not None and x.dtype != torch.uint8:
            centre, width = self.window
            x = ((x.float() - (centre - width / 2)) / width).clamp(0.0, 1.0)
        if x.dim() == 4:  # [B, D, H, W] -> [B, D, 1, H, W]
            x = x.unsqueeze(2)
        elif x.dim() == 5:  # [B, C, D, H, W] -> [B, D, C, H, W]
            x = x.transpose(1, 2)
        else:
            raise ValueError(f"volume must be [B, D, H, W] or [B, C, D, H, W], got {x.shape}")
        idx = subsample_index(x.shape[1], self.max_slices).to(x.device)
        x = x.index_select(1, idx)
        b, s = x.shape[:2]
        h = self.image(x.flatten(0, 1)).view(b, s, -1)
        return self.pool(h)
