"""Fusion with and without missing modalities, heads, masked losses, the assembled model."""

from __future__ import annotations

import math

import pytest
import torch

from climb.models import MultimodalModel, build_fusion
from climb.models.losses import masked_task_loss, reduce_loss

DIMS = {"ecg": 6, "tabular": 4, "text": 5}


def _inputs(b=4, missing=True):
    torch.manual_seed(0)
    emb = {n: torch.randn(b, d, requires_grad=True) for n, d in DIMS.items()}
    masks = {n: torch.ones(b, dtype=torch.bool) for n in DIMS}
    if missing:
        masks["ecg"][1] = False
        masks["tabular"][2] = False
        masks["text"][[0, 2]] = False
        for n in DIMS:  # garbage where missing must not leak
            emb[n].data[~masks[n]] = float("nan")
        masks["ecg"][3] = masks["tabular"][3] = masks["text"][3] = False  # nothing at all
    return emb, masks


@pytest.mark.parametrize("kind", ["early", "cross_attention", "low_rank", "none"])
@pytest.mark.parametrize("missing", [False, True])
def test_embedding_fusions(kind, missing):
    fusion = build_fusion({"type": kind, **({} if kind == "none" else {"dim": 8})}, DIMS)
    emb, masks = _inputs(missing=missing)
    out = fusion(emb, masks)
    assert out.shape == (4, fusion.out_dim)
    assert torch.isfinite(out).all()
    out.sum().backward()
    for n in DIMS:
        g = emb[n].grad
        assert torch.isfinite(g).all()
        if missing:  # no gradient flows into a missing modality's embedding
            assert (g[~masks[n]] == 0).all()


@pytest.mark.parametrize("kind", ["early", "cross_attention", "low_rank", "late"])
def test_missing_modality_does_not_change_output(kind, tasks):
    """Whatever a missing modality's embedding holds, the output is the same."""
    fusion = build_fusion({"type": kind, **({} if kind == "late" else {"dim": 8})}, DIMS, tasks)
    fusion.eval()
    emb, masks = _inputs(missing=True)
    emb = {n: torch.nan_to_num(e.detach()) for n, e in emb.items()}
    emb2 = {n: torch.where(masks[n].unsqueeze(1), e, torch.full_like(e, 7.0))
            for n, e in emb.items()}
    a, b = fusion(emb, masks), fusion(emb2, masks)
    if kind == "late":
        for k in a:
            assert torch.isfinite(a[k]).all()
            torch.testing.assert_close(a[k], b[k])
    else:
        torch.testing.assert_close(a, b)
    # and a present modality does change it
    emb3 = {n: e.clone() for n, e in emb.items()}
    emb3["ecg"][0, 0] += 1.0
    c = fusion(emb3, masks)
    first = (lambda o: o["toy.ml"][0]) if kind == "late" else (lambda o: o[0])
    assert not torch.allclose(first(a), first(c))


def test_late_fusion_averages_present_modalities(tasks):
    fusion = build_fusion({"type": "late"}, DIMS, tasks)
    emb, masks = _inputs(missing=True)
    emb = {n: torch.nan_to_num(e.detach()) for n, e in emb.items()}
    out = fusion(emb, masks)
    # sample 1 lacks ecg: logits are the mean of the tabular and text heads
    per = {n: fusion.heads[n]["toy__ml"](emb[n]) for n in DIMS}
    torch.testing.assert_close(out["toy.ml"][1], (per["tabular"][1] + per["text"][1]) / 2)
    torch.testing.assert_close(out["toy.ml"][3], torch.zeros(3))  # nothing present


def test_masked_losses():
    logits = torch.zeros(3, 2, requires_grad=True)
    labels = torch.tensor([[1.0, float("nan")], [float("nan"), float("nan")], [0.0, 1.0]])
    per, w = masked_task_loss(logits, labels, "multilabel")
    assert torch.equal(w, torch.tensor([1.0, 0.0, 1.0]))
    loss = reduce_loss(per, w)
    assert math.isclose(loss.item(), math.log(2), rel_tol=1e-6)
    loss.backward()
    assert logits.grad[1].abs().sum() == 0 and logits.grad[0, 1] == 0

    per, w = masked_task_loss(torch.zeros(3, 3), torch.tensor([2, -1, 0]), "multiclass",
                              class_weights=torch.tensor([1.0, 1.0, 3.0]))
    assert torch.equal(w, torch.tensor([3.0, 0.0, 1.0]))
    assert torch.isfinite(reduce_loss(per, w))

    pred = torch.tensor([1.0, 2.0, 0.0])
    per, w = masked_task_loss(pred, torch.tensor([1.0, float("nan"), 3.0]), "regression")
    assert reduce_loss(per, w).item() == pytest.approx(4.5)
    per, w = masked_task_loss(pred, torch.tensor([1.0, float("nan"), 3.0]), "regression",
                              regression="huber")
    assert reduce_loss(per, w).item() == pytest.approx(1.25)
    # all unknown -> 0, not NaN
    per, w = masked_task_loss(torch.zeros(2, 2), torch.full((2, 2), float("nan")),
                              "multilabel")
    assert reduce_loss(per, w).item() == 0.0


@pytest.mark.parametrize("fusion", ["early", "cross_attention", "late", "low_rank"])
def test_multimodal_model_with_missing_inputs(fusion, tasks):
    model = MultimodalModel(
        encoders={"ecg": {"type": "xresnet1d", "in_channels": 2, "layers": [1],
                          "widths": [8], "stem": [8, 8, 8], "expansion": 1},
                  "tabular": {"type": "mlp", "in_features": 3, "hidden": [8]}},
        tasks=tasks, fusion={"type": fusion, **({} if fusion == "late" else {"dim": 8})},
        head={"hidden": 8})
    b = 4
    batch = {
        "inputs": {"ecg": torch.randn(b, 2, 200), "tabular": torch.randn(b, 3)},
        "input_mask": {"ecg": torch.tensor([True, False, True, True]),
                       "tabular": torch.tensor([True, True, False, True])},
        "labels": {"toy.ml": torch.tensor([[1.0, 0, float("nan")]] * b),
                   "toy.mc": torch.tensor([0, 1, -1, 1]),
                   "toy.reg": torch.tensor([0.5, float("nan"), 1.0, 2.0])},
        "sample_id": [str(i) for i in range(b)],
    }
    batch["inputs"]["ecg"][1] = float("nan")
    out = model(batch)
    assert out["toy.ml"].shape == (b, 3) and out["toy.mc"].shape == (b, 2)
    assert out["toy.reg"].shape == (b,)
    loss = sum(reduce_loss(*masked_task_loss(out[t.key], batch["labels"][t.key], t.type))
               for t in tasks)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_graph_batch_with_only_present_graphs(tasks):
    from torch_geometric.data import Batch, Data

    model = MultimodalModel({"graph": {"type": "graph", "hidden": 8, "heads": 2}}, tasks)
    g = [Data(edge_index=torch.tensor([[0, 1], [1, 2]]), edge_weight=torch.rand(2),
              num_nodes=3) for _ in range(2)]
    batch = {"inputs": {"graph": Batch.from_data_list(g)},
             "input_mask": {"graph": torch.tensor([True, False, True])},
             "sample_id": ["a", "b", "c"]}
    out = model(batch)
    assert out["toy.ml"].shape == (3, 3) and torch.isfinite(out["toy.ml"]).all()
