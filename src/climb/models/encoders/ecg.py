"""ECG encoder: a 1D XResNet (the xresnet1d family of Strodthoff et al. 2021, PTB-XL benchmark).

Bag-of-tricks ResNet (He et al. 2019) in 1D: a three-convolution stem, bottleneck blocks
whose shortcut downsamples by average pooling before a 1x1 convolution, zero-initialised last
BatchNorm of every block, and concat (average + max) pooling at the end. ``layers=[3, 4, 6, 3]``
with ``expansion=4`` is xresnet1d50, ``[3, 4, 23, 3]`` xresnet1d101.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, act: bool = True,
             zero_bn: bool = False) -> nn.Sequential:
    bn = nn.BatchNorm1d(c_out)
    nn.init.constant_(bn.weight, 0.0 if zero_bn else 1.0)
    layers: list[nn.Module] = [
        nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        bn,
    ]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class XResBlock1d(nn.Module):
    """Bottleneck (expansion 4) or basic (expansion 1) residual block."""

    def __init__(self, expansion: int, c_in: int, c_mid: int, stride: int, kernel: int):
        super().__init__()
        c_out = c_mid * expansion
        if expansion == 1:
            self.convs = nn.Sequential(
                _conv_bn(c_in, c_mid, kernel, stride),
                _conv_bn(c_mid, c_out, kernel, act=False, zero_bn=True),
            )
        else:
            self.convs = nn.Sequential(
                _conv_bn(c_in, c_mid, 1),
                _conv_bn(c_mid, c_mid, kernel, stride),
                _conv_bn(c_mid, c_out, 1, act=False, zero_bn=True),
            )
        short: list[nn.Module] = []
        if stride != 1:
            short.append(nn.AvgPool1d(stride, stride, ceil_mode=True))
        if c_in != c_out:
            short.append(_conv_bn(c_in, c_out, 1, act=False))
        self.shortcut = nn.Sequential(*short)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.convs(x) + self.shortcut(x))


class XResNet1d(nn.Module):
    """1D XResNet over ``[B, leads, samples]`` -> ``[B, out_dim]``.

    Args:
        in_channels: number of leads.
        layers: blocks per stage (``[3, 4, 6, 3]`` = xresnet1d50).
        expansion: 4 (bottleneck) or 1 (basic blocks).
        stem: channel widths of the three stem convolutions.
        widths: base width of each stage (multiplied by ``expansion`` at the block output).
        kernel: convolution kernel size (5 in the PTB-XL benchmark).
        dim: optional linear projection of the pooled features; ``None`` keeps ``2 * C``.
        standardize: z-score each lead per sample (robust to the units of the store).
    """

    def __init__(
        self,
        in_channels: int = 12,
        layers: tuple[int, ...] | list[int] = (3, 4, 6, 3),
        expansion: int = 4,
        stem: tuple[int, ...] | list[int] = (32, 32, 64),
        widths: tuple[int, ...] | list[int] = (64, 128, 256, 512),
        kernel: int = 5,
        dim: int | None = None,
        standardize: bool = True,
    ):
        super().__init__()
        if len(widths) < len(layers):
            raise ValueError(f"need a width per stage: layers={layers}, widths={widths}")
        self.standardize = standardize
        chans = [in_channels, *stem]
        self.stem = nn.Sequential(
            *[_conv_bn(chans[i], chans[i + 1], kernel, stride=2 if i == 0 else 1)
              for i in range(len(stem))],
            nn.MaxPool1d(3, stride=2, padding=1),
        )
        blocks: list[nn.Module] = []
        c_in = stem[-1]
        for stage, n_blocks in enumerate(layers):
            for b in range(n_blocks):
                stride = 2 if (b == 0 and stage > 0) else 1
                blocks.append(XResBlock1d(expansion, c_in, widths[stage], stride, kernel))
                c_in = widths[stage] * expansion
        self.blocks = nn.Sequential(*blocks)
        pooled = 2 * c_in
        self.proj = nn.Linear(pooled, dim) if dim else nn.Identity()
        self.out_dim = dim or pooled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nan_to_num(x.float())
        if self.standardize:
            x = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-6)
        h = self.blocks(self.stem(x))
        h = torch.cat([h.mean(-1), h.amax(-1)], dim=1)
        return self.proj(h)
