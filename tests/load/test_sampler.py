"""MixtureSampler: mixtures, determinism, resume from a step, DDP ranks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from climb.load import MixtureSampler, StoreDataset, mixture_probabilities


def test_mixture_probabilities():
    sizes = [900, 100]
    assert np.allclose(mixture_probabilities(sizes, "proportional"), [0.9, 0.1])
    assert np.allclose(mixture_probabilities(sizes, "uniform"), [0.5, 0.5])
    t = mixture_probabilities(sizes, "temperature", temperature=2.0)
    assert np.allclose(t, np.sqrt(sizes) / np.sqrt(sizes).sum())
    assert np.allclose(mixture_probabilities(sizes, "temperature", temperature=1.0), [0.9, 0.1])
    assert np.allclose(mixture_probabilities(sizes, "weights", weights=[1, 3]), [0.25, 0.75])
    assert np.allclose(mixture_probabilities([5, 0], "uniform"), [1.0, 0.0])
    with pytest.raises(ValueError):
        mixture_probabilities(sizes, "weights")
    with pytest.raises(ValueError):
        mixture_probabilities(sizes, "nope")


def _source(i, offsets=(0, 900)):
    return 0 if i < offsets[1] else 1


@pytest.mark.parametrize(("strategy", "kwargs", "share"), [
    ("proportional", {}, 0.1), ("uniform", {}, 0.5),
    ("temperature", {"temperature": 2.0}, 0.25), ("weights", {"weights": {"a": 1, "b": 3}}, 0.75),
])
def test_draws_follow_the_mixture(strategy, kwargs, share):
    sampler = MixtureSampler({"a": 900, "b": 100}, strategy=strategy, num_samples=20000, **kwargs)
    draws = list(sampler)
    assert all(0 <= i < 1000 for i in draws)
    frac_b = sum(_source(i) for i in draws) / len(draws)
    assert abs(frac_b - share) < 0.02


def test_each_source_is_a_permutation_per_epoch():
    sampler = MixtureSampler([30, 70], strategy="uniform", num_samples=60, seed=3)
    draws = list(sampler)
    from_a = [i for i in draws if i < 30]
    first_epoch = from_a[:30]
    assert len(set(first_epoch)) == len(first_epoch)  # no repeat before the epoch is used up
    if len(from_a) >= 30:
        assert sorted(first_epoch) == list(range(30))


def test_deterministic_and_resumable_from_a_step():
    full = list(MixtureSampler([50, 20, 5], strategy="uniform", num_samples=10000, seed=7))
    again = list(MixtureSampler([50, 20, 5], strategy="uniform", num_samples=10000, seed=7))
    assert full == again
    other = list(MixtureSampler([50, 20, 5], strategy="uniform", num_samples=10000, seed=8))
    assert full != other
    for step in (0, 1, 4095, 4096, 5000):
        resumed = MixtureSampler([50, 20, 5], strategy="uniform", num_samples=10000 - step,
                                 seed=7, start_step=step)
        assert list(resumed) == full[step:]
    s = MixtureSampler([50, 20, 5], strategy="uniform", num_samples=100, seed=7)
    list(s)
    state = s.state_dict()
    t = MixtureSampler([50, 20, 5], strategy="uniform", num_samples=100, seed=0)
    t.load_state_dict(state)
    assert list(t) == full[100:200]


def test_ranks_split_the_global_stream():
    full = list(MixtureSampler([40, 10], num_samples=1000, seed=1))
    ranks = [list(MixtureSampler([40, 10], num_samples=500, seed=1, rank=r, world_size=2))
             for r in range(2)]
    assert ranks[0] == full[0::2] and ranks[1] == full[1::2]


def test_homogeneous_batches():
    sampler = MixtureSampler([40, 10], batch_size=4, num_samples=200, seed=2,
                             strategy="uniform")
    batches = list(sampler)
    assert len(batches) == 200 and all(len(b) == 4 for b in batches)
    assert all(len({_source(i, (0, 40)) for i in b}) == 1 for b in batches)
    counts = Counter(_source(b[0], (0, 40)) for b in batches)
    assert abs(counts[1] / 200 - 0.5) < 0.15


def test_for_store_dataset(two_store):
    ds = StoreDataset(two_store, split=["train", "val", "test"])
    sampler = MixtureSampler.for_dataset(ds, strategy="uniform", num_samples=400)
    names = Counter(ds[i]["dataset"] for i in list(sampler)[:200])
    assert set(names) == set(ds.dataset_names)
    assert abs(names[ds.dataset_names[1]] / 200 - 0.5) < 0.15
