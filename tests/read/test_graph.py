"""Edge-list reader on the real mouse connectomes and on networkx-written files."""

from __future__ import annotations

import gzip

import networkx as nx
import numpy as np
import pytest

from climb.errors import RecordError
from climb.read.graph import degree_strength, read_edgelist, to_undirected

MOUSE = "connectomes-mouse/edgelists/sub-54776_ses-1_dti.edgelist.gz"


def test_real_mouse_edgelist(real_data):
    path = real_data / MOUSE
    text = gzip.decompress(path.read_bytes()).decode()
    rows = [line.split() for line in text.splitlines() if line.strip()]
    edges = read_edgelist(path)
    assert edges.num_edges == len(rows)
    assert edges.edge_index.dtype == np.int64 and edges.edge_weight.dtype == np.float32
    assert edges.edge_index[:, 0].tolist() == [int(rows[0][0]), int(rows[0][1])]
    assert edges.edge_weight[-1] == pytest.approx(float(rows[-1][2]))
    assert edges.max_node() == max(max(int(r[0]), int(r[1])) for r in rows)


def test_gzip_and_dict_form_match_networkx(tmp_path):
    graph = nx.Graph()
    graph.add_weighted_edges_from([(0, 1, 2.5), (1, 2, 4.0), (2, 2, 1.0), (0, 3, 0.5)])
    plain = tmp_path / "g.edgelist"
    nx.write_edgelist(graph, plain)  # "u v {'weight': w}"
    assert "{'weight'" in plain.read_text()
    weighted = tmp_path / "g.edgelist.gz"
    nx.write_weighted_edgelist(graph, weighted)  # "u v w", gzip by extension
    with gzip.open(weighted, "rt") as handle:
        assert len(handle.read().split()) == 12
    a, b = read_edgelist(plain), read_edgelist(weighted)
    np.testing.assert_array_equal(a.edge_index, b.edge_index)
    np.testing.assert_array_equal(a.edge_weight, b.edge_weight)
    und = to_undirected(a)
    assert und.num_edges == 2 * 4 - 1  # the self-loop is not doubled
    degree, strength = degree_strength(und, 4)
    expected = dict(graph.degree(weight="weight"))
    # networkx counts a self-loop twice in the weighted degree; we count it once
    assert strength.tolist() == [expected[0], expected[1], expected[2] - 1.0, expected[3]]
    assert degree.tolist() == [2, 2, 2, 1]


@pytest.mark.parametrize(
    ("line", "problem"),
    [("0 x 1.0", "integers"), ("0 1 {'weight': }", "attribute dict"), ("7", "expected")],
)
def test_bad_lines(tmp_path, line, problem):
    path = tmp_path / "bad.edgelist"
    path.write_text(f"0 1 1.0\n{line}\n")
    with pytest.raises(RecordError, match=problem) as err:
        read_edgelist(path)
    assert err.value.path == str(path) and "line 2" in err.value.problem


def test_truncated_gzip(tmp_path, real_data):
    path = tmp_path / "cut.edgelist.gz"
    path.write_bytes((real_data / MOUSE).read_bytes()[:5000])
    with pytest.raises(RecordError, match="cannot read edge list"):
        read_edgelist(path)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("0 99999999999999999999999 1.0", "node id outside"),
        ("0 " + "9" * 5000 + " 1.0", "node id outside"),
        ("-1 2 1.0", "node id outside"),
        ("0 10000001 1.0", "node id outside"),
        ("1_0 2 1.0", "integers"),
        ("0 1 heavy", "weight is not a number"),
        ("0 1 1.0 2.0", "weight is not a number"),
        ("0 1 1_0.5", "weight is not a number"),
        ("0 1 nan", "not finite"),
        ("0 1 -inf", "not finite"),
        ("0 1 1e999", "not finite"),
        ("0 1 1e39", "not finite"),
        ("0 1 {'weight': 'abc'}", "weight is not a number"),
        ("0 1 {'weight': [1]}", "weight is not a number"),
        ("0 1 {'weight': True}", "weight is not a number"),
        ("0 1 {'weight': " + "9" * 400 + "}", "not finite"),
        ("0 1 {'weight': float('nan')}", "attribute dict"),
        ("0 1 {[1]: 2}", "attribute dict"),
        ("0 1 {'weight': " + "[" * 100000 + "}", "attribute dict"),
        ("0 1 [1, 2]", "weight is not a number"),
    ],
)
def test_bad_nodes_and_weights_are_record_errors(tmp_path, line, problem):
    path = tmp_path / "bad.edgelist"
    first = "0 1 {'weight': 1.0}" if "{" in line else "0 1 1.0"
    path.write_text(f"{first}\n{line}\n")
    with pytest.raises(RecordError, match=problem) as err:
        read_edgelist(path)
    assert err.value.problem.startswith("line 2: ") and line not in err.value.problem


def test_node_id_bound_is_a_parameter(tmp_path):
    path = tmp_path / "big.edgelist"
    path.write_text("0 20000000 2.5\n")
    with pytest.raises(RecordError, match=r"outside \[0, 10000000\]"):
        read_edgelist(path)
    edges = read_edgelist(path, max_node_id=10**8)
    assert edges.max_node() == 20_000_000 and edges.edge_weight.tolist() == [2.5]


def test_non_utf8_and_corrupt_gzip(tmp_path, real_data):
    text = tmp_path / "latin.edgelist"
    text.write_bytes(b"0 1 1.0\n0 \xe9 2.0\n")
    with pytest.raises(RecordError, match="cannot read edge list"):
        read_edgelist(text)
    data = bytearray((real_data / MOUSE).read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte inside the deflate stream
    flipped = tmp_path / "flipped.edgelist.gz"
    flipped.write_bytes(bytes(data))
    with pytest.raises(RecordError, match=r"cannot read edge list|line \d+: "):
        read_edgelist(flipped)  # garbage lines or, at the end, the gzip CRC


@pytest.mark.parametrize("tail", ["12 3", "12 3 {'weight': 2.0}"])
def test_line_of_another_form_is_an_error_not_a_weight_of_one(tmp_path, tail):
    path = tmp_path / "cut.edgelist"
    path.write_text(f"0 1 1.5\n2 3 0.5\n{tail}")  # e.g. a copy cut inside the last line
    with pytest.raises(RecordError, match=r"line 3: has (no weight|an attribute dict), but line 1"):
        read_edgelist(path)
