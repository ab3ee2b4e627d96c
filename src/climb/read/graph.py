"""Weighted edge lists (networkx ``write_edgelist`` / ``write_weighted_edgelist`` text).

Two line forms are read, optionally gzip-compressed (``.gz``):

- ``u v w`` — networkx ``write_weighted_edgelist`` (the graspologic mouse connectomes);
- ``u v {'weight': w}`` — networkx ``write_edgelist`` with an attribute dict.

Nodes are integers in ``[0, max_node_id]``, weights finite numbers; anything else, on any
line, is a :class:`RecordError` naming the file, the line and the problem.
The result is arrays, ready for PyTorch Geometric.
"""

from __future__ import annotations

import ast
import gzip
import math
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from climb.errors import RecordError


@dataclass
class EdgeList:
    """``edge_index`` int64 [2, E] and ``edge_weight`` float32 [E], as listed in the file."""

    edge_index: np.ndarray
    edge_weight: np.ndarray

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def max_node(self) -> int:
        return int(self.edge_index.max()) if self.num_edges else -1


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


#: Default bound on node ids: arrays sized by the largest id stay under ~80 MB of int64.
MAX_NODE_ID = 10**7
_FLOAT32_MAX = float(np.finfo(np.float32).max)

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(
    r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(nan|inf|infinity)", re.I
)


_FORMS = ("has no weight", "has a weight", "has an attribute dict")


def _node(path: Path, lineno: int, token: str, max_node_id: int) -> int:
    if token.isascii() and token.isdigit() and len(token) <= 20:  # the common case, fast
        node = int(token)
    elif not _INTEGER.fullmatch(token):
        raise RecordError(path, f"line {lineno}: node ids must be integers")
    elif len(token.lstrip("+-")) > 20:
        raise RecordError(path, f"line {lineno}: node id outside [0, {max_node_id}]")
    else:
        node = int(token)
    if not 0 <= node <= max_node_id:
        raise RecordError(path, f"line {lineno}: node id outside [0, {max_node_id}]")
    return node


def _finite(path: Path, lineno: int, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(path, f"line {lineno}: weight is not a number")
    try:
        weight = float(value)
    except OverflowError:
        raise RecordError(path, f"line {lineno}: weight is not finite") from None
    if not math.isfinite(weight) or abs(weight) > _FLOAT32_MAX:
        raise RecordError(path, f"line {lineno}: weight is not finite (as float32)")
    return weight


def _weight(path: Path, lineno: int, rest: str, key: str) -> float:
    rest = rest.strip()
    if not rest:
        return 1.0
    if rest.startswith("{"):
        try:
            attrs = ast.literal_eval(rest)
        except Exception:  # ValueError, SyntaxError, TypeError, RecursionError, MemoryError
            raise RecordError(path, f"line {lineno}: bad attribute dict") from None
        if not isinstance(attrs, dict):
            raise RecordError(path, f"line {lineno}: attributes are not a dict")
        return _finite(path, lineno, attrs.get(key, 1.0))
    if not _NUMBER.fullmatch(rest):
        raise RecordError(path, f"line {lineno}: weight is not a number")
    weight = float(rest)
    if math.isfinite(weight) and abs(weight) <= _FLOAT32_MAX:
        return weight
    raise RecordError(path, f"line {lineno}: weight is not finite (as float32)")


def read_edgelist(
    path: str | Path, weight_key: str = "weight", max_node_id: int = MAX_NODE_ID
) -> EdgeList:
    """Read a weighted edge list; missing weights are 1. Bad lines raise RecordError.

    Node ids must be integers in ``[0, max_node_id]``; weights finite numbers (float32); every
    line has the form of the first (no weight, a weight, or an attribute dict), so a line cut
    short is an error, not an edge of weight 1.
    Messages give the line number and the problem, not the line's text.
    """
    path = Path(path)
    src: list[int] = []
    dst: list[int] = []
    weights: list[float] = []
    form: tuple[str, int] | None = None  # the first edge line's form, which all must share
    try:
        with _open_text(path) as handle:
            for lineno, raw in enumerate(handle, start=1):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split(None, 2)
                if len(parts) < 2:
                    raise RecordError(path, f"line {lineno}: expected 'u v [weight]'")
                u = _node(path, lineno, parts[0], max_node_id)
                v = _node(path, lineno, parts[1], max_node_id)
                rest = parts[2] if len(parts) > 2 else ""
                line_form = _FORMS[0 if not rest else 2 if rest.startswith("{") else 1]
                if form is None:
                    form = (line_form, lineno)
                elif line_form != form[0]:  # e.g. a cut last line: "12 3" among "u v w"
                    raise RecordError(
                        path, f"line {lineno}: {line_form}, but line {form[1]} {form[0]}"
                    )
                w = _weight(path, lineno, rest, weight_key)
                src.append(u)
                dst.append(v)
                weights.append(w)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as err:
        raise RecordError(path, f"cannot read edge list ({type(err).__name__})") from None
    if not src:
        raise RecordError(path, "edge list has no edges")
    edge_index = np.array([src, dst], dtype=np.int64)
    return EdgeList(edge_index=edge_index, edge_weight=np.array(weights, dtype=np.float32))


def to_undirected(edges: EdgeList) -> EdgeList:
    """Both directions of every edge (self-loops once), the PyTorch Geometric convention."""
    u, v = edges.edge_index
    keep = u != v
    index = np.concatenate([edges.edge_index, np.stack([v[keep], u[keep]])], axis=1)
    weight = np.concatenate([edges.edge_weight, edges.edge_weight[keep]])
    return EdgeList(edge_index=index, edge_weight=weight)


def degree_strength(edges: EdgeList, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-degree and out-strength (sum of weights) per node of a (directed) edge list."""
    degree = np.bincount(edges.edge_index[0], minlength=num_nodes).astype(np.float32)
    strength = np.bincount(
        edges.edge_index[0], weights=edges.edge_weight, minlength=num_nodes
    ).astype(np.float32)
    return degree, strength
