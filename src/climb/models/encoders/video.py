"""Video encoders: per-frame 2D encoder + temporal pooling (CLIMB), and VideoMAE.

Input ``[B, T, C, H, W]`` (or ``[B, T, H, W]`` for grey frames).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from climb.models.encoders.volume import SlicePool, subsample_index


class FrameVideoEncoder(nn.Module):
    """Per-frame 2D image encoder + temporal pooling (mean or attention)."""

    def __init__(self, image: dict[str, Any], pooling: str = "mean",
                 max_frames: int | None = 16):
        super().__init__()
        from climb.models.encoders.image import HFImageEncoder

        self.image = HFImageEncoder(**{k: v for k, v in image.items() if k != "type"})
        self.pool = SlicePool(self.image.out_dim, pooling)
        self.max_frames = max_frames
        self.out_dim = self.image.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.unsqueeze(2)
        if x.dim() != 5:
            raise ValueError(f"video must be [B, T, C, H, W], got {tuple(x.shape)}")
        idx = subsample_index(x.shape[1], self.max_frames).to(x.device)
        x = x.index_select(1, idx)
        b, t = x.shape[:2]
        h = self.image(x.flatten(0, 1)).view(b, t, -1)
        return self.pool(h)


class VideoMAEEncoder(nn.Module):
    """VideoMAE (transformers) over ``[B, T, C, H, W]``; mean of the patch tokens.

    ``pretrained: MCG-NJU/videomae-base`` for real use; ``config`` builds a fresh model
    (``VideoMAEConfig`` kwargs). Frames are subsampled/resized to the model's ``num_frames``
    and ``image_size``.
    """

    def __init__(self, pretrained: str | None = None, config: dict[str, Any] | None = None,
                 dim: int | None = None):
        super().__init__()
        import transformers as tf

        if pretrained:
            self.backbone = tf.VideoMAEModel.from_pretrained(pretrained)
        else:
            self.backbone = tf.VideoMAEModel(tf.VideoMAEConfig(**(config or {})))
        cfg = self.backbone.config
        self.num_frames = cfg.num_frames
        self.image_size = cfg.image_size
        self.num_channels = cfg.num_channels
        self.proj = nn.Linear(cfg.hidden_size, dim) if dim else nn.Identity()
        self.out_dim = dim or cfg.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        x = torch.nan_to_num(x.float())
        if x.dim() == 4:
            x = x.unsqueeze(2)
        idx = subsample_index(x.shape[1], self.num_frames).to(x.device)
        x = x.index_select(1, idx)
        if x.shape[1] < self.num_frames:  # repeat the last frame
            pad = x[:, -1:].expand(-1, self.num_frames - x.shape[1], -1, -1, -1)
            x = torch.cat([x, pad], dim=1)
        if x.shape[2] != self.num_channels:
            x = x.mean(2, keepdim=True).expand(-1, -1, self.num_channels, -1, -1)
        b, t = x.shape[:2]
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            size = (self.image_size, self.image_size)
            x = nn.functional.interpolate(x.flatten(0, 1), size=size, mode="bilinear",
                                          align_corners=False).view(b, t, -1, *size)
        out = self.backbone(pixel_values=x)
        return self.proj(out.last_hidden_state.mean(1))
