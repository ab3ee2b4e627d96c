"""DRPO domain reweighting: QoQ-Med's hierarchical scaling, elbow clustering, edge cases, and
the loss it changes (gradient by hand for two domains)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from climb.load.tasks import TaskSpec
from climb.models.model import MultimodalModel
from climb.train.config import DEFAULTS, ConfigError, load_config
from climb.train.drpo import (
    DomainReweighter,
    cluster_difficulties,
    normalise,
    reward,
    select_k_elbow,
)
from climb.train.lightning_module import ClimbModule


def _groups(centres: list[float], n: int, h: int = 8, noise: float = 0.01, seed: int = 0):
    rng = np.random.default_rng(seed)
    return np.concatenate([np.clip(c + noise * rng.standard_normal((n, h)), 0, 1) for c in centres])


def test_elbow_picks_k_on_constructed_difficulties():
    assert select_k_elbow(_groups([0.1, 0.5, 0.9], 40)) == 3
    assert select_k_elbow(_groups([0.2, 0.8], 40)) == 2
    assert select_k_elbow(_groups([0.5], 40)) == 1
    assert select_k_elbow(np.full((5, 8), 0.3)) == 1  # one distinct point
    many = _groups([i / 14 for i in range(15)], 10, noise=0.001)
    assert select_k_elbow(many, k_max=10) <= 10
    fit = cluster_difficulties(_groups([0.1, 0.9], 30))
    assert sorted(np.round(fit["means"], 1)) == [0.1, 0.9]
    assert sorted(fit["counts"]) == [30, 30]


def test_hierarchical_weights_are_qoq_scaling_by_hand():
    rw = DomainReweighter(["A", "B"], mode="hierarchical", max_weight=1e6, refit_every=1)
    doms = ["A"] * 8 + ["B"] * 4
    rewards = torch.tensor([0.9] * 6 + [0.1] * 2 + [0.5] * 4)
    w = rw.weigh(doms, [f"s{i}" for i in range(12)], rewards, torch.ones(12, dtype=torch.bool))
    assert rw.n_clusters() == {"A": 2, "B": 1}
    mu_a = (0.9 + 0.1) / 2  # mean of the cluster means (each cluster once)
    f_easy = math.sqrt(8) * mu_a * math.sqrt(6) * 0.9
    f_hard = math.sqrt(8) * mu_a * math.sqrt(2) * 0.1
    f_b = math.sqrt(4) * 0.5 * math.sqrt(4) * 0.5
    raw = torch.tensor([1 / f_easy] * 6 + [1 / f_hard] * 2 + [1 / f_b] * 4)
    expected = raw / raw.mean()
    assert torch.allclose(w, expected, rtol=1e-5)
    assert torch.isclose(w.mean(), torch.tensor(1.0))
    assert w[6] > w[8] > w[0]  # the hard cluster, then domain B, then the easy cluster


def test_weights_mean_one_and_finite_in_edge_cases():
    rw = DomainReweighter(["A", "B"], mode="hierarchical", refit_every=1)
    # one sample
    w = rw.weigh(["A"], ["x"], torch.tensor([0.0]), torch.tensor([True]))
    assert torch.equal(w, torch.ones(1))
    # every reward 0 (floored), unsupervised samples weigh 0 and do not count as drawn
    w = rw.weigh(
        ["A", "B", "B"], ["x", "y", "z"], torch.zeros(3), torch.tensor([True, True, False])
    )
    assert torch.isfinite(w).all() and w[2] == 0
    assert torch.isclose(w[:2].mean(), torch.tensor(1.0))
    assert rw.drawn.tolist() == [2.0, 1.0]
    # nothing supervised: zeros, no NaN
    w = rw.weigh(["A", "B"], ["x", "y"], torch.zeros(2), torch.zeros(2, dtype=torch.bool))
    assert torch.equal(w, torch.zeros(2))
    # clipping keeps the mean at 1
    raw = torch.tensor([1.0, 1.0, 1.0, 1000.0])
    w = normalise(raw, torch.ones(4, dtype=torch.bool), max_weight=3.0)
    assert torch.isclose(w.mean(), torch.tensor(1.0)) and torch.isfinite(w).all()
    # an empty cluster (k-means on duplicates) is counted as 1, not 0
    fit = cluster_difficulties(np.array([[0.2] * 8]))
    assert fit["counts"].tolist() == [1.0]


def test_counts_and_bounded_history_come_from_drawn_batches():
    rw = DomainReweighter(["A", "B"], mode="hierarchical", history=3, max_samples=5, refit_every=2)
    for step in range(4):
        ids = [f"a{step}", f"a{step + 10}", "a0", "b0"]
        rw.weigh(["A", "A", "A", "B"], ids, torch.full((4,), 0.5), torch.ones(4))
    assert rw.drawn.tolist() == [12.0, 4.0]  # what was drawn, not any split size
    assert len(rw.histories["A"]) == 5  # most recently drawn samples only
    assert all(len(h) <= 3 for h in rw.histories["A"].values())
    # the state (histories, fits) survives a checkpoint round trip
    rw2 = DomainReweighter(["A", "B"], mode="hierarchical", history=3, max_samples=5)
    rw2.load_state_dict(rw.state_dict())
    assert rw2.steps == 4 and list(rw2.histories["A"]) == list(rw.histories["A"])
    assert np.allclose(rw2.fits["A"]["centroids"], rw.fits["A"]["centroids"])


def test_reward_is_probability_of_the_true_label_for_every_task_type():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    r = reward(logits, torch.tensor([0, 0]), "multiclass", torch.tensor([True, True]))
    assert torch.allclose(r, torch.softmax(logits, 1)[:, 0])
    ml = reward(
        torch.tensor([[0.0, 10.0]]),
        torch.tensor([[1.0, float("nan")]]),
        "multilabel",
        torch.tensor([True]),
    )
    assert torch.allclose(ml, torch.tensor([0.5]))  # the unknown class is ignored
    reg = reward(
        torch.zeros(2, 1),
        torch.zeros(2),
        "regression",
        torch.tensor([True, False]),
        per_sample_loss=torch.tensor([2.0, 5.0]),
        regression_scale=2.0,
    )
    assert torch.allclose(reg, torch.tensor([math.exp(-1.0), 0.0]))


def _module(mode: str, **drpo) -> tuple[ClimbModule, list[TaskSpec]]:
    torch.manual_seed(0)
    tasks = [
        TaskSpec("a.y", "a", "y", "multiclass", ["0", "1", "2"]),
        TaskSpec("b.y", "b", "y", "multiclass", ["0", "1"]),
    ]
    model = MultimodalModel({"tabular": {"type": "mlp", "in_features": 3, "hidden": [8]}}, tasks)
    cfg = copy.deepcopy(DEFAULTS)
    cfg["loss"]["drpo"].update(mode=mode, **drpo)
    return ClimbModule(model, tasks, cfg, domains=["a", "b"]), tasks


def _batch() -> dict:
    g = torch.Generator().manual_seed(1)
    return {
        "inputs": {"tabular": torch.randn(8, 3, generator=g)},
        "labels": {
            "a.y": torch.tensor([0, 1, 2, 0, 1, 2, -1, -1]),
            "b.y": torch.tensor([-1] * 6 + [0, 1]),
        },
        "dataset": ["a"] * 6 + ["b"] * 2,
        "sample_id": [f"s{i}" for i in range(8)],
        "meta": [{}] * 8,
    }


def _grads(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in module.parameters() if p.grad is not None])


@pytest.mark.filterwarnings("ignore:You are trying to")
def test_module_gradient_matches_hand_computed_drpo_loss_for_two_domains():
    # simple mode, alpha=1, beta=0: weights from the drawn shares only (6 of a, 2 of b):
    # raw 8/6 and 8/2, mean over the 8 samples 2 -> w_a = 2/3, w_b = 2
    module, _ = _module("simple", alpha=1.0, beta=0.0)
    hand = copy.deepcopy(module.model)
    batch = _batch()
    module._loss(batch, "train").backward()
    assert torch.allclose(module.last_weights, torch.tensor([2 / 3] * 6 + [2.0] * 2))

    out = hand(batch)
    ce_a = F.cross_entropy(out["a.y"][:6], batch["labels"]["a.y"][:6])
    ce_b = F.cross_entropy(out["b.y"][6:], batch["labels"]["b.y"][6:])
    (0.5 * (2 / 3 * ce_a + 2.0 * ce_b)).backward()
    assert torch.allclose(_grads(module.model), _grads(hand), atol=1e-6)

    plain = copy.deepcopy(hand)
    plain.zero_grad()
    out = plain(batch)
    (
        0.5
        * (
            F.cross_entropy(out["a.y"][:6], batch["labels"]["a.y"][:6])
            + F.cross_entropy(out["b.y"][6:], batch["labels"]["b.y"][6:])
        )
    ).backward()
    # the domain weight does not cancel: DRPO's gradient is not the unweighted one
    assert (_grads(module.model) - _grads(plain)).abs().max() > 1e-3
    off, _ = _module("off")
    off._loss(batch, "train").backward()
    assert torch.allclose(_grads(off.model), _grads(plain), atol=1e-6)
    # validation losses are never reweighted (comparable with and without DRPO)
    module.zero_grad()
    assert torch.isclose(module._loss(batch, "val"), off._loss(batch, "val"))


def test_drpo_config_modes_and_legacy_switch():
    base = {"data": {"store": "s"}, "model": {"encoders": {"ecg": {"type": "mlp"}}}}
    assert load_config(None, [], base)["loss"]["drpo"]["mode"] == "off"
    legacy = load_config(None, ["loss.drpo.enabled=true"], base)["loss"]["drpo"]
    assert legacy["mode"] == "hierarchical" and legacy["enabled"] is True
    simple = load_config(None, ["loss.drpo.mode=simple"], base)["loss"]["drpo"]
    assert simple["enabled"] is True
    assert load_config(None, ["loss.drpo.mode=off"], base)["loss"]["drpo"]["enabled"] is False
    with pytest.raises(ConfigError, match="contradicts"):
        load_config(None, ["loss.drpo.enabled=false", "loss.drpo.mode=simple"], base)
    with pytest.raises(ConfigError, match="mode must be one of"):
        load_config(None, ["loss.drpo.mode=twolevel"], base)


@pytest.mark.parametrize("text", ["on", "off", "yes", "no", "123", "1e3", "null_run"])
def test_run_name_override_stays_a_string(text):
    base = {"data": {"store": "s"}, "model": {"encoders": {"ecg": {"type": "mlp"}}}}
    cfg = load_config(None, [f"run.name={text}"], base)
    assert cfg["run"]["name"] == text
    from climb.train.runner import run_dir

    assert run_dir(cfg).name == text


def test_run_name_in_yaml_file(tmp_path):
    base = {"data": {"store": "s"}, "model": {"encoders": {"ecg": {"type": "mlp"}}}}
    path = tmp_path / "c.yaml"
    path.write_text("run: {name: 123}\n")
    assert load_config(path, [], base)["run"]["name"] == "123"
    path.write_text("run: {name: on}\n")
    with pytest.raises(ConfigError, match="quote it"):
        load_config(path, [], base)
    assert load_config(None, ["run.name='on'"], base)["run"]["name"] == "on"
