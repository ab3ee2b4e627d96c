"""Domain reweighting of supervised multitask losses, adapted from QoQ-Med's DRPO.

QoQ-Med (Dai et al., 2025; ``verl/trainer/core_algos.py::compute_drpo_outcome_advantage``)
scales the GRPO advantage of every rollout hierarchically. Per domain it keeps the reward
vectors of the questions it has seen, clusters them by k-means (k by an elbow rule on the
inertia: stop at the first k whose inertia drop is below ``tol`` x the previous drop, k <= 10)
and divides the advantage by ``T_d * sqrt(N_c) * mu_c`` with ``T_d = max(sqrt(N_d) * mu_d,
eps)``, where ``N_d`` is the number of questions drawn from the domain so far, ``mu_d`` the
mean of the cluster means (every cluster counted once), ``N_c`` the size and ``mu_c`` the mean
reward of the question's cluster; the scaled advantages are then divided by their standard
deviation over the batch. Rare domains, small clusters and low-reward (hard) domains and
clusters get larger updates.

The mapping used here (``mode: hierarchical``):

=============================  ==============================================================
QoQ-Med (RL)                   climb (supervised)
=============================  ==============================================================
question                       one training sample (dataset + sample_id)
rollout reward, in [0, 1]      probability the model gives the true label (see ``reward``)
reward vector of a question    the sample's last ``history`` rewards (each time it was drawn)
domain                         the sample's dataset, or a meta field (``drpo.domain=site``)
N_d: questions seen            samples the sampler actually drew from the domain (cumulative,
                               all-reduced under DDP), not the split sizes
k-means + elbow, k <= 10       same (scikit-learn KMeans, ``k_max``, ``elbow_tol``), refit
                               every ``refit_every`` training steps on the bounded history
                               (``max_samples`` most recently drawn samples per domain)
advantage / factor             per-sample loss weight ``1 / factor``
divide by batch std            normalise the weights to mean 1 over the batch's supervised
                               samples (losses are positive, so the mean, not the std, keeps
                               the loss scale)
=============================  ==============================================================

Reward on one scale across task types: the probability of the true label (softmax of the
true class for multiclass/binary; for multilabel the mean over the known classes of
``sigmoid`` or ``1 - sigmoid``). It is in [0, 1] for every classification task, whatever its
number of classes, unlike raw CE/BCE losses. Regression has no probability, so its reward is
``exp(-loss / L0)`` with ``L0`` the task's mean loss on its first training batch (1 at a
perfect fit, ``1/e`` at the starting error). Mean rewards are floored at ``min_reward`` so a
domain or cluster the model gets completely wrong cannot divide by zero.

``mode: simple`` keeps a one-level weighting: ``w_d = share_d ** -alpha * (difficulty_d /
mean difficulty) ** beta`` with ``share_d`` the domain's share of the drawn samples and
``difficulty_d`` an EMA of ``1 - reward``. Weights of both modes are clipped to
``[1 / max_weight, max_weight]`` relative to the batch mean and then normalised to mean 1.

The weights scale each sample's loss *without* entering the task's normaliser (see
``climb.models.losses.reduce_loss``), so a domain's weight changes its task's share of the
total loss and cannot cancel. Histories and clusters are per process (each DDP rank clusters
the samples it draws); drawn counts are all-reduced. All state is saved in checkpoints.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

MODES = ("off", "simple", "hierarchical")


def reward(
    logits: torch.Tensor,
    labels: torch.Tensor,
    task_type: str,
    known: torch.Tensor,
    per_sample_loss: torch.Tensor | None = None,
    regression_scale: float | None = None,
) -> torch.Tensor:
    """Per-sample reward in [0, 1] (probability of the true label); 0 where ``known`` is
    False. Regression: ``exp(-loss / regression_scale)``."""
    with torch.no_grad():
        if task_type == "multilabel":
            y = labels.float()
            mask = ~torch.isnan(y)
            p = torch.sigmoid(logits.float())
            p_true = torch.where(torch.nan_to_num(y) > 0.5, p, 1 - p)
            p_true = torch.where(mask, p_true, torch.zeros_like(p_true))
            r = p_true.sum(1) / mask.sum(1).clamp(min=1)
        elif task_type in {"multiclass", "binary"}:
            y = labels.long().view(-1).clamp(min=0)
            r = torch.softmax(logits.float(), dim=-1).gather(1, y[:, None])[:, 0]
        elif task_type == "regression":
            if per_sample_loss is None or not regression_scale:
                raise ValueError("a regression reward needs the loss and its scale")
            r = torch.exp(-per_sample_loss.detach().float() / regression_scale)
        else:
            raise ValueError(f"unknown task type {task_type!r}")
        return torch.where(known, r, torch.zeros_like(r))


def select_k_elbow(
    points: np.ndarray, k_max: int = 10, tol: float = 0.1, min_spread: float = 0.05
) -> int:
    """QoQ-Med's elbow rule: k-means inertia for k = 1..k_max (at most the number of distinct
    points); the chosen k is the first whose next inertia drop is below ``tol`` times its
    own drop.

    One addition: points whose RMS distance to their mean (per dimension) is below
    ``min_spread`` are one cluster. QoQ-Med's rule never returns k = 1 (its smallest answer
    is 2, or k_max on a structureless blob), so rewards that differ only by noise would
    otherwise be split into up to k_max clusters."""
    from sklearn.cluster import KMeans

    k_cap = min(k_max, len(np.unique(points, axis=0)))
    spread = float(np.sqrt(((points - points.mean(0)) ** 2).mean())) if len(points) else 0.0
    if k_cap <= 1 or spread < min_spread:
        return 1
    inertias = [
        KMeans(n_clusters=k, n_init="auto", random_state=0).fit(points).inertia_
        for k in range(1, k_cap + 1)
    ]
    drops = -np.diff(inertias)
    for i in range(1, len(drops)):
        if drops[i] < tol * drops[i - 1]:
            return i + 1
    return k_cap


def cluster_difficulties(
    points: np.ndarray, k_max: int = 10, tol: float = 0.1
) -> dict[str, np.ndarray]:
    """k-means (k by :func:`select_k_elbow`) of reward vectors ``[N, H]``: ``centroids
    [k, H]``, ``counts [k]`` (>= 1) and ``means [k]`` (mean reward of each centroid)."""
    from sklearn.cluster import KMeans

    k = select_k_elbow(points, k_max, tol)
    if k == 1:
        centroids = points.mean(0, keepdims=True)
        labels = np.zeros(len(points), dtype=int)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            km = KMeans(n_clusters=k, n_init="auto", random_state=0).fit(points)
        centroids, labels = km.cluster_centers_, km.labels_
    counts = np.bincount(labels, minlength=len(centroids)).astype(float)
    return {
        "centroids": centroids.astype(float),
        "counts": np.maximum(counts, 1.0),
        "means": centroids.mean(1).astype(float),
    }


def hierarchical_factor(
    n_domain: float, mu_domain: float, n_cluster: float, mu_cluster: float, min_reward: float = 0.05
) -> float:
    """QoQ-Med's divisor ``max(sqrt(N_d) * mu_d, eps) * sqrt(N_c) * mu_c`` (mean rewards
    floored at ``min_reward``, counts at 1)."""
    mu_d = max(mu_domain, min_reward)
    mu_c = max(mu_cluster, min_reward)
    return float(np.sqrt(max(n_domain, 1.0)) * mu_d * np.sqrt(max(n_cluster, 1.0)) * mu_c)


def normalise(raw: torch.Tensor, supervised: torch.Tensor, max_weight: float) -> torch.Tensor:
    """Weights relative to their mean over the supervised samples, clipped to
    ``[1/max_weight, max_weight]`` and renormalised to mean exactly 1 (0 elsewhere)."""
    out = torch.zeros_like(raw)
    if not bool(supervised.any()):
        return out
    w = raw[supervised]
    w = w / w.mean().clamp(min=1e-12)
    w = w.clamp(1.0 / max_weight, max_weight)
    out[supervised] = w / w.mean()
    return out


def _sample_key(domain: str, sample_id: str) -> int:
    digest = hashlib.blake2b(f"{domain}\x1f{sample_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class DomainReweighter(nn.Module):
    """Per-sample loss weights (mean 1 over a batch) from domains and difficulty clusters."""

    def __init__(
        self,
        domains: Iterable[str],
        mode: str = "hierarchical",
        alpha: float = 0.5,
        beta: float = 1.0,
        ema: float = 0.9,
        max_weight: float = 10.0,
        history: int = 8,
        max_samples: int = 4096,
        refit_every: int = 50,
        k_max: int = 10,
        elbow_tol: float = 0.1,
        min_reward: float = 0.05,
    ):
        super().__init__()
        if mode not in ("simple", "hierarchical"):
            raise ValueError(f"drpo mode must be simple or hierarchical, not {mode!r}")
        self.mode = mode
        self.domains = sorted(set(domains))
        self.index = {d: i for i, d in enumerate(self.domains)}
        n = len(self.domains)
        self.register_buffer("drawn", torch.zeros(n, dtype=torch.float64))
        self.register_buffer("reward_ema", torch.zeros(n))
        self.register_buffer("seen", torch.zeros(n, dtype=torch.bool))
        self.alpha, self.beta, self.ema, self.max_weight = alpha, beta, ema, max_weight
        self.history, self.max_samples, self.refit_every = history, max_samples, refit_every
        self.k_max, self.elbow_tol, self.min_reward = k_max, elbow_tol, min_reward
        self.steps = 0
        self.histories: dict[str, OrderedDict[int, deque]] = {
            d: OrderedDict() for d in self.domains
        }
        self.fits: dict[str, dict[str, np.ndarray]] = {}
        self.regression_scales: dict[str, float] = {}
        self.epoch_sums = torch.zeros(n, dtype=torch.float64)
        self.epoch_counts = torch.zeros(n, dtype=torch.float64)

    # ------------------------------------------------------------------ bookkeeping
    def ids(self, domains: Sequence[str]) -> torch.Tensor:
        """Domain indices of a batch (unknown domains raise KeyError naming them)."""
        try:
            return torch.tensor([self.index[d] for d in domains], device=self.drawn.device)
        except KeyError as err:
            raise KeyError(
                f"domain {err.args[0]!r} not among the training domains {self.domains}"
            ) from None

    def regression_scale(
        self, task_key: str, per_sample_loss: torch.Tensor, known: torch.Tensor
    ) -> float | None:
        """``L0`` of a regression task: its mean loss on its first supervised batch."""
        if task_key not in self.regression_scales:
            if not bool(known.any()):
                return None
            l0 = float(per_sample_loss.detach()[known].float().mean())
            self.regression_scales[task_key] = max(l0, 1e-8)
        return self.regression_scales[task_key]

    @torch.no_grad()
    def _count(
        self, ids: torch.Tensor, rewards: torch.Tensor, supervised: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.domains)
        cnts = torch.zeros(n, dtype=torch.float64, device=ids.device).index_add_(
            0, ids, supervised.double()
        )
        sums = torch.zeros(n, dtype=torch.float64, device=ids.device).index_add_(
            0, ids, (rewards.double() * supervised)
        )
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(cnts)
            torch.distributed.all_reduce(sums)
        self.drawn += cnts
        return cnts, sums

    # ------------------------------------------------------------------ the weights
    @torch.no_grad()
    def weigh(
        self,
        domains: Sequence[str],
        sample_ids: Sequence[str],
        rewards: torch.Tensor,
        supervised: torch.Tensor,
    ) -> torch.Tensor:
        """Record a training batch (drawn counts, reward histories) and return the weight of
        each of its samples: mean 1 over the supervised ones, 0 for the others."""
        ids = self.ids(domains)
        supervised = supervised.bool()
        rewards = rewards.detach().float().clamp(0.0, 1.0)
        cnts, sums = self._count(ids, rewards, supervised)
        self.steps += 1
        if self.mode == "simple":
            raw = self._simple(ids, cnts, sums)
        else:
            raw = self._hierarchical(domains, sample_ids, rewards, supervised)
        w = normalise(raw.to(rewards.device), supervised, self.max_weight)
        cpu_ids = ids.cpu()
        self.epoch_sums.index_add_(0, cpu_ids, (w * supervised).double().cpu())
        self.epoch_counts.index_add_(0, cpu_ids, supervised.double().cpu())
        return w

    def _simple(self, ids: torch.Tensor, cnts: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
        has = cnts > 0
        mean = (sums / cnts.clamp(min=1)).float()
        first = has & ~self.seen
        upd = has & self.seen
        self.reward_ema[first] = mean[first]
        self.reward_ema[upd] = self.ema * self.reward_ema[upd] + (1 - self.ema) * mean[upd]
        self.seen |= has
        share = (self.drawn / self.drawn.sum().clamp(min=1)).float().clamp(min=1e-12)
        difficulty = (1 - self.reward_ema).clamp(min=1e-6)
        ref = difficulty[self.seen].mean() if bool(self.seen.any()) else difficulty.mean()
        per_domain = share ** (-self.alpha) * (difficulty / ref.clamp(min=1e-6)) ** self.beta
        return per_domain[ids]

    def _hierarchical(
        self,
        domains: Sequence[str],
        sample_ids: Sequence[str],
        rewards: torch.Tensor,
        supervised: torch.Tensor,
    ) -> torch.Tensor:
        r = rewards.cpu().numpy()
        sup = supervised.cpu().numpy()
        vectors: list[np.ndarray | None] = []
        for d, sid, ri, si in zip(domains, sample_ids, r, sup, strict=True):
            if not si:
                vectors.append(None)
                continue
            hist = self.histories[d]
            key = _sample_key(d, str(sid))
            h = hist.get(key)
            if h is None:
                h = hist[key] = deque(maxlen=self.history)
            h.append(float(ri))
            hist.move_to_end(key)
            while len(hist) > self.max_samples:
                hist.popitem(last=False)
            vectors.append(self._vector(h))
        present = {d for d, s in zip(domains, sup, strict=True) if s}
        refit = self.refit_every <= 1 or (self.steps - 1) % self.refit_every == 0
        for d in sorted(present):
            if refit or d not in self.fits:
                self.refit(d)
        raw = torch.zeros(len(r), dtype=torch.float32)
        for i, (d, v) in enumerate(zip(domains, vectors, strict=True)):
            if v is None:
                continue
            fit = self.fits[d]
            c = int(np.argmin(((fit["centroids"] - v) ** 2).sum(1)))
            mu_d = float(fit["means"].mean())  # every cluster counted once, as in QoQ-Med
            raw[i] = 1.0 / hierarchical_factor(
                float(self.drawn[self.index[d]]),
                mu_d,
                float(fit["counts"][c]),
                float(fit["means"][c]),
                self.min_reward,
            )
        return raw

    def _vector(self, h: deque) -> np.ndarray:
        """A sample's last ``history`` rewards, padded (at the old end) with their mean."""
        values = list(h)
        pad = [float(np.mean(values))] * (self.history - len(values))
        return np.asarray(pad + values, dtype=float)

    def refit(self, domain: str) -> None:
        """Cluster the domain's bounded history of reward vectors."""
        hist = self.histories[domain]
        if not hist:
            return
        points = np.stack([self._vector(h) for h in hist.values()])
        self.fits[domain] = cluster_difficulties(points, self.k_max, self.elbow_tol)

    def n_clusters(self) -> dict[str, int]:
        """Current number of difficulty clusters per domain (hierarchical mode)."""
        return {d: len(f["counts"]) for d, f in self.fits.items()}

    def epoch_weights(self, reset: bool = True) -> dict[str, float]:
        """Mean weight of each domain's samples since the last call."""
        out = {
            d: float(self.epoch_sums[i] / self.epoch_counts[i])
            for d, i in self.index.items()
            if self.epoch_counts[i] > 0
        }
        if reset:
            self.epoch_sums.zero_()
            self.epoch_counts.zero_()
        return out

    # ------------------------------------------------------------------ checkpoints
    def get_extra_state(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "regression_scales": dict(self.regression_scales),
            "histories": {
                d: [[k, list(h)] for k, h in hist.items()] for d, hist in self.histories.items()
            },
            "fits": {d: {k: v.tolist() for k, v in f.items()} for d, f in self.fits.items()},
        }

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.steps = int(state.get("steps", 0))
        self.regression_scales = dict(state.get("regression_scales", {}))
        for d, items in state.get("histories", {}).items():
            if d in self.histories:
                self.histories[d] = OrderedDict(
                    (int(k), deque(v, maxlen=self.history)) for k, v in items
                )
        self.fits = {
            d: {k: np.asarray(v, dtype=float) for k, v in f.items()}
            for d, f in state.get("fits", {}).items()
        }
