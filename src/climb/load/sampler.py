"""Multitask mixture sampling over consecutive index ranges (one per dataset or task).

The sampler defines one deterministic *global stream* of steps: step ``s`` draws a source
(dataset) with the mixture probabilities from a generator seeded by ``(seed, s // block)``,
then takes that source's next position in its own per-epoch permutation. DDP rank ``r`` of
``W`` takes steps ``r, r + W, r + 2W, ...``, so ranks never see the same draw. Everything is
a function of ``(seed, step)``: ``set_step(n)`` / ``load_state_dict`` resume exactly.

Mixtures: ``proportional`` (p ∝ n), ``uniform`` (p = 1/k), ``temperature`` (p ∝ n^(1/tau),
tau = 1 is proportional, large tau approaches uniform) and ``weights`` (explicit).
With ``batch_size`` the sampler yields homogeneous batches (one source per batch; use it as a
DataLoader ``batch_sampler``), else single indices.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

STRATEGIES = ("proportional", "uniform", "temperature", "weights")
_BLOCK = 4096


def mixture_probabilities(
    sizes: Sequence[int],
    strategy: str = "proportional",
    temperature: float = 1.0,
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Sampling probability of each source."""
    n = np.asarray(sizes, dtype=np.float64)
    if strategy == "proportional":
        w = n.copy()
    elif strategy == "uniform":
        w = (n > 0).astype(np.float64)
    elif strategy == "temperature":
        if temperature <= 0:
            raise ValueError("temperature must be > 0")
        w = np.where(n > 0, n ** (1.0 / temperature), 0.0)
    elif strategy == "weights":
        if weights is None or len(weights) != len(n):
            raise ValueError("strategy 'weights' needs one weight per source")
        w = np.where(n > 0, np.asarray(weights, dtype=np.float64), 0.0)
        if (w < 0).any():
            raise ValueError("weights must be >= 0")
    else:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    if w.sum() <= 0:
        raise ValueError("no source has samples (or all weights are zero)")
    return w / w.sum()


class MixtureSampler(torch.utils.data.Sampler):
    """Deterministic, resumable mixture sampler.

    ``sizes``: samples per source, either a sequence or {name: size}; sources occupy
    consecutive index ranges starting at ``offsets`` (default: cumulative sizes, as in
    :class:`climb.load.StoreDataset` and ``torch.utils.data.ConcatDataset``).
    ``num_samples``: draws (or batches) per ``__iter__`` on this rank (default: one pass
    over the data, split over ranks).
    """

    def __init__(
        self,
        sizes: Sequence[int] | Mapping[str, int],
        strategy: str = "proportional",
        temperature: float = 1.0,
        weights: Sequence[float] | Mapping[str, float] | None = None,
        num_samples: int | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        start_step: int = 0,
        offsets: Sequence[int] | None = None,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
    ):
        if isinstance(sizes, Mapping):
            self.names = list(sizes)
            if isinstance(weights, Mapping):
                weights = [float(weights.get(n, 0.0)) for n in self.names]
            sizes = [int(sizes[n]) for n in self.names]
        else:
            self.names = [str(i) for i in range(len(sizes))]
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.probs = mixture_probabilities(self.sizes, strategy, temperature, weights)  # type: ignore[arg-type]
        self.offsets = (
            np.asarray(offsets, dtype=np.int64)
            if offsets is not None
            else np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        )
        self.batch_size = batch_size
        self.unit = batch_size or 1
        self.seed = int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.shuffle = shuffle
        if num_samples is None:
            num_samples = int(self.sizes.sum()) // self.unit // self.world_size
        self.num_samples = int(num_samples)
        self.step = int(start_step)
        self._blocks: dict[int, np.ndarray] = {}
        self._perms: dict[tuple[int, int], np.ndarray] = {}

    @classmethod
    def for_dataset(cls, dataset: Any, **kwargs: Any) -> MixtureSampler:
        """A sampler over the prepared datasets of a :class:`climb.load.StoreDataset`."""
        sizes = dataset.dataset_sizes()
        offsets = [a for a, _ in dataset.dataset_ranges]
        return cls(sizes, offsets=offsets, **kwargs)

    def __len__(self) -> int:
        return self.num_samples

    # ---------------------------------------------------------------- stream

    def _block(self, b: int) -> np.ndarray:
        if b not in self._blocks:
            rng = np.random.default_rng([self.seed, 7919, b])
            self._blocks[b] = rng.choice(len(self.sizes), size=_BLOCK, p=self.probs)
            if len(self._blocks) > 4:
                self._blocks.pop(next(iter(self._blocks)))
        return self._blocks[b]

    def source_of(self, step: int) -> int:
        """The source drawn at global step ``step``."""
        return int(self._block(step // _BLOCK)[step % _BLOCK])

    def _counts_before(self, step: int) -> np.ndarray:
        counts = np.zeros(len(self.sizes), dtype=np.int64)
        for b in range(step // _BLOCK):
            rng = np.random.default_rng([self.seed, 7919, b])
            draws = rng.choice(len(self.sizes), size=_BLOCK, p=self.probs)
            counts += np.bincount(draws, minlength=len(self.sizes))
        rest = step % _BLOCK
        if rest:
            counts += np.bincount(self._block(step // _BLOCK)[:rest], minlength=len(self.sizes))
        return counts * self.unit

    def _index(self, src: int, position: int) -> int:
        n = int(self.sizes[src])
        epoch, k = divmod(position, n)
        key = (src, epoch)
        if key not in self._perms:
            if self.shuffle:
                perm = np.random.default_rng([self.seed, 104729, src, epoch]).permutation(n)
            else:
                perm = np.arange(n)
            self._perms = {k2: v for k2, v in self._perms.items() if k2[0] != src}
            self._perms[key] = perm
        return int(self.offsets[src] + self._perms[key][k])

    def __iter__(self) -> Iterator[Any]:
        start = self.step
        stop = start + self.num_samples * self.world_size
        counts = self._counts_before(start)
        for s in range(start, stop):
            src = self.source_of(s)
            first = int(counts[src])
            counts[src] += self.unit
            if (s - start) % self.world_size != self.rank:
                continue
            if self.batch_size is None:
                yield self._index(src, first)
            else:
                yield [self._index(src, first + j) for j in range(self.batch_size)]
        self.step = stop

    # ---------------------------------------------------------------- resume

    def set_step(self, step: int) -> None:
        """Continue from global step ``step`` (draws/batches consumed over all ranks)."""
        self.step = int(step)

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step, "seed": self.seed}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        self.seed = int(state.get("seed", self.seed))
        self._blocks.clear()
        self._perms.clear()
        self.step = int(state["step"])
