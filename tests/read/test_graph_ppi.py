"""PPI reader: the GraphSAGE layout (fixture written with networkx) and the PyG layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from climb.errors import RecordError
from climb.read.graph import read_ppi
from tests.fixtures import ppi
from tests.fixtures._graphs import mouse_graphs


@pytest.fixture(scope="module")
def sage(tmp_path_factory) -> Path:
    return ppi.build(tmp_path_factory.mktemp("ppi")) / "ppi"


@pytest.fixture(scope="module")
def mice():
    return mouse_graphs(4, 30)


def test_graphsage_layout_one_graph_per_split(sage, mice):
    graphs = read_ppi(sage)
    assert [g.split for g in graphs] == ["train", "val", "test"]
    assert all(g.graph_id is None for g in graphs)
    train, val, test = graphs
    np.testing.assert_allclose(train.x, np.concatenate([mice[0].features, mice[1].features]))
    np.testing.assert_allclose(val.x, mice[2].features)
    np.testing.assert_array_equal(test.y, ppi.labels_of(mice[3].features))
    assert train.x.dtype == np.float32 and train.y.dtype == np.float32
    assert train.y.shape == (60, 121) and train.edge_index.dtype == np.int64
    reference = nx.node_link_graph(json.loads((sage / "ppi-G.json").read_text()), edges="links")
    for graph, nodes in ((train, range(0, 60)), (val, range(60, 90)), (test, range(90, 120))):
        sub = reference.subgraph(nodes)
        expected = {(u - nodes[0], v - nodes[0]) for u, v in sub.edges if u != v}
        expected |= {(v, u) for u, v in expected}
        assert {tuple(e) for e in graph.edge_index.T.tolist()} == expected
        assert graph.edge_index.shape[1] == len(expected)  # no duplicates
        assert graph.dropped == {"nodes_without_flags": 0, "links_across_splits": 0}


def _write_pyg(folder: Path, mice) -> None:
    """PyG's PPI layout: per split a node-link graph, features, labels and graph ids."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, members in (("train", [0, 1]), ("valid", [2]), ("test", [3])):
        graph = nx.Graph()
        feats, labels, ids = [], [], []
        offset = 0
        for m in members:
            n = mice[m].features.shape[0]
            graph.add_nodes_from(range(offset, offset + n))
            graph.add_edges_from(
                (offset + int(u), offset + int(v)) for u, v in mice[m].edge_index.T
            )
            feats.append(mice[m].features)
            labels.append(ppi.labels_of(mice[m].features))
            ids.append(np.full(n, m + 1))
            offset += n
        data = nx.node_link_data(graph, edges="links")
        (folder / f"{stem}_graph.json").write_text(json.dumps(data))
        np.save(folder / f"{stem}_feats.npy", np.concatenate(feats))
        np.save(folder / f"{stem}_labels.npy", np.concatenate(labels))
        np.save(folder / f"{stem}_graph_id.npy", np.concatenate(ids))


def test_pyg_layout_one_graph_per_id(tmp_path, mice):
    _write_pyg(tmp_path, mice)
    graphs = read_ppi(tmp_path)
    assert [(g.split, g.graph_id) for g in graphs] == [
        ("train", 1),
        ("train", 2),
        ("val", 3),
        ("test", 4),
    ]
    for graph, mouse in zip(graphs, mice, strict=True):
        np.testing.assert_allclose(graph.x, mouse.features)
        np.testing.assert_array_equal(graph.y, ppi.labels_of(mouse.features))
        u, v = mouse.edge_index
        expected = {(int(a), int(b)) for a, b in zip(u, v, strict=True) if a != b}
        assert {tuple(e) for e in graph.edge_index.T.tolist()} == expected


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _set(mapping: dict, key: str, value) -> None:
    mapping[key] = value


@pytest.mark.parametrize(
    "name, edit, problem",
    [
        ("ppi-class_map.json", lambda d: d.pop("5"), "ppi-class_map.json: a node of the graph"),
        ("ppi-class_map.json", lambda d: _set(d, "5", [2] * 121), "labels must be lists of 0/1"),
        ("ppi-class_map.json", lambda d: _set(d, "5", [0] * 120), "label lists of lengths 121"),
        ("ppi-id_map.json", lambda d: _set(d, "5", 10**6), "feature row outside 0..119"),
        ("ppi-id_map.json", lambda d: d.pop("7"), "ppi-id_map.json: a node of the graph"),
        (
            "ppi-G.json",
            lambda d: d["links"].append({"source": 0, "target": 5000}),
            "a link names a node that is not in the graph",
        ),
        ("ppi-G.json", lambda d: d["links"].append({"source": 0}), "without integer 'source'"),
        ("ppi-G.json", lambda d: d["nodes"].append({"id": 3}), "duplicate node ids"),
        ("ppi-G.json", lambda d: d.pop("nodes"), "no 'nodes' list"),
    ],
)
def test_bad_graphsage_files(tmp_path, sage, name, edit, problem):
    folder = Path(shutil.copytree(sage, tmp_path / "ppi"))
    _edit_json(folder / name, edit)
    with pytest.raises(RecordError, match=problem) as info:
        read_ppi(folder)
    assert name in str(info.value)


def test_bad_features_and_unflagged_nodes(tmp_path, sage):
    folder = Path(shutil.copytree(sage, tmp_path / "ppi"))
    feats = np.load(folder / "ppi-feats.npy")
    feats[3, 2] = np.nan
    np.save(folder / "ppi-feats.npy", feats)
    with pytest.raises(RecordError, match=r"ppi-feats.npy: non-finite"):
        read_ppi(folder)
    (folder / "ppi-G.json").write_text("{not json")
    with pytest.raises(RecordError, match=r"ppi-G.json: cannot read JSON"):
        read_ppi(folder)
    shutil.copy2(sage / "ppi-G.json", folder / "ppi-G.json")
    shutil.copy2(sage / "ppi-feats.npy", folder / "ppi-feats.npy")
    _edit_json(folder / "ppi-G.json", lambda d: d["nodes"][0].pop("val"))
    train = read_ppi(folder)[0]
    assert train.x.shape[0] == 59 and train.dropped["nodes_without_flags"] == 1
    assert train.dropped["links_across_splits"] > 0  # node 0's links now leave the split
    with pytest.raises(RecordError, match=r"neither ppi-G.json"):
        read_ppi(tmp_path)


def test_bad_pyg_files(tmp_path, mice):
    _write_pyg(tmp_path, mice)
    np.save(tmp_path / "valid_labels.npy", np.zeros((5, 121)))
    with pytest.raises(RecordError, match=r"valid_labels.npy: 5 rows, expected 30"):
        read_ppi(tmp_path)
