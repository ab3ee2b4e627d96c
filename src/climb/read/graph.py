"""Graph files: edge lists, connectivity matrices, TU graph datasets, the PPI graphs.

- :func:`read_edgelist` (below): networkx edge-list text;
- :func:`read_matrix` + :func:`matrix_to_graph`: square ROI x ROI connectivity matrices
  (CSV/TSV/text, MATLAB ``.mat``, NumPy ``.npy``/``.npz``) to ``edge_index``/``edge_attr``;
- :func:`read_tu`: the TU graph-dataset text format (PROTEINS and the rest of TUDataset);
- :func:`read_ppi`: the PPI graphs, GraphSAGE or PyG layout.

Every reader validates (square, finite, ids in range, consistent counts) and raises
:class:`RecordError` naming the file and the problem, never quoting file text. Graphs come
as PyG-ready arrays: ``edge_index`` int64 [2, E], ``edge_attr`` float32 [E, F] or
``edge_weight`` float32 [E], ``x`` float32 [N, F] when nodes have features.

Edge lists: two line forms are read, optionally gzip-compressed (``.gz``):

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


# ---------------------------------------------------------------------------- matrices

#: File extensions :func:`read_matrix` reads.
MATRIX_SUFFIXES = (".csv", ".tsv", ".txt", ".mat", ".npy", ".npz")


def _square(path: Path, matrix: np.ndarray) -> np.ndarray:
    """``matrix`` as float64, checked: 2-D, square, non-empty, finite."""
    if matrix.dtype == object or matrix.dtype.kind not in "biuf":
        raise RecordError(path, "matrix is not numeric")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise RecordError(path, f"matrix is not square (shape {tuple(matrix.shape)})")
    matrix = matrix.astype(np.float64)
    bad = ~np.isfinite(matrix) | (np.abs(matrix) > _FLOAT32_MAX)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise RecordError(path, f"{int(bad.sum())} non-finite entries (as float32; first at "
                                f"row {row}, column {col})")
    return matrix


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_delimited(path: Path, delimiter: str | None) -> np.ndarray:
    """A numeric table; a first row / first column of labels (non-numbers) is dropped."""
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RecordError(path, f"cannot read matrix ({type(err).__name__})") from None
    if delimiter is None:  # csv, or whitespace-separated text
        first = next((line for line in text.splitlines() if line.strip()), "")
        delimiter = "," if "," in first else "\t" if "\t" in first else " "
    rows = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = line.split() if delimiter == " " else line.split(delimiter)
        rows.append([c.strip().strip('"') for c in cells])
    if not rows:
        raise RecordError(path, "matrix file is empty")
    # a header row: ROI names, or numeric ROI labels after an empty corner cell (pandas'
    # ``to_csv`` with an index) or one row more than columns; names are never quoted
    corner = rows[0][0] == ""  # then the first column holds row labels, numeric or not
    if corner or len(rows) == len(rows[0]) + 1 or not all(_is_number(c) for c in rows[0] if c):
        rows = rows[1:]
    labelled = rows and (corner or not _is_number(rows[0][0]))
    if labelled and all(len(r) == len(rows[0]) for r in rows):
        rows = [r[1:] for r in rows]  # a first column of row labels
    if not rows:
        raise RecordError(path, "matrix file has a header but no rows")
    width = len(rows[0])
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise RecordError(path, f"row {i + 1} has {len(row)} cells, expected {width}")
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise RecordError(path, f"row {i + 1}, column {j + 1}: not a number") from None
    return values


def _pick(path: Path, arrays: dict[str, np.ndarray], key: str | None, what: str) -> np.ndarray:
    """The array ``key``, else the only square 2-D array of ``arrays``."""
    if key is not None:
        if key not in arrays:
            raise RecordError(path, f"no {what} named {key!r}")
        return np.asarray(arrays[key])
    shapes = {k: np.shape(v) for k, v in arrays.items()}
    matrices = [k for k, s in shapes.items() if len(s) == 2 and s[0] == s[1] and s[0] > 1]
    if len(matrices) != 1:
        raise RecordError(path, f"{len(matrices)} square {what}s {sorted(matrices)[:5]}; "
                                "name the one to read (key=)")
    return np.asarray(arrays[matrices[0]])


def _read_mat(path: Path, key: str | None) -> np.ndarray:
    import scipy.io

    try:
        content = scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3: an HDF5 file
        return _read_mat73(path, key)
    except (OSError, ValueError, TypeError, EOFError, KeyError) as err:
        raise RecordError(path, f"cannot read MATLAB file ({type(err).__name__})") from None
    arrays = {k: v for k, v in content.items()
              if not k.startswith("__") and isinstance(v, np.ndarray) and v.dtype.kind in "biuf"}
    return _pick(path, arrays, key, "variable")


def _read_mat73(path: Path, key: str | None) -> np.ndarray:
    try:
        import h5py
    except ImportError:
        raise RecordError(path, "MATLAB v7.3 (HDF5) file: install h5py to read it") from None
    try:
        with h5py.File(path, "r") as handle:
            arrays = {k: v[()] for k, v in handle.items()
                      if isinstance(v, h5py.Dataset) and v.dtype.kind in "biuf"}
    except OSError as err:
        raise RecordError(path, f"cannot read MATLAB v7.3 file ({type(err).__name__})") from None
    return _pick(path, arrays, key, "variable").T  # MATLAB is column-major


def read_matrix(path: str | Path, key: str | None = None,
                delimiter: str | None = None) -> np.ndarray:
    """A square, finite float64 connectivity matrix from CSV/TSV/text, ``.mat`` or ``.npy/.npz``.

    Text: comma-, tab- or whitespace-separated, with or without a header row of ROI names and
    a first column of row names (both dropped; never quoted in errors); a numeric header row
    is recognised by an empty first cell or by the table having one row more than columns;
    ``#`` lines are comments. ``.mat``: scipy.io (v7.3 HDF5 files through h5py when it is
    installed); ``.npz`` / ``.mat``: ``key`` names the array, else the file's only square 2-D array.
    Anything else (not square, NaN/inf, not numeric) raises :class:`RecordError`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise RecordError(path, "matrix file not found")
    if suffix in (".csv", ".tsv", ".txt"):
        matrix = _read_delimited(path, delimiter)
    elif suffix == ".mat":
        matrix = _read_mat(path, key)
    elif suffix in (".npy", ".npz"):
        try:
            loaded = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zlib.error) as err:
            raise RecordError(path, f"cannot read NumPy file ({type(err).__name__})") from None
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                try:
                    matrix = _pick(path, {k: loaded[k] for k in loaded.files}, key, "array")
                except (OSError, ValueError, EOFError, zlib.error) as err:
                    raise RecordError(path, f"cannot read NumPy file ({type(err).__name__})"
                                      ) from None
        else:
            matrix = loaded
    else:
        raise RecordError(path, f"unknown matrix format {suffix!r} (expected one of "
                                f"{', '.join(MATRIX_SUFFIXES)})")
    return _square(path, np.asarray(matrix))


def matrix_to_graph(matrix: np.ndarray, threshold: float | None = None,
                    top_k: int | None = None, self_loops: bool = False) -> dict[str, np.ndarray]:
    """A PyG-ready graph of a connectivity matrix: ``edge_index`` int64 [2, E] and
    ``edge_attr`` float32 [E, 1] (the matrix entries).

    Default (no ``threshold``, no ``top_k``): dense, every entry with ``|w| > 0`` is an
    edge, the diagonal left out (``self_loops=False``). ``threshold``: keep ``|w| >
    threshold``. ``top_k``: keep, per row, the ``k`` entries of largest ``|w|`` (ties broken
    by column), so that edges ``i -> j`` may lack their reverse. Both may be given.
    Entries are kept with their sign.
    """
    weights = np.asarray(matrix, dtype=np.float64)
    n = weights.shape[0]
    keep = np.abs(weights) > (0.0 if threshold is None else float(threshold))
    if not self_loops:
        np.fill_diagonal(keep, False)
    if top_k is not None and top_k < n:
        if top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {top_k}")
        strength = np.where(keep, np.abs(weights), -1.0)
        order = np.argsort(-strength, axis=1, kind="stable")[:, :top_k]
        chosen = np.zeros_like(keep)
        np.put_along_axis(chosen, order, True, axis=1)
        keep &= chosen
    rows, cols = np.nonzero(keep)
    return {
        "edge_index": np.stack([rows, cols]).astype(np.int64),
        "edge_attr": weights[rows, cols].astype(np.float32).reshape(-1, 1),
    }


# ---------------------------------------------------------------------------- TU datasets

_ROW = re.compile(r"at row (\d+)")


def _table(path: Path, dtype: type, columns: int | None = None) -> np.ndarray:
    """A comma-separated numeric table [lines, columns] (``columns`` checked when given)."""
    import warnings

    kind = "integers" if dtype is np.int64 else "numbers"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            table = np.loadtxt(path, delimiter=",", dtype=dtype, ndmin=2, comments="#")
    except ValueError as err:  # numpy's message quotes the text: keep only the row
        row = _ROW.search(str(err))  # numpy counts from 0, except for a changed width
        first = 0 if "number of columns changed" in str(err) else 1
        where = f"line {int(row.group(1)) + first}: " if row else ""
        raise RecordError(path, f"{where}expected comma-separated {kind}, all lines with "
                                "the same number of values") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecordError(path, f"cannot read ({type(err).__name__})") from None
    if table.shape[0] == 0:
        raise RecordError(path, "file has no lines")
    if columns is not None and table.shape[1] != columns:
        raise RecordError(path, f"{table.shape[1]} values per line, expected {columns}")
    if dtype is not np.int64:
        bad = ~np.isfinite(table) | (np.abs(table) > _FLOAT32_MAX)
        if bad.any():
            raise RecordError(path, f"line {int(np.argwhere(bad)[0][0]) + 1}: value is not "
                                    "finite (as float32)")
    return table


@dataclass
class TUData:
    """A TU graph dataset (all graphs), with 0-based ids.

    ``edge_index`` int64 [2, E] (global node ids), ``graph_of_node`` int64 [N] (graph of each
    node), ``graph_labels`` int64 [G], optional ``node_labels`` int64 [N, k],
    ``node_attributes`` float32 [N, F], ``edge_labels`` int64 [E, k],
    ``edge_attributes`` float32 [E, F], ``graph_attributes`` float32 [G, F].
    """

    name: str
    edge_index: np.ndarray
    graph_of_node: np.ndarray
    graph_labels: np.ndarray
    node_labels: np.ndarray | None = None
    node_attributes: np.ndarray | None = None
    edge_labels: np.ndarray | None = None
    edge_attributes: np.ndarray | None = None
    graph_attributes: np.ndarray | None = None

    @property
    def num_graphs(self) -> int:
        return int(self.graph_labels.shape[0])

    def node_ptr(self) -> np.ndarray:
        """[G + 1]: graph ``g`` holds nodes ``ptr[g]:ptr[g+1]``."""
        counts = np.bincount(self.graph_of_node, minlength=self.num_graphs)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def edge_order(self) -> tuple[np.ndarray, np.ndarray]:
        """(order, ptr): ``edge_index[:, order[ptr[g]:ptr[g+1]]]`` are graph ``g``'s edges, in
        file order."""
        edge_graph = self.graph_of_node[self.edge_index[0]]
        order = np.argsort(edge_graph, kind="stable")
        counts = np.bincount(edge_graph, minlength=self.num_graphs)
        return order, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def graphs(self, node_features: np.ndarray | None = None):
        """Yield ``(g, graph dict)`` per graph: local ``edge_index``, ``edge_attr`` (the edge
        attributes, if any), ``x`` (rows of ``node_features``, if given), ``num_nodes``
        (int64 [1], as a store gives it back)."""
        node_ptr = self.node_ptr()
        order, edge_ptr = self.edge_order()
        for g in range(self.num_graphs):
            lo, hi = int(node_ptr[g]), int(node_ptr[g + 1])
            edges = order[edge_ptr[g]:edge_ptr[g + 1]]
            graph = {"edge_index": self.edge_index[:, edges] - lo,
                     "num_nodes": np.array([hi - lo], dtype=np.int64)}
            if self.edge_attributes is not None:
                graph["edge_attr"] = self.edge_attributes[edges]
            if node_features is not None:
                graph["x"] = node_features[lo:hi]
            yield g, graph


def read_tu(directory: str | Path, name: str) -> TUData:
    """Read a TU dataset (chrsmrrs.github.io/datasets/docs/format/, as PyG's ``TUDataset``).

    Files ``<name>_A.txt`` (one "i, j" line per directed edge, 1-based node ids),
    ``_graph_indicator.txt`` (graph id, 1-based, of each node), ``_graph_labels.txt`` (one per
    graph) and, when present, ``_node_labels.txt``, ``_node_attributes.txt``,
    ``_edge_labels.txt``, ``_edge_attributes.txt``, ``_graph_attributes.txt``. Checked: node
    ids within the indicator's length, graph ids 1..G with the nodes of a graph contiguous and
    every graph non-empty, no edge between two graphs, line counts matching; a problem raises
    :class:`RecordError` naming the file.
    """
    directory = Path(directory)

    def part(suffix: str) -> Path:
        return directory / f"{name}_{suffix}.txt"

    for required in ("A", "graph_indicator", "graph_labels"):
        if not part(required).is_file():
            raise RecordError(part(required), "TU dataset file not found")
    indicator = _table(part("graph_indicator"), np.int64, columns=1)[:, 0]
    labels = _table(part("graph_labels"), np.int64, columns=1)[:, 0]
    n_nodes, n_graphs = indicator.shape[0], labels.shape[0]
    if indicator.min() < 1 or indicator.max() > n_graphs:
        raise RecordError(part("graph_indicator"), f"graph id outside 1..{n_graphs} (the number "
                                                   "of graph labels)")
    if (np.diff(indicator) < 0).any():
        line = int(np.argmax(np.diff(indicator) < 0)) + 2
        raise RecordError(part("graph_indicator"), f"line {line}: graph ids decrease (the nodes "
                                                   "of a graph must be contiguous)")
    if np.unique(indicator).shape[0] != n_graphs:
        raise RecordError(part("graph_indicator"), f"{n_graphs - np.unique(indicator).shape[0]} "
                                                   "graphs have no node")
    graph_of_node = indicator - 1
    edges = _table(part("A"), np.int64, columns=2)
    bad = (edges < 1) | (edges > n_nodes)
    if bad.any():
        line = int(np.argwhere(bad)[0][0]) + 1
        raise RecordError(part("A"), f"line {line}: node id outside 1..{n_nodes}")
    edge_index = np.ascontiguousarray(edges.T - 1)
    cross = graph_of_node[edge_index[0]] != graph_of_node[edge_index[1]]
    if cross.any():
        line = int(np.argmax(cross)) + 1
        raise RecordError(part("A"), f"line {line}: edge joins two graphs")
    data = TUData(name=name, edge_index=edge_index, graph_of_node=graph_of_node,
                  graph_labels=labels)
    optional = {
        "node_labels": (np.int64, n_nodes, "nodes"),
        "node_attributes": (np.float64, n_nodes, "nodes"),
        "edge_labels": (np.int64, edge_index.shape[1], "edges"),
        "edge_attributes": (np.float64, edge_index.shape[1], "edges"),
        "graph_attributes": (np.float64, n_graphs, "graphs"),
    }
    for field_name, (dtype, expected, unit) in optional.items():
        path = part(field_name)
        if not path.is_file():
            continue
        table = _table(path, dtype)
        if table.shape[0] != expected:
            raise RecordError(path, f"{table.shape[0]} lines, expected {expected} (one per "
                                    f"{unit[:-1]})")
        setattr(data, field_name, table if dtype is np.int64 else table.astype(np.float32))
    return data


def one_hot(labels: np.ndarray, max_width: int = 10_000) -> np.ndarray:
    """float32 one-hot of integer labels [N, k] per column, over each column's
    ``min..max`` (PyG ``TUDataset``'s encoding of node labels), columns concatenated."""
    blocks = []
    for column in np.asarray(labels).reshape(labels.shape[0], -1).T:
        low = int(column.min())
        width = int(column.max()) - low + 1
        if width > max_width:
            raise ValueError(f"labels span {width} values, more than max_width={max_width}")
        block = np.zeros((column.shape[0], width), dtype=np.float32)
        block[np.arange(column.shape[0]), column - low] = 1.0
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


# ---------------------------------------------------------------------------- PPI

PPI_SPLITS = {"train": "train", "valid": "val", "test": "test"}


@dataclass
class PPIGraph:
    """One graph of the PPI data: ``split`` (train/val/test), ``graph_id`` (PyG layout; None
    for GraphSAGE's, where a split is one disjoint union of its tissue graphs), ``x`` float32
    [N, 50], ``y`` float32 [N, 121] (multilabel), ``edge_index`` int64 [2, E] (both
    directions, no self-loops), ``dropped`` (nodes / links left out, see :func:`read_ppi`)."""

    split: str
    graph_id: int | None
    x: np.ndarray
    y: np.ndarray
    edge_index: np.ndarray
    dropped: dict[str, int]

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"x": self.x, "y": self.y, "edge_index": self.edge_index}


def _load_json(path: Path):
    import json

    if not path.is_file():
        raise RecordError(path, "PPI file not found")
    try:
        with path.open("r", encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise RecordError(path, f"cannot read JSON ({type(err).__name__})") from None


def _load_npy(path: Path, ndim: int) -> np.ndarray:
    if not path.is_file():
        raise RecordError(path, "PPI file not found")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise RecordError(path, f"cannot read NumPy file ({type(err).__name__})") from None
    if not isinstance(array, np.ndarray) or array.ndim != ndim or array.dtype.kind not in "biuf":
        raise RecordError(path, f"expected a {ndim}-D numeric array")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise RecordError(path, "non-finite values")
    return array


def _node_link(path: Path) -> tuple[list[dict], np.ndarray]:
    """The nodes (dicts) and links [2, L] of a networkx node-link JSON file."""
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise RecordError(path, "not a networkx node-link graph (no 'nodes' list)")
    links = data.get("links", data.get("edges"))
    if not isinstance(links, list):
        raise RecordError(path, "not a networkx node-link graph (no 'links' list)")
    try:
        pairs = np.array([[link["source"], link["target"]] for link in links], dtype=np.int64)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise RecordError(path, "a link without integer 'source' and 'target'") from None
    nodes = data["nodes"]
    if not all(isinstance(node, dict) and isinstance(node.get("id"), int) for node in nodes):
        raise RecordError(path, "a node without an integer 'id'")
    return nodes, pairs.reshape(-1, 2).T


def _undirected(pairs: np.ndarray) -> np.ndarray:
    """Both directions of every link, each once, self-loops removed, sorted."""
    pairs = pairs[:, pairs[0] != pairs[1]]
    both = np.concatenate([pairs, pairs[::-1]], axis=1)
    return np.unique(both, axis=1).astype(np.int64) if both.size else both.astype(np.int64)


def _local_edges(pairs: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, int]:
    """``pairs`` (global ids) with both ends in the node set ``local`` (-1 elsewhere),
    renumbered; and how many links left it."""
    mapped = local[pairs]
    inside = (mapped >= 0).all(axis=0)
    leaving = (mapped >= 0).any(axis=0) & ~inside
    return _undirected(mapped[:, inside]), int(leaving.sum())


def _read_graphsage(directory: Path, prefix: str) -> list[PPIGraph]:
    graph_path = directory / f"{prefix}-G.json"
    nodes, pairs = _node_link(graph_path)
    id_path = directory / f"{prefix}-id_map.json"
    class_path = directory / f"{prefix}-class_map.json"
    id_map, class_map = _load_json(id_path), _load_json(class_path)
    feats_path = directory / f"{prefix}-feats.npy"
    feats = _load_npy(feats_path, 2)
    if not isinstance(id_map, dict) or not isinstance(class_map, dict):
        raise RecordError(id_path if not isinstance(id_map, dict) else class_path,
                          "expected a JSON object {node id: value}")
    ids = np.array([node["id"] for node in nodes], dtype=np.int64)
    if ids.size == 0 or ids.min() < 0 or ids.max() > MAX_NODE_ID:
        raise RecordError(graph_path, f"no nodes, or a node id outside [0, {MAX_NODE_ID}]")
    if np.unique(ids).size != ids.size:
        raise RecordError(graph_path, "duplicate node ids")
    known = np.zeros(int(ids.max()) + 1, dtype=bool)
    known[ids] = True
    if pairs.size and (pairs.min() < 0 or pairs.max() >= known.size or not known[pairs].all()):
        raise RecordError(graph_path, "a link names a node that is not in the graph")
    split_of: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    unflagged = 0
    for node in nodes:  # GraphSAGE drops nodes without both flags, so do we
        if "val" not in node or "test" not in node:
            unflagged += 1
            continue
        split = "test" if node["test"] else "val" if node["val"] else "train"
        split_of[split].append(node["id"])
    rows, labels = [], []
    width = None
    for node in nodes:
        key = str(node["id"])
        if key not in id_map or key not in class_map:
            raise RecordError(id_path if key not in id_map else class_path,
                              "a node of the graph has no entry")
        row, label = id_map[key], class_map[key]
        if not isinstance(row, int) or not 0 <= row < feats.shape[0]:
            raise RecordError(id_path, f"feature row outside 0..{feats.shape[0] - 1}")
        if not isinstance(label, list) or any(v not in (0, 1) for v in label):
            raise RecordError(class_path, "labels must be lists of 0/1")
        width = len(label) if width is None else width
        if len(label) != width:
            raise RecordError(class_path, f"label lists of lengths {width} and {len(label)}")
        rows.append(row)
        labels.append(label)
    position = np.full(known.size, -1, dtype=np.int64)
    position[ids] = np.arange(ids.size)
    features = feats[np.array(rows)].astype(np.float32)
    targets = np.array(labels, dtype=np.float32).reshape(len(nodes), -1)
    graphs = []
    for split, members in split_of.items():
        if not members:
            continue
        members_arr = np.sort(np.array(members, dtype=np.int64))
        local = np.full(known.size, -1, dtype=np.int64)
        local[members_arr] = np.arange(members_arr.size)
        edge_index, leaving = _local_edges(pairs, local)
        take = position[members_arr]
        graphs.append(PPIGraph(split, None, features[take], targets[take], edge_index,
                               {"nodes_without_flags": unflagged,
                                "links_across_splits": leaving}))
    return graphs


def _read_pyg_split(directory: Path, stem: str, split: str) -> list[PPIGraph]:
    graph_path = directory / f"{stem}_graph.json"
    nodes, pairs = _node_link(graph_path)
    feats = _load_npy(directory / f"{stem}_feats.npy", 2).astype(np.float32)
    labels_path = directory / f"{stem}_labels.npy"
    labels = _load_npy(labels_path, 2)
    id_path = directory / f"{stem}_graph_id.npy"
    graph_id = _load_npy(id_path, 1)
    n = len(nodes)
    for path, array in ((directory / f"{stem}_feats.npy", feats), (labels_path, labels),
                        (id_path, graph_id)):
        if array.shape[0] != n:
            raise RecordError(path, f"{array.shape[0]} rows, expected {n} (the graph's nodes)")
    if not np.isin(labels, (0, 1)).all():
        raise RecordError(labels_path, "labels must be 0/1")
    if graph_id.dtype.kind == "f":
        raise RecordError(id_path, "graph ids must be integers")
    if sorted(node["id"] for node in nodes) != list(range(n)):
        raise RecordError(graph_path, f"node ids are not 0..{n - 1}")
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n):
        raise RecordError(graph_path, "a link names a node that is not in the graph")
    graphs = []
    for gid in np.unique(graph_id):
        members = np.flatnonzero(graph_id == gid)
        local = np.full(n, -1, dtype=np.int64)
        local[members] = np.arange(members.size)
        edge_index, leaving = _local_edges(pairs, local)
        graphs.append(PPIGraph(split, int(gid), feats[members],
                               labels[members].astype(np.float32), edge_index,
                               {"links_across_graphs": leaving}))
    return graphs


def read_ppi(directory: str | Path, prefix: str = "ppi") -> list[PPIGraph]:
    """The PPI graphs of Hamilton et al. 2017, in either published layout.

    - GraphSAGE (snap.stanford.edu/graphsage/ppi.zip): ``ppi-G.json`` (networkx node-link,
      each node flagged ``val`` / ``test``), ``ppi-id_map.json`` (node -> feature row),
      ``ppi-class_map.json`` (node -> 121 0/1 labels), ``ppi-feats.npy``. This layout has no
      graph ids: one :class:`PPIGraph` per split, the disjoint union of its tissue graphs
      (train 20, val 2, test 2). Nodes lacking a flag are left out, as GraphSAGE does.
    - PyG / DGL (``{train,valid,test}_graph.json``, ``_feats.npy``, ``_labels.npy``,
      ``_graph_id.npy``): one graph per graph id (24).

    Links become both directions, deduplicated, without self-loops; links leaving a graph
    are counted in ``dropped``. Inconsistent files raise :class:`RecordError`.
    """
    directory = Path(directory)
    if (directory / f"{prefix}-G.json").is_file():
        return _read_graphsage(directory, prefix)
    if (directory / "train_graph.json").is_file():
        graphs = []
        for stem, split in PPI_SPLITS.items():
            graphs += _read_pyg_split(directory, stem, split)
        return graphs
    raise RecordError(directory, f"neither {prefix}-G.json (GraphSAGE) nor train_graph.json "
                                 "(PyG) found")
