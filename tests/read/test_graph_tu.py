"""TU graph-dataset reader, against PyG's own TU reader on files written in the format."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.io import read_tu_data

from climb.errors import RecordError
from climb.read.graph import one_hot, read_tu
from tests.fixtures import proteins


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return proteins.build(tmp_path_factory.mktemp("tu")) / "PROTEINS"


def _pairs(edge_index) -> set[tuple[int, int]]:
    return {(int(u), int(v)) for u, v in np.asarray(edge_index).T if u != v}


def test_read_tu_matches_pyg(folder):
    data = read_tu(folder, "PROTEINS")
    pyg, slices, sizes = read_tu_data(str(folder), "PROTEINS")
    assert data.num_graphs == 8 == slices["y"].numel() - 1
    assert data.node_labels.shape == (320, 1) and data.node_attributes.shape == (320, 1)
    assert data.edge_attributes.shape == (data.edge_index.shape[1], 1)
    x = np.concatenate([data.node_attributes, one_hot(data.node_labels)], axis=1)
    np.testing.assert_allclose(x, pyg.x.numpy(), rtol=1e-6)
    _, y = np.unique(data.graph_labels, return_inverse=True)
    assert y.tolist() == pyg.y.tolist()
    for g, graph in data.graphs(x):
        lo, hi = slices["x"][g : g + 2].tolist()
        assert int(graph["num_nodes"][0]) == hi - lo == graph["x"].shape[0]
        e0, e1 = slices["edge_index"][g : g + 2].tolist()
        # PyG drops self-loops and sorts; its edge_index is local to each graph
        assert _pairs(graph["edge_index"]) == _pairs(pyg.edge_index[:, e0:e1])
        pyg_attr = {
            (int(u), int(v)): float(a)
            for (u, v), a in zip(
                pyg.edge_index[:, e0:e1].T.tolist(), pyg.edge_attr[e0:e1, 0], strict=True
            )
        }
        for (u, v), a in zip(graph["edge_index"].T.tolist(), graph["edge_attr"][:, 0], strict=True):
            if u != v:
                assert a == pytest.approx(pyg_attr[(u, v)], rel=1e-6)
    assert sizes["num_node_attributes"] == 1 and sizes["num_node_labels"] == 3


def test_graph_labels_and_real_edges(folder):
    from tests.fixtures._graphs import mouse_graphs

    data = read_tu(folder, "PROTEINS")
    mice = mouse_graphs(8, 40)
    assert data.graph_labels.tolist() == [proteins.LABEL[m.genotype] for m in mice]
    for (_, graph), mouse in zip(data.graphs(), mice, strict=True):
        np.testing.assert_array_equal(graph["edge_index"], mouse.edge_index)
        np.testing.assert_allclose(graph["edge_attr"][:, 0], mouse.weights, rtol=1e-5)
        assert "x" not in graph


def _rewrite(folder, part: str, edit) -> None:
    path = folder / f"PROTEINS_{part}.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


@pytest.mark.parametrize(
    "part, edit, problem",
    [
        ("A", lambda ls: [*ls[:3], "1, 999999", *ls[4:]], "line 4: node id outside 1..320"),
        ("A", lambda ls: [*ls[:3], "0, 2", *ls[4:]], "line 4: node id outside"),
        ("A", lambda ls: [*ls[:3], "1, 41", *ls[4:]], "line 4: edge joins two graphs"),
        ("A", lambda ls: [*ls[:3], "1, SECRET", *ls[4:]], "line 4: expected comma-separated int"),
        ("A", lambda ls: [*ls[:3], "1.5, 2", *ls[4:]], "line 4: expected comma-separated int"),
        ("A", lambda ls: [*ls[:3], "1", *ls[4:]], "line 4: expected comma-separated"),
        ("graph_indicator", lambda ls: ["2", *ls[1:]], "line 2: graph ids decrease"),
        ("graph_indicator", lambda ls: [*ls[:-1], "9"], "graph id outside 1..8"),
        (
            "graph_indicator",
            lambda ls: [x if x != "3" else "2" for x in ls],
            "1 graphs have no node",
        ),
        ("graph_labels", lambda ls: ls[:-1], "graph id outside 1..7"),
        ("node_labels", lambda ls: ls[:-1], "319 lines, expected 320"),
        ("node_attributes", lambda ls: ["nan", *ls[1:]], "line 1: value is not finite"),
        ("node_attributes", lambda ls: ["1e300", *ls[1:]], "line 1: value is not finite"),
        ("edge_attributes", lambda ls: [*ls, "1.0"], "lines, expected"),
        ("graph_labels", lambda ls: [], "file has no lines"),
    ],
)
def test_bad_tu_files(tmp_path, folder, part, edit, problem):
    folder = Path(shutil.copytree(folder, tmp_path / "PROTEINS"))
    _rewrite(folder, part, edit)
    with pytest.raises(RecordError, match=problem) as info:
        read_tu(folder, "PROTEINS")
    message = str(info.value)
    assert f"PROTEINS_{part}.txt" in message or "graph_indicator" in message
    assert "SECRET" not in message


def test_missing_required_file(tmp_path, folder):
    folder = Path(shutil.copytree(folder, tmp_path / "PROTEINS"))
    (folder / "PROTEINS_graph_labels.txt").unlink()
    with pytest.raises(RecordError, match=r"PROTEINS_graph_labels.txt: TU dataset file not found"):
        read_tu(folder, "PROTEINS")


def test_one_hot_is_pyg_encoding():
    labels = np.array([[2, 0], [4, 1], [3, 0]])
    out = one_hot(labels)
    assert out.shape == (3, 5) and out.dtype == np.float32
    assert out.tolist() == [[1, 0, 0, 1, 0], [0, 0, 1, 0, 1], [0, 1, 0, 1, 0]]
    with pytest.raises(ValueError, match=r"max_width"):
        one_hot(np.array([[0], [10**6]]))
    assert torch.equal(
        torch.from_numpy(one_hot(labels[:, :1])),
        torch.nn.functional.one_hot(torch.tensor([0, 2, 1])).float(),
    )
