"""Graphs with and without node features / edge weights / node labels in one batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from climb.load import Collator
from climb.load.collate import harmonize_graphs
from climb.read.graph import read_edgelist, to_undirected

MOUSE = "connectomes-mouse/edgelists/sub-54776_ses-1_dti.edgelist.gz"


def _with_x() -> dict[str, np.ndarray]:
    return {
        "x": np.arange(8, dtype=np.float32).reshape(4, 2),
        "edge_index": np.array([[0, 1, 2], [1, 2, 3]]),
        "edge_weight": np.array([0.5, 2.0, 3.0], np.float32),
    }


def _without_x(real_data) -> dict[str, np.ndarray]:
    edges = to_undirected(read_edgelist(real_data / MOUSE))
    return {
        "edge_index": edges.edge_index,
        "edge_attr": edges.edge_weight.reshape(-1, 1),
        "num_nodes": np.array([332]),
    }


def test_raw_pyg_batching_of_mixed_graphs_fails(real_data):
    """The bug: PyG takes the fields of the first graph, so a graph without x breaks it."""
    raw = [
        Data(x=torch.ones(4, 2), edge_index=torch.tensor([[0, 1], [1, 2]])),
        Data(edge_index=torch.from_numpy(_without_x(real_data)["edge_index"]), num_nodes=332),
    ]
    with pytest.raises(KeyError):
        Batch.from_data_list(raw)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_mixed_graphs_batch_together(real_data, order):
    graphs = [_with_x(), _without_x(real_data)]
    values = [graphs[i] for i in order] + [None]
    batch = Batch.from_data_list(harmonize_graphs(values))
    sizes = [4 if i == 0 else 332 for i in order] + [0]
    assert batch.num_graphs == 3 and batch.num_nodes == sum(sizes)
    assert torch.bincount(batch.batch, minlength=3).tolist() == sizes
    assert batch.x.shape == (sum(sizes), 2) and batch.has_x.dtype == torch.bool
    for g, i in enumerate(order):
        graph = batch.get_example(g)
        if i == 0:
            assert graph.has_x.all()
            np.testing.assert_array_equal(graph.x.numpy(), graphs[0]["x"])
            np.testing.assert_array_equal(graph.edge_weight.numpy(), graphs[0]["edge_weight"])
            assert graph.edge_attr.view(-1).tolist() == graphs[0]["edge_weight"].tolist()
        else:
            assert not graph.has_x.any() and (graph.x == 0).all()
            weights = graphs[1]["edge_attr"][:, 0]
            np.testing.assert_array_equal(graph.edge_weight.numpy(), weights)
            assert graph.edge_index.shape[1] == weights.size
    assert batch.edge_weight.shape[0] == batch.edge_index.shape[1] == batch.edge_attr.shape[0]


def test_collator_batches_mixed_graph_samples_and_encoder_runs(real_data):
    from climb.models.encoders.graph import GraphEncoder

    def sample(graph):
        return {
            "inputs": {"graph": graph} if graph is not None else {},
            "labels": {},
            "sample_id": "s",
            "patient_id": None,
            "dataset": "d",
            "split": "train",
            "meta": {},
        }

    out = Collator()([sample(_without_x(real_data)), sample(_with_x()), sample(None)])
    batch = out["inputs"]["graph"]
    assert out["input_mask"]["graph"].tolist() == [True, True, False]
    assert batch.num_graphs == 3 and batch.x.shape[1] == 2
    assert batch.has_x.sum().item() == 4
    embedding = GraphEncoder(conv="gcn", in_channels=2, hidden=8, layers=1, pool="mean")(batch)
    assert embedding.shape == (3, 8) and torch.isfinite(embedding).all()


def test_node_labels_missing_become_nan_and_no_x_stays_absent():
    a = {"edge_index": np.array([[0, 1], [1, 0]]), "y": np.ones((2, 3), np.float32)}
    b = {"edge_index": np.array([[0, 1, 2], [1, 2, 0]])}
    batch = Batch.from_data_list(harmonize_graphs([a, b]))
    assert "x" not in batch and "has_x" not in batch
    assert batch.y.shape == (5, 3)
    assert (batch.y[:2] == 1).all() and torch.isnan(batch.y[2:]).all()
    assert "edge_weight" not in batch  # no graph has one: none is made up


def test_mismatched_widths_and_unknown_fields_are_errors():
    a = {"x": np.ones((2, 2), np.float32), "edge_index": np.array([[0], [1]])}
    b = {"x": np.ones((2, 3), np.float32), "edge_index": np.array([[0], [1]])}
    with pytest.raises(ValueError, match="widths"):
        harmonize_graphs([a, b])
    c = {**a, "pos": np.zeros((2, 3), np.float32)}
    with pytest.raises(ValueError, match="pos"):
        harmonize_graphs([a, c])
