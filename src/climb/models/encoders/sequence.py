"""Encoders of biological sequences (token ids) and single-cell expression vectors.

``sequence_cnn``: token embedding (or the one-hot view) -> 1D convolutions -> masked mean
(+ max) pooling, over the ``uint8`` token ids of :mod:`climb.read.sequence` (id 0 = padding,
which is also what the loader pads variable-length batches with). The default
:class:`climb.load.Collator` hands ``uint8`` arrays on scaled to ``[0, 1]`` (``id / 255``); the
encoder undoes that exactly (``round(x * 255)``), and takes integer batches
(``keep_dtype=True``) as they are.

``expression_mlp``: :class:`climb.models.encoders.tabular.TabularMLP` with an optional
``log1p`` of the input and a LayerNorm over the genes first (expression vectors of different
depth / normalisation end up on one scale).
"""

from __future__ import annotations

import torch
from torch import nn

from climb.models.encoders.tabular import TabularMLP


def token_ids(x: torch.Tensor) -> torch.Tensor:
    """Long token ids from a batch of ``uint8`` ids, scaled (float, ``id / 255``) or not."""
    if x.is_floating_point():
        return torch.round(x.float() * 255).long()
    return x.long()


class SequenceCNN(nn.Module):
    """Embedding + 1D CNN + masked pooling over token ids ``[B, L]`` -> ``[B, out_dim]``.

    Args:
        vocab_size: number of tokens including ``<pad>`` = 0 (DNA: 6, protein: 26).
        embed_dim: embedding width (ignored with ``one_hot``).
        one_hot: feed the one-hot view (``vocab_size - 1`` channels, pad = zeros) instead of a
            learned embedding.
        channels: widths of the convolution layers.
        kernel_size: odd kernel width of every layer ("same" padding).
        dilation_growth: dilation multiplier per layer (1 = plain convolutions).
        dropout: dropout after each layer.
        pool: ``mean``, ``max`` or ``meanmax`` (both, concatenated) over non-pad positions.
    """

    def __init__(self, vocab_size: int = 6, embed_dim: int = 32, one_hot: bool = False,
                 channels: tuple[int, ...] | list[int] = (64, 64), kernel_size: int = 9,
                 dilation_growth: int = 1, dropout: float = 0.0, pool: str = "meanmax"):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("kernel_size must be odd")
        if pool not in ("mean", "max", "meanmax"):
            raise ValueError(f"pool must be mean, max or meanmax, not {pool!r}")
        self.vocab_size, self.one_hot, self.pool = vocab_size, one_hot, pool
        self.embed = None if one_hot else nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        width = vocab_size - 1 if one_hot else embed_dim
        layers: list[nn.Module] = []
        dilation = 1
        for c in channels:
            layers += [nn.Conv1d(width, c, kernel_size, padding=dilation * (kernel_size // 2),
                                 dilation=dilation), nn.BatchNorm1d(c), nn.GELU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width, dilation = c, dilation * dilation_growth
        self.convs = nn.Sequential(*layers)
        self.out_dim = width * (2 if pool == "meanmax" else 1)

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """``[B, C, L]`` input of the convolutions."""
        if self.one_hot:
            hot = nn.functional.one_hot(ids.clamp(0, self.vocab_size - 1), self.vocab_size)
            return hot[..., 1:].float().transpose(1, 2)
        return self.embed(ids.clamp(0, self.vocab_size - 1)).transpose(1, 2)

    @property
    def position_dim(self) -> int:
        """Width of the per-position embeddings of :meth:`positions`."""
        return self.out_dim // (2 if self.pool == "meanmax" else 1)

    def positions(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token embeddings ``[B, L, D]`` (before pooling; zero at padding) and the mask
        of real tokens ``[B, L]``."""
        h, keep = self._convolved(x)
        return h.transpose(1, 2), keep[:, 0]

    def _convolved(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ids = token_ids(x).flatten(1)
        keep = (ids != 0).unsqueeze(1)  # [B, 1, L]
        return self.convs(self.embed_tokens(ids)) * keep, keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, keep = self._convolved(x)
        n = keep.sum(-1).clamp(min=1)
        parts = []
        if self.pool in ("mean", "meanmax"):
            parts.append(h.sum(-1) / n)
        if self.pool in ("max", "meanmax"):
            parts.append(h.masked_fill(~keep, float("-inf")).amax(-1).nan_to_num(0.0,
                         neginf=0.0))
        return torch.cat(parts, dim=1)


class ExpressionMLP(TabularMLP):
    """MLP over expression vectors ``[B, G]``: optional ``log1p``, LayerNorm over genes,
    then :class:`TabularMLP` (``in_features`` = number of genes)."""

    def __init__(self, in_features: int, hidden: tuple[int, ...] | list[int] = (256, 128),
                 dropout: float = 0.1, log1p: bool = False, input_norm: bool = True,
                 norm: bool = True):
        super().__init__(in_features, hidden=hidden, dropout=dropout, norm=norm)
        self.log1p = log1p
        self.input_norm = nn.LayerNorm(in_features) if input_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().flatten(1)
        x = torch.nan_to_num(x, nan=0.0)
        if self.log1p:
            x = torch.log1p(x.clamp(min=0))
        return super().forward(self.input_norm(x))
