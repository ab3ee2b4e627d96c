"""Tabular encoder: an MLP over ``[B, F]`` features (NaN = missing, with indicator columns)."""

from __future__ import annotations

import torch
from torch import nn


class TabularMLP(nn.Module):
    """MLP over tabular features.

    Args:
        in_features: number of input columns.
        hidden: widths of the hidden layers; the last one is ``out_dim``.
        dropout: dropout between layers.
        missing_indicators: append a 0/1 column per feature marking NaN (NaN becomes 0).
        norm: apply LayerNorm after each hidden layer.
    """

    def __init__(
        self,
        in_features: int,
        hidden: tuple[int, ...] | list[int] = (128, 128),
        dropout: float = 0.0,
        missing_indicators: bool = False,
        norm: bool = True,
    ):
        super().__init__()
        self.missing_indicators = missing_indicators
        width = in_features * (2 if missing_indicators else 1)
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(width, h)]
            if norm:
                layers.append(nn.LayerNorm(h))
            layers.append(nn.GELU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        self.net = nn.Sequential(*layers)
        self.out_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().flatten(1)
        nan = torch.isnan(x)
        x = torch.where(nan, torch.zeros_like(x), x)
        if self.missing_indicators:
            x = torch.cat([x, nan.float()], dim=1)
        return self.net(x)
