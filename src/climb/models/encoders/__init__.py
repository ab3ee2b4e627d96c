"""Encoder registry: ``build_encoder({"type": "xresnet1d", ...})`` -> ``nn.Module``.

Every encoder maps one modality's batch entry to embeddings ``[B, out_dim]`` and exposes
``out_dim``. Sizes range from tiny (tests) to full (``from_pretrained`` ids in the config).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from climb.errors import ClimbError


class ConfigError(ClimbError):
    """A model or training configuration is invalid."""


def _registry() -> dict[str, type[nn.Module]]:
    from climb.models.encoders.ecg import XResNet1d
    from climb.models.encoders.eeg import BIOTEncoder
    from climb.models.encoders.graph import GraphEncoder
    from climb.models.encoders.image import HFImageEncoder
    from climb.models.encoders.sequence import ExpressionMLP, SequenceCNN
    from climb.models.encoders.tabular import TabularMLP
    from climb.models.encoders.text import TextEncoder
    from climb.models.encoders.video import FrameVideoEncoder, VideoMAEEncoder
    from climb.models.encoders.volume import SliceVolumeEncoder

    return {
        "xresnet1d": XResNet1d,
        "biot": BIOTEncoder,
        "graph": GraphEncoder,
        "image": HFImageEncoder,
        "mlp": TabularMLP,
        "expression_mlp": ExpressionMLP,
        "sequence_cnn": SequenceCNN,
        "text": TextEncoder,
        "video_frames": FrameVideoEncoder,
        "videomae": VideoMAEEncoder,
        "volume_slices": SliceVolumeEncoder,
    }


ENCODERS = (
    "xresnet1d",
    "biot",
    "graph",
    "image",
    "mlp",
    "expression_mlp",
    "sequence_cnn",
    "text",
    "video_frames",
    "videomae",
    "volume_slices",
)


def build_encoder(cfg: dict[str, Any]) -> nn.Module:
    """Build an encoder from ``{"type": NAME, **kwargs}`` (NAME in :data:`ENCODERS`)."""
    cfg = dict(cfg)
    kind = cfg.pop("type", None)
    registry = _registry()
    if kind not in registry:
        raise ConfigError(f"unknown encoder type {kind!r}; choose one of {sorted(registry)}")
    try:
        return registry[kind](**cfg)
    except TypeError as err:
        raise ConfigError(f"encoder {kind!r}: {err}") from err


__all__ = ["ENCODERS", "ConfigError", "build_encoder"]
