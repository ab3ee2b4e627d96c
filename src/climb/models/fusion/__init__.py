"""Fusion modules: combine per-modality embeddings, respecting per-sample modality masks.

Every fusion takes ``embeddings: {name: [B, D_name]}`` and ``masks: {name: BoolTensor[B]}``
(True = the sample has that modality) and never lets a missing modality leak in or produce
NaN. ``early``, ``cross_attention`` and ``low_rank`` return one fused embedding ``[B, out_dim]``;
``late`` returns per-task logits averaged over the present modalities.
"""

from __future__ import annotations

from typing import Any

from torch import nn

FUSIONS = ("early", "cross_attention", "late", "low_rank", "none")


def build_fusion(cfg: dict[str, Any] | None, in_dims: dict[str, int],
                 tasks: list | None = None) -> nn.Module:
    """Build a fusion module from ``{"type": ..., **kwargs}`` for modalities ``in_dims``."""
    from climb.models.encoders import ConfigError
    from climb.models.fusion.cross_attention import CrossAttentionFusion
    from climb.models.fusion.early import EarlyFusion, MaskedMeanFusion
    from climb.models.fusion.late import LateFusion
    from climb.models.fusion.low_rank import LowRankFusion

    cfg = dict(cfg or {"type": "none"})
    kind = cfg.pop("type", "none")
    classes = {"early": EarlyFusion, "cross_attention": CrossAttentionFusion,
               "low_rank": LowRankFusion, "none": MaskedMeanFusion}
    try:
        if kind == "late":
            return LateFusion(in_dims, tasks or [], **cfg)
        if kind not in classes:
            raise ConfigError(f"unknown fusion type {kind!r}; choose one of {list(FUSIONS)}")
        return classes[kind](in_dims, **cfg)
    except TypeError as err:
        raise ConfigError(f"fusion {kind!r}: {err}") from err


__all__ = ["FUSIONS", "build_fusion"]
