"""Cross-attention fusion: one modality's embedding queries the other modalities' embeddings.

Each modality is projected to ``dim`` and becomes one key/value token (plus a modality-type
embedding); missing modalities are masked out of the keys. A learned null token is always
present so a sample with no other modality gets a finite output. A sample missing the query
modality uses a learned query vector instead.
"""

from __future__ import annotations

import torch
from torch import nn


class CrossAttentionFusion(nn.Module):
    """``query`` modality attends over the others -> ``[B, dim]``."""

    def __init__(self, in_dims: dict[str, int], dim: int = 256, heads: int = 4,
                 query: str | None = None, layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.names = sorted(in_dims)
        self.query = query or self.names[0]
        if self.query not in in_dims:
            raise ValueError(f"query modality {self.query!r} is not an input: {self.names}")
        self.keys = [n for n in self.names if n != self.query]
        self.proj = nn.ModuleDict({n: nn.Linear(in_dims[n], dim) for n in self.names})
        self.type_embed = nn.ParameterDict({n: nn.Parameter(torch.zeros(dim))
                                            for n in self.names})
        self.null = nn.Parameter(torch.zeros(1, 1, dim))
        self.missing_query = nn.Parameter(torch.zeros(dim))
        self.attn = nn.ModuleList(nn.MultiheadAttention(dim, heads, dropout=dropout,
                                                        batch_first=True) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.ffn = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(),
                                 nn.Linear(2 * dim, dim))
        self.out_dim = dim

    def forward(self, embeddings: dict[str, torch.Tensor],
                masks: dict[str, torch.Tensor]) -> torch.Tensor:
        qm = masks[self.query].unsqueeze(1)
        q = self.proj[self.query](embeddings[self.query]) + self.type_embed[self.query]
        q = torch.where(qm, q, self.missing_query.expand_as(q))
        b = q.shape[0]
        tokens = [self.null.expand(b, -1, -1)]
        pad = [torch.zeros(b, 1, dtype=torch.bool, device=q.device)]  # True = ignore
        for n in self.keys:
            kv = self.proj[n](embeddings[n]) + self.type_embed[n]
            kv = torch.where(masks[n].unsqueeze(1), kv, torch.zeros_like(kv))
            tokens.append(kv.unsqueeze(1))
            pad.append(~masks[n].view(b, 1))
        kv = torch.cat(tokens, dim=1)
        key_padding = torch.cat(pad, dim=1)
        h = q.unsqueeze(1)
        for attn, norm in zip(self.attn, self.norms, strict=True):
            out, _ = attn(norm(h), kv, kv, key_padding_mask=key_padding, need_weights=False)
            h = h + out
        h = h + self.ffn(h)
        return h[:, 0]
