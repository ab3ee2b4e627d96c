"""Domain-aware loss reweighting in the spirit of QoQ-Med's DRPO (Dai et al., 2025).

DRPO scales each domain's training signal up when the domain is rare and when the model is
still bad at it. Here a "domain" is the sample's dataset (or a meta field such as ``site``),
and the per-sample loss weight is

    w_d = (f_d ** -alpha) * (ema_d / mean_e ema_e) ** beta,   normalised to mean 1 over domains,

with ``f_d`` the domain's share of the training set and ``ema_d`` an exponential moving
average of its mean loss. Weights are clipped to ``[1 / max_weight, max_weight]``. The EMA
state is a buffer, so it is checkpointed and (under DDP) updated from all-reduced sums.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class DomainReweighter(nn.Module):
    """Per-domain loss weights from domain frequency and a running loss EMA."""

    def __init__(self, domain_counts: dict[str, int], alpha: float = 0.5, beta: float = 1.0,
                 ema: float = 0.9, max_weight: float = 10.0):
        super().__init__()
        self.domains = sorted(domain_counts)
        self.index = {d: i for i, d in enumerate(self.domains)}
        counts = torch.tensor([float(domain_counts[d]) for d in self.domains])
        self.register_buffer("freq", counts / counts.sum().clamp(min=1))
        self.register_buffer("loss_ema", torch.ones(len(self.domains)))
        self.register_buffer("seen", torch.zeros(len(self.domains), dtype=torch.bool))
        self.alpha, self.beta, self.ema, self.max_weight = alpha, beta, ema, max_weight

    def domain_weights(self) -> torch.Tensor:
        """Current weight of every domain (mean 1)."""
        rarity = self.freq.clamp(min=1e-12) ** (-self.alpha)
        ema = torch.where(self.seen, self.loss_ema, self.loss_ema[self.seen].mean()
                          if bool(self.seen.any()) else self.loss_ema)
        hardness = (ema / ema.mean().clamp(min=1e-12)).clamp(min=1e-6) ** self.beta
        w = rarity * hardness
        w = w / w.mean()
        return w.clamp(1.0 / self.max_weight, self.max_weight)

    def ids(self, domains: Sequence[str]) -> torch.Tensor:
        """Domain indices of a batch (unknown domains raise KeyError naming them)."""
        try:
            return torch.tensor([self.index[d] for d in domains], device=self.freq.device)
        except KeyError as err:
            raise KeyError(f"domain {err.args[0]!r} not among the training domains "
                           f"{self.domains}") from None

    def sample_weights(self, domains: Sequence[str]) -> torch.Tensor:
        """Weight of every sample of a batch, from its domain."""
        return self.domain_weights()[self.ids(domains)]

    @torch.no_grad()
    def update(self, domains: Sequence[str], per_sample_loss: torch.Tensor,
               supervised: torch.Tensor) -> None:
        """Fold one batch's per-domain mean losses into the EMA (all-reduced under DDP)."""
        ids = self.ids(domains)
        n = len(self.domains)
        sums = torch.zeros(n, device=ids.device).index_add_(
            0, ids, (per_sample_loss.detach() * supervised).float())
        cnts = torch.zeros(n, device=ids.device).index_add_(0, ids, supervised.float())
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(sums)
            torch.distributed.all_reduce(cnts)
        has = cnts > 0
        mean = sums / cnts.clamp(min=1e-12)
        first = has & ~self.seen
        self.loss_ema[first] = mean[first]
        upd = has & self.seen
        self.loss_ema[upd] = self.ema * self.loss_ema[upd] + (1 - self.ema) * mean[upd]
        self.seen |= has
