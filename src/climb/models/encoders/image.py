"""2D image encoder over Hugging Face transformers backbones (ConvNeXt V2, ViT).

Real use loads pretrained weights by id (``pretrained: facebook/convnextv2-base-22k-224``, the
best 2D encoder of the CLIMB paper, or ``google/vit-base-patch16-224-in21k``); tests build tiny
models from a config dict (``arch: convnextv2, config: {hidden_sizes: [8, 16], ...}``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _hf_backbone(arch: str, pretrained: str | None, config: dict[str, Any] | None) -> nn.Module:
    import transformers as tf

    if pretrained:
        return tf.AutoModel.from_pretrained(pretrained)
    classes = {
        "convnextv2": (tf.ConvNextV2Config, tf.ConvNextV2Model),
        "vit": (tf.ViTConfig, tf.ViTModel),
    }
    if arch not in classes:
        raise ValueError(f"unknown image arch {arch!r}; choose one of {sorted(classes)}")
    cfg_cls, model_cls = classes[arch]
    config = dict(config or {})
    if arch == "convnextv2" and "hidden_sizes" in config:
        config.setdefault("num_stages", len(config["hidden_sizes"]))
    return model_cls(cfg_cls(**config))


class HFImageEncoder(nn.Module):
    """``[B, C, H, W]`` (float in [0, 1] or uint8) -> ``[B, out_dim]``.

    Args:
        arch: ``convnextv2`` or ``vit`` (ignored when ``pretrained`` is given).
        pretrained: a ``from_pretrained`` id or local path.
        config: keyword arguments of ``ConvNextV2Config`` / ``ViTConfig`` for a fresh model.
        normalize: ``imagenet`` (pretrained backbones expect it) or ``none``.
        dim: optional linear projection of the pooled features.
    """

    def __init__(
        self,
        arch: str = "convnextv2",
        pretrained: str | None = None,
        config: dict[str, Any] | None = None,
        normalize: str = "imagenet",
        dim: int | None = None,
    ):
        super().__init__()
        self.backbone = _hf_backbone(arch, pretrained, config)
        cfg = self.backbone.config
        self.arch = cfg.model_type
        self.num_channels = int(getattr(cfg, "num_channels", 3))
        hidden = cfg.hidden_sizes[-1] if hasattr(cfg, "hidden_sizes") else cfg.hidden_size
        self.image_size = getattr(cfg, "image_size", None)
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.proj = nn.Linear(hidden, dim) if dim else nn.Identity()
        self.out_dim = dim or hidden

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Scale to float [0, 1], match the channel count, resize for ViT, normalize."""
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        x = torch.nan_to_num(x.float())
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.shape[1] != self.num_channels:
            if x.shape[1] == 1:
                x = x.expand(-1, self.num_channels, -1, -1)
            elif self.num_channels == 1:
                x = x.mean(1, keepdim=True)
            else:
                raise ValueError(f"image has {x.shape[1]} channels, model expects "
                                 f"{self.num_channels}")
        if self.arch == "vit" and self.image_size and x.shape[-1] != self.image_size:
            size = (self.image_size, self.image_size)
            x = nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if self.normalize == "imagenet" and self.num_channels == 3:
            x = (x - self.mean) / self.std
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.backbone(pixel_values=self.prepare(x))
        h = out.last_hidden_state[:, 0] if self.arch == "vit" else out.pooler_output
        return self.proj(h.flatten(1))
