"""EEG encoder in the style of BIOT (Yang et al., NeurIPS 2023).

Each channel is tokenised on its own: short-time Fourier transform magnitudes (``tokens:
stft``) or raw fixed-length patches (``tokens: patch``), one token per time frame, linearly
embedded; a learned channel embedding and a sinusoidal position embedding are added, all
channels' tokens are concatenated into one sequence and a transformer encodes it. The
embedding is the mean over tokens. Channel count may vary between datasets (up to
``max_channels``), which is what lets BIOT pretrain across heterogeneous EEG corpora.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal(n: int, dim: int) -> torch.Tensor:
    """``[n, dim]`` sinusoidal position table (Vaswani et al. 2017)."""
    pos = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n, dim)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)[:, : dim // 2]
    return table


class BIOTEncoder(nn.Module):
    """``[B, channels, samples]`` -> ``[B, dim]``.

    Args:
        dim: token width (BIOT uses 256).
        depth, heads: transformer layers and attention heads (BIOT: 4, 8).
        tokens: ``stft`` (n_fft / hop) or ``patch`` (patch / hop samples per token).
        n_fft, hop: STFT window and hop (BIOT at 200 Hz: 200 and 100).
        patch: patch length for ``tokens: patch``.
        max_channels: size of the channel-embedding table.
        max_tokens: size of the position table (time frames per channel).
        dropout: transformer dropout.
        standardize: z-score each channel per sample before tokenising.
    """

    def __init__(
        self,
        dim: int = 256,
        depth: int = 4,
        heads: int = 8,
        tokens: str = "stft",
        n_fft: int = 200,
        hop: int = 100,
        patch: int = 200,
        max_channels: int = 64,
        max_tokens: int = 1024,
        dropout: float = 0.0,
        standardize: bool = True,
    ):
        super().__init__()
        if tokens not in {"stft", "patch"}:
            raise ValueError(f"tokens must be 'stft' or 'patch', not {tokens!r}")
        self.tokens, self.n_fft, self.hop, self.patch = tokens, n_fft, hop, patch
        self.standardize = standardize
        self.max_channels = max_channels
        in_width = n_fft // 2 + 1 if tokens == "stft" else patch
        self.embed = nn.Linear(in_width, dim)
        self.channel = nn.Embedding(max_channels, dim)
        self.register_buffer("position", sinusoidal(max_tokens, dim), persistent=False)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out_dim = dim

    def _tokenise(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T]`` -> ``[B, C, frames, width]``."""
        b, c, t = x.shape
        if self.tokens == "stft":
            flat = x.reshape(b * c, t)
            if t < self.n_fft:
                flat = nn.functional.pad(flat, (0, self.n_fft - t))
            window = torch.hann_window(self.n_fft, device=x.device, dtype=x.dtype)
            spec = torch.stft(flat, self.n_fft, self.hop, window=window, center=False,
                              return_complex=True).abs()  # [B*C, F, frames]
            return spec.transpose(1, 2).reshape(b, c, spec.shape[-1], -1)
        if t < self.patch:
            x = nn.functional.pad(x, (0, self.patch - t))
        return x.unfold(-1, self.patch, self.hop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nan_to_num(x.float())
        if x.dim() != 3:
            raise ValueError(f"EEG must be [B, channels, samples], got {tuple(x.shape)}")
        if x.shape[1] > self.max_channels:
            raise ValueError(f"{x.shape[1]} channels > max_channels={self.max_channels}")
        if self.standardize:
            x = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-6)
        tok = self.embed(self._tokenise(x))  # [B, C, N, dim]
        b, c, n, _ = tok.shape
        if n > self.position.shape[0]:
            raise ValueError(f"{n} tokens per channel > max_tokens={self.position.shape[0]}")
        chan = self.channel(torch.arange(c, device=x.device)).view(1, c, 1, -1)
        tok = tok + chan + self.position[:n].view(1, 1, n, -1)
        h = self.transformer(tok.reshape(b, c * n, -1))
        return self.norm(h.mean(1))
