"""Few-shot index selection (deterministic, multilabel-aware) and simple DRPO domain weights."""

from __future__ import annotations

import numpy as np
import torch

from climb.train.drpo import DomainReweighter
from climb.train.regimes import fewshot_indices


def test_multiclass_fewshot_is_k_per_class_and_seeded():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=200)
    y[:5] = -1
    a, per = fewshot_indices(y, "multiclass", 8, seed=7, classes=["a", "b", "c"])
    b, _ = fewshot_indices(y, "multiclass", 8, seed=7, classes=["a", "b", "c"])
    c, _ = fewshot_indices(y, "multiclass", 8, seed=8, classes=["a", "b", "c"])
    assert a == b and a != c
    assert len(a) == 24 and len(set(a)) == 24
    for cls, name in enumerate(["a", "b", "c"]):
        assert len(per[name]) == 8 and all(y[i] == cls for i in per[name])
    # a class with fewer than k examples contributes all of them
    y2 = np.array([0] * 50 + [1] * 3)
    _, per2 = fewshot_indices(y2, "binary", 8, seed=0, classes=["n", "ab"])
    assert sorted(per2["ab"]) == [50, 51, 52]


def test_multilabel_fewshot_reaches_k_positives_greedily():
    rng = np.random.default_rng(0)
    n, c = 300, 4
    y = (rng.random((n, c)) < np.array([0.5, 0.3, 0.1, 0.04])).astype(np.float32)
    y[rng.random((n, c)) < 0.1] = np.nan  # unknown entries are not positives
    for k in (1, 8, 32):
        chosen, per = fewshot_indices(y, "multilabel", k, seed=3, classes=list("abcd"))
        pos = np.nan_to_num(y[chosen]) > 0.5
        available = (np.nan_to_num(y) > 0.5).sum(0)
        assert (pos.sum(0) >= np.minimum(k, available)).all()
        assert chosen == sorted(set(chosen))
        # greedy: far fewer samples than k * classes once samples carry several positives
        assert len(chosen) <= k * c
        assert [len(per[x]) for x in "abcd"] == list(pos.sum(0))
        assert fewshot_indices(y, "multilabel", k, seed=3, classes=list("abcd"))[0] == chosen
    # the rarest class is satisfied first, so a common class is not over-sampled
    chosen, _ = fewshot_indices(y, "multilabel", 1, seed=3, classes=list("abcd"))
    assert len(chosen) <= 4


def test_simple_drpo_weights_grow_for_rarely_drawn_and_hard_domains():
    rw = DomainReweighter(["big", "small"], mode="simple", alpha=0.5, beta=1.0, ema=0.5)
    doms = ["big"] * 9 + ["small"]
    w = rw.weigh(doms, [str(i) for i in range(10)], torch.full((10,), 0.5), torch.ones(10))
    assert w[-1] > w[0]  # rarity, from the drawn batch
    assert torch.isclose(w.mean(), torch.tensor(1.0))
    # equal draws: the domain with the lower reward (harder) gets the higher weight
    rw2 = DomainReweighter(["a", "b"], mode="simple", alpha=0.5, beta=1.0, ema=0.5)
    for _ in range(3):
        w2 = rw2.weigh(["a", "a", "b", "b"], ["1", "2", "3", "4"],
                       torch.tensor([0.2, 0.2, 0.9, 0.9]), torch.ones(4))
    assert w2[0] > w2[2]
    # the state checkpoints with the module
    rw3 = DomainReweighter(["a", "b"], mode="simple")
    rw3.load_state_dict(rw2.state_dict())
    assert torch.equal(rw3.reward_ema, rw2.reward_ema) and torch.equal(rw3.drawn, rw2.drawn)
