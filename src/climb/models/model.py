"""The assembled model: one encoder per input, a fusion module, one head per task.

Per-position tasks (``level: token`` / ``node``, e.g. TAPE ss3, PPI's GO labels) skip pooling
and fusion: their heads run on the per-position embeddings (``encoder.positions``) of the
first input whose encoder has them (``sequence_cnn``: ``[B, L, D]``; graph encoders:
``[N, D]``), giving ``[B, L, C]`` / ``[N, C]`` logits.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from climb.models.encoders import ConfigError, build_encoder
from climb.models.fusion import build_fusion
from climb.models.fusion.late import _safe
from climb.models.heads import TaskHead, position_type


class MultimodalModel(nn.Module):
    """``batch -> {task_key: logits}`` for the batch format of ``docs/interfaces.md``.

    Args:
        encoders: ``{input_name: encoder config}`` (e.g. ``{"ecg": {"type": "xresnet1d"}}``).
        tasks: task descriptions (``key``, ``type``, ``classes``).
        fusion: fusion config (``{"type": "early" | "cross_attention" | "late" | "low_rank" |
            "none", ...}``); ``none`` averages the present modalities (one input: identity).
        head: ``{"hidden": int | None, "dropout": float}`` for every task head.
    """

    def __init__(self, encoders: dict[str, dict[str, Any]], tasks: list,
                 fusion: dict[str, Any] | None = None, head: dict[str, Any] | None = None):
        super().__init__()
        if not encoders:
            raise ConfigError("model.encoders is empty: give one encoder per input")
        self.input_names = sorted(encoders)
        self.encoders = nn.ModuleDict({n: build_encoder(encoders[n]) for n in self.input_names})
        in_dims = {n: int(self.encoders[n].out_dim) for n in self.input_names}
        head = dict(head or {})
        self.tasks = [t for t in tasks if position_type(t) is None]
        self.position_tasks = [t for t in tasks if position_type(t) is not None]
        self.position_input = None
        if self.position_tasks:
            self.position_input = next(
                (n for n in self.input_names if hasattr(self.encoders[n], "positions")), None)
            if self.position_input is None:
                raise ConfigError(
                    f"tasks {[t.key for t in self.position_tasks]} are per token/node, but no "
                    "encoder gives per-position embeddings (sequence_cnn, graph encoders)")
        fusion_cfg = dict(fusion or {"type": "none"})
        if fusion_cfg.get("type") == "late":
            fusion_cfg.setdefault("hidden", head.get("hidden"))
            fusion_cfg.setdefault("dropout", head.get("dropout", 0.0))
        self.fusion = build_fusion(fusion_cfg, in_dims, self.tasks) if self.tasks else None
        self.late = bool(getattr(self.fusion, "produces_logits", False))
        heads = {}
        if not self.late and self.fusion is not None:
            heads.update({_safe(t.key): TaskHead(self.fusion.out_dim, t, head.get("hidden"),
                                                 head.get("dropout", 0.0))
                          for t in self.tasks})
        if self.position_tasks:
            width = int(self.encoders[self.position_input].position_dim)
            heads.update({_safe(t.key): TaskHead(width, t, head.get("hidden"),
                                                 head.get("dropout", 0.0))
                          for t in self.position_tasks})
        if heads:
            self.heads = nn.ModuleDict(heads)

    def masks(self, batch: dict[str, Any], batch_size: int) -> dict[str, torch.Tensor]:
        """Modality masks for this batch (all True when the batch has none for an input)."""
        given = batch.get("input_mask") or {}
        out = {}
        for n in self.input_names:
            m = given.get(n)
            if m is None:
                present = n in batch["inputs"]
                m = torch.full((batch_size,), present, dtype=torch.bool)
            out[n] = m.bool().to(self.device)
        return out

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor],
                                                     dict[str, torch.Tensor]]:
        """Per-input embeddings ``{name: [B, D]}`` and masks ``{name: [B]}``."""
        b = batch_size(batch)
        masks = self.masks(batch, b)
        embeddings: dict[str, torch.Tensor] = {}
        for n in self.input_names:
            x = batch["inputs"].get(n)
            enc = self.encoders[n]
            if x is None or not bool(masks[n].any()):
                embeddings[n] = torch.zeros(b, enc.out_dim, device=self.device)
                continue
            if hasattr(x, "num_graphs"):
                embeddings[n] = _graph_embed(enc, x, masks[n], b)
            else:
                embeddings[n] = enc(x)
        return embeddings, masks

    def embed(self, batch: dict[str, Any]) -> torch.Tensor:
        """Fused embedding ``[B, D]`` (not defined for late fusion)."""
        if self.late or self.fusion is None:
            raise ConfigError("late fusion (or a model of per-position tasks only) has no "
                              "shared embedding")
        embeddings, masks = self.encode(batch)
        return self.fusion(embeddings, masks)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        if self.tasks:
            embeddings, masks = self.encode(batch)
            if self.late:
                out.update(self.fusion(embeddings, masks))
            else:
                h = self.fusion(embeddings, masks)
                out.update({t.key: self.heads[_safe(t.key)](h) for t in self.tasks})
        if self.position_tasks:
            h, _ = self.positions(batch)
            out.update({t.key: self.heads[_safe(t.key)](h) for t in self.position_tasks})
        return out

    def positions(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-position embeddings of the position input: tokens ``([B, L, D], mask [B, L])``;
        nodes ``([N, D], owner [N])``, the sample of every node."""
        x = batch["inputs"][self.position_input]
        h, aux = self.encoders[self.position_input].positions(x)
        if hasattr(x, "num_graphs"):
            b, n = batch_size(batch), int(x.num_graphs)
            if n != b:
                raise ValueError(f"node-level tasks need one graph per sample ({n} graphs for "
                                 f"{b} samples)")
        return h, aux


def batch_size(batch: dict[str, Any]) -> int:
    """Number of samples in a batch (from ``sample_id``, else the first input)."""
    if batch.get("sample_id") is not None:
        return len(batch["sample_id"])
    for x in batch["inputs"].values():
        if hasattr(x, "num_graphs"):
            return int(x.num_graphs)
        return len(x)
    raise ValueError("empty batch")


def _graph_embed(enc: nn.Module, graphs, mask: torch.Tensor, b: int) -> torch.Tensor:
    """Graph batches may hold one graph per sample, or only the present samples' graphs."""
    n = int(graphs.num_graphs)
    h = enc(graphs, num_graphs=n)
    if n == b:
        return h
    if n != int(mask.sum()):
        raise ValueError(f"graph batch has {n} graphs for {b} samples "
                         f"({int(mask.sum())} with a graph)")
    out = torch.zeros(b, h.shape[1], device=h.device, dtype=h.dtype)
    out[mask] = h
    return out
