"""Weighted edge lists (networkx ``write_edgelist`` / ``write_weighted_edgelist`` text).

Two line forms are read, optionally gzip-compressed (``.gz``):

- ``u v w`` — networkx ``write_weighted_edgelist`` (the graspologic mouse connectomes);
- ``u v {'weight': w}`` — networkx ``write_edgelist`` with an attribute dict.

Nodes are integers. The result is arrays, ready for PyTorch Geometric.
"""

from __future__ import annotations

import ast
import gzip
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


def _weight(path: Path, lineno: int, rest: str, key: str) -> float:
    rest = rest.strip()
    if not rest:
        return 1.0
    if rest.startswith("{"):
        try:
            attrs = ast.literal_eval(rest)
        except (ValueError, SyntaxError):
            raise RecordError(path, f"line {lineno}: bad attribute dict {rest!r}") from None
        if not isinstance(attrs, dict):
            raise RecordError(path, f"line {lineno}: attributes are not a dict: {rest!r}")
        return float(attrs.get(key, 1.0))
    try:
        return float(rest.split()[0])
    except ValueError:
        raise RecordError(path, f"line {lineno}: weight {rest!r} is not a number") from None


def read_edgelist(path: str | Path, weight_key: str = "weight") -> EdgeList:
    """Read a weighted edge list; missing weights are 1. Bad lines raise RecordError."""
    path = Path(path)
    src: list[int] = []
    dst: list[int] = []
    weights: list[float] = []
    try:
        with _open_text(path) as handle:
            for lineno, raw in enumerate(handle, start=1):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split(None, 2)
                if len(parts) < 2:
                    raise RecordError(path, f"line {lineno}: expected 'u v [weight]', got {line!r}")
                try:
                    u, v = int(parts[0]), int(parts[1])
                except ValueError:
                    raise RecordError(
                        path, f"line {lineno}: node ids must be integers, got {line!r}"
                    ) from None
                w = _weight(path, lineno, parts[2] if len(parts) > 2 else "", weight_key)
                if not np.isfinite(w):
                    raise RecordError(path, f"line {lineno}: weight {w} is not finite")
                src.append(u)
                dst.append(v)
                weights.append(w)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as err:
        raise RecordError(path, f"cannot read edge list: {type(err).__name__}: {err}") from None
    if not src:
        raise RecordError(path, "edge list has no edges")
    edge_index = np.array([src, dst], dtype=np.int64)
    if edge_index.min() < 0:
        raise RecordError(path, "negative node id")
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
