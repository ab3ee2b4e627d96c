"""Low-rank multimodal fusion (LMF; Liu et al., ACL 2018).

Each modality embedding gets a constant 1 appended, ``z_m = [h_m, 1]``; the fused vector is
``sum_r w_r * prod_m (z_m @ W_m[r]) + b``, a rank-``rank`` factorisation of the full outer-product
tensor fusion. A missing modality is ``z_m = [0, ..., 0, 1]``, so its factor contributes only
its bias row: the product stays finite and the other modalities carry the sample.
"""

from __future__ import annotations

import torch
from torch import nn

from climb.models.fusion.early import masked


class LowRankFusion(nn.Module):
    """LMF over the modalities in ``in_dims`` -> ``[B, dim]``."""

    def __init__(self, in_dims: dict[str, int], dim: int = 256, rank: int = 4):
        super().__init__()
        self.names = sorted(in_dims)
        self.factors = nn.ParameterDict()
        for n in self.names:
            w = torch.empty(rank, in_dims[n] + 1, dim)
            nn.init.xavier_normal_(w)
            self.factors[n] = nn.Parameter(w)
        self.rank_weights = nn.Parameter(torch.full((1, rank), 1.0 / rank))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.norms = nn.ModuleDict({n: nn.LayerNorm(in_dims[n]) for n in self.names})
        self.out_dim = dim

    def forward(self, embeddings: dict[str, torch.Tensor],
                masks: dict[str, torch.Tensor]) -> torch.Tensor:
        fused = None
        for n in self.names:
            h = masked(self.norms[n](masked(embeddings[n], masks[n])), masks[n])
            z = torch.cat([h, torch.ones_like(h[:, :1])], dim=1)  # [B, D+1]
            f = torch.einsum("bd,rdo->bro", z, self.factors[n])  # [B, rank, dim]
            fused = f if fused is None else fused * f
        out = torch.einsum("r,bro->bo", self.rank_weights[0], fused)
        return out + self.bias
