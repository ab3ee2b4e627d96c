"""Graph encoder over PyTorch Geometric: GAT, GATv2, TransformerConv (or GCN) + global pooling.

Input: a ``torch_geometric.data.Batch`` with ``x`` (node features; when absent the encoder uses
[1, degree, weighted degree]), ``edge_index`` and optionally ``edge_weight`` / ``edge_attr``.
Edge weights are passed as 1-d edge features to the attention convolutions (``edge_dim=1``)
and as ``edge_weight`` to GCN. Output: one embedding per graph ``[num_graphs, out_dim]``;
:meth:`GraphEncoder.positions` gives the per-node embeddings ``[N, position_dim]`` before
pooling (node-level tasks such as PPI's GO labels).
"""

from __future__ import annotations

import torch
from torch import nn


def _degree_features(batch) -> torch.Tensor:
    from torch_geometric.utils import degree, scatter

    n = batch.num_nodes
    row = batch.edge_index[0]
    deg = degree(row, n, dtype=torch.float32)
    w = getattr(batch, "edge_weight", None)
    wdeg = scatter(w.float(), row, 0, dim_size=n, reduce="sum") if w is not None else deg
    return torch.stack([torch.ones(n, device=row.device), torch.log1p(deg),
                        torch.log1p(wdeg.clamp(min=0))], dim=1)


class GraphEncoder(nn.Module):
    """Stack of graph convolutions + global pooling.

    Args:
        conv: ``gat``, ``gatv2``, ``transformer`` or ``gcn``.
        in_channels: node feature width (3 when nodes have no features: degree features).
        hidden: width of every layer (per head for attention convs, concatenated).
        layers: number of convolutions.
        heads: attention heads.
        pool: ``mean``, ``max``, ``add`` or ``meanmax`` (concat).
        use_edge_weight: feed ``edge_weight`` to the conv (all four support it here).
        dropout: feature dropout.
    """

    def __init__(
        self,
        conv: str = "gatv2",
        in_channels: int = 3,
        hidden: int = 64,
        layers: int = 2,
        heads: int = 4,
        pool: str = "meanmax",
        use_edge_weight: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        import torch_geometric.nn as gnn

        if conv not in {"gat", "gatv2", "transformer", "gcn"}:
            raise ValueError(f"unknown conv {conv!r}: gat, gatv2, transformer or gcn")
        if pool not in {"mean", "max", "add", "meanmax"}:
            raise ValueError(f"unknown pool {pool!r}")
        self.conv_kind, self.pool, self.dropout = conv, pool, dropout
        self.in_channels = in_channels
        self.use_edge_weight = use_edge_weight
        edge_dim = 1 if use_edge_weight else None
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        width = in_channels
        for _ in range(layers):
            if conv == "gat":
                layer = gnn.GATConv(width, hidden // heads, heads=heads, edge_dim=edge_dim)
            elif conv == "gatv2":
                layer = gnn.GATv2Conv(width, hidden // heads, heads=heads, edge_dim=edge_dim)
            elif conv == "transformer":
                layer = gnn.TransformerConv(width, hidden // heads, heads=heads,
                                            edge_dim=edge_dim)
            else:
                layer = gnn.GCNConv(width, hidden)
            self.convs.append(layer)
            width = hidden // heads * heads if conv != "gcn" else hidden
            self.norms.append(nn.LayerNorm(width))
        self.out_dim = width * (2 if pool == "meanmax" else 1)

    @property
    def position_dim(self) -> int:
        """Width of the per-node embeddings of :meth:`positions`."""
        return self.out_dim // (2 if self.pool == "meanmax" else 1)

    def positions(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-node embeddings ``[N, D]`` (before pooling) and the graph of every node ``[N]``."""
        x = self._nodes(batch)
        idx = getattr(batch, "batch", None)
        if idx is None:
            idx = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        return x, idx

    def _nodes(self, batch) -> torch.Tensor:
        x = getattr(batch, "x", None)
        x = _degree_features(batch) if x is None else torch.nan_to_num(x.float())
        if x.dim() == 1:
            x = x.unsqueeze(1)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"graph nodes have {x.shape[1]} features, encoder expects "
                             f"in_channels={self.in_channels}")
        ei = batch.edge_index
        w = getattr(batch, "edge_weight", None)
        if w is None and getattr(batch, "edge_attr", None) is not None:
            w = batch.edge_attr.float().view(ei.shape[1], -1)[:, 0]
        for conv, norm in zip(self.convs, self.norms, strict=True):
            if self.use_edge_weight and w is not None:
                w = w.float()
                h = conv(x, ei, w) if self.conv_kind == "gcn" else conv(x, ei,
                                                                        edge_attr=w.view(-1, 1))
            elif self.use_edge_weight and self.conv_kind != "gcn":
                ones = torch.ones(ei.shape[1], 1, device=x.device)
                h = conv(x, ei, edge_attr=ones)
            else:
                h = conv(x, ei)
            x = nn.functional.gelu(norm(h))
            x = nn.functional.dropout(x, self.dropout, self.training)
        return x

    def forward(self, batch, num_graphs: int | None = None) -> torch.Tensor:
        import torch_geometric.nn as gnn

        x, idx = self.positions(batch)
        size = num_graphs if num_graphs is not None else int(getattr(batch, "num_graphs", 1))
        pools = {"mean": [gnn.global_mean_pool], "max": [gnn.global_max_pool],
                 "add": [gnn.global_add_pool],
                 "meanmax": [gnn.global_mean_pool, gnn.global_max_pool]}[self.pool]
        return torch.cat([p(x, idx, size) for p in pools], dim=1)
