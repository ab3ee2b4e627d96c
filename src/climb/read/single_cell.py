"""Single-cell matrices: 10x Genomics' Market Exchange (MEX) layout and AnnData ``.h5ad``.

**MEX**: a folder with ``matrix.mtx`` (genes x barcodes, MatrixMarket coordinate integers),
``genes.tsv`` (gene id, symbol) and ``barcodes.tsv`` (Cell Ranger 1/2, e.g. the Zheng et al.
2017 PBMC releases), or the Cell Ranger 3 names ``matrix.mtx.gz``, ``features.tsv.gz``,
``barcodes.tsv.gz``. Read with :func:`scipy.io.mmread`; returned cells x genes as CSR.

**.h5ad** (:func:`read_h5ad`): read with h5py following AnnData's documented on-disk format
(https://anndata.readthedocs.io/en/latest/fileformat-prose.html), not with anndata itself:
anndata requires pandas < 3 and climb is on pandas 3, so it cannot be a dependency. Supported,
because real files use them: the current layout (``X``/``layers/<name>``/``raw/X`` as a dense
dataset or a group of encoding-type ``csr_matrix``/``csc_matrix`` with ``data``, ``indices``,
``indptr`` and a ``shape`` attribute; ``obs``/``var``/``raw/var`` dataframe groups with an
``_index`` attribute, columns as datasets (numbers, booleans, ``string-array``), categoricals
as groups with ``codes``/``categories``, nullable columns as ``values``/``mask``); anndata
0.7-0.8 categoricals (a codes dataset whose ``categories`` attribute references
``__categories/<col>``); and the pre-0.7 layout scanpy's bundled files still use (dataframes
as one compound dataset with an ``index`` field, categories in ``uns/<col>_categories``,
sparse matrices as groups with ``h5sparse_format``/``h5sparse_shape`` attributes, the raw
matrix as top-level ``raw.X``/``raw.var``). Shapes, ``indptr`` and ``indices`` are validated
before a matrix is built; anything else is a :class:`~climb.errors.RecordError` naming the file
and the element.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from climb.errors import RecordError

MEX_NAMES = (("matrix.mtx", "genes.tsv", "barcodes.tsv"),
             ("matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz"))


@dataclass
class CountMatrix:
    """``counts``: float32 CSR [cells, genes]; gene ids/symbols and cell barcodes in order."""

    counts: sp.csr_matrix
    gene_ids: list[str]
    gene_symbols: list[str]
    barcodes: list[str]


def find_mex(folder: Path) -> Path | None:
    """The ``matrix.mtx[.gz]`` under ``folder`` (searched recursively; first in path order)."""
    found = sorted(p for names in MEX_NAMES for p in folder.rglob(names[0]) if p.is_file())
    return found[0] if found else None


def _table(path: Path, columns: int) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", header=None, dtype=str, compression="infer")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        raise RecordError(path, "unreadable tab-separated table") from None
    if table.shape[1] < columns:
        raise RecordError(path, f"{table.shape[1]} columns, expected at least {columns}")
    return table


def read_10x_mex(matrix_path: str | Path) -> CountMatrix:
    """Read a MEX folder given its ``matrix.mtx[.gz]``; validates shapes and counts."""
    matrix_path = Path(matrix_path)
    gz = matrix_path.name.endswith(".gz")
    _, genes_name, barcodes_name = MEX_NAMES[1] if gz else MEX_NAMES[0]
    genes_path = matrix_path.with_name(genes_name)
    barcodes_path = matrix_path.with_name(barcodes_name)
    for path in (genes_path, barcodes_path):
        if not path.is_file():
            raise RecordError(path, "missing beside the matrix")
    genes = _table(genes_path, 1)
    barcodes = _table(barcodes_path, 1)
    try:
        opener = gzip.open if gz else open
        with opener(matrix_path, "rb") as handle:
            matrix = scipy.io.mmread(handle)
    except (OSError, ValueError, EOFError, IndexError, TypeError, OverflowError):
        raise RecordError(matrix_path, "unreadable MatrixMarket file") from None
    if not sp.issparse(matrix):
        raise RecordError(matrix_path, "not a coordinate (sparse) MatrixMarket matrix")
    if matrix.shape != (len(genes), len(barcodes)):
        raise RecordError(matrix_path, f"shape {matrix.shape} does not match {len(genes)} genes "
                                       f"x {len(barcodes)} barcodes")
    counts = sp.csr_matrix(matrix.T, dtype=np.float32)
    if counts.nnz and (not np.isfinite(counts.data).all() or counts.data.min() < 0):
        raise RecordError(matrix_path, "counts must be finite and non-negative")
    symbols = genes.iloc[:, 1] if genes.shape[1] > 1 else genes.iloc[:, 0]
    return CountMatrix(counts, genes.iloc[:, 0].tolist(), symbols.tolist(),
                       barcodes.iloc[:, 0].tolist())


def log1p_normalize(counts: sp.csr_matrix, target_sum: float = 1e4) -> sp.csr_matrix:
    """``log1p(counts / cell total * target_sum)`` per cell (CP10k by default); a cell with
    no counts stays all-zero."""
    totals = np.asarray(counts.sum(axis=1)).ravel()
    scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
    out = sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ counts, dtype=np.float32)
    np.log1p(out.data, out=out.data)
    return out


def top_variable_genes(values: sp.csr_matrix, n: int) -> np.ndarray:
    """Indices (ascending) of the ``n`` genes with the largest variance across the rows of
    ``values`` (ties: the earlier gene)."""
    mean = np.asarray(values.mean(axis=0), dtype=np.float64).ravel()
    mean_sq = np.asarray(values.multiply(values).mean(axis=0), dtype=np.float64).ravel()
    variance = mean_sq - mean**2
    order = np.lexsort((np.arange(variance.size), -variance))
    return np.sort(order[: min(n, variance.size)])


# --- AnnData .h5ad ---------------------------------------------------------------------------

_H5_ERRORS = (OSError, KeyError, ValueError, TypeError, IndexError, RuntimeError,
              UnicodeDecodeError)


@dataclass
class H5ad:
    """One matrix of an ``.h5ad`` file: ``matrix`` float32 CSR [cells, genes] (``X``, a layer
    or ``raw/X``), ``obs`` (index = cell names; the columns asked for) and ``var`` (index =
    gene names of that matrix)."""

    matrix: sp.csr_matrix
    obs: pd.DataFrame
    var: pd.DataFrame


def _strings(values: np.ndarray) -> np.ndarray:
    """Bytes or str elements as an object array of ``str``."""
    return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values],
                    dtype=object)


def _array(path: Path, node: h5py.Dataset, where: str) -> np.ndarray:
    """A 1-D column dataset as numpy (strings decoded)."""
    if node.ndim != 1:
        raise RecordError(path, f"{where} is not one-dimensional")
    if node.dtype.kind in "SO" or h5py.check_string_dtype(node.dtype) is not None:
        return _strings(node[()])
    if node.dtype.kind not in "biuf":
        raise RecordError(path, f"{where} has an unsupported column type")
    return node[()]


def _categorical(path: Path, codes: np.ndarray, categories: np.ndarray, where: str) -> pd.Series:
    codes = np.asarray(codes).astype(np.int64)
    if codes.size and (codes.min() < -1 or codes.max() >= len(categories)):
        raise RecordError(path, f"{where}: category codes out of range")
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(categories)))


def _column(path: Path, file: h5py.File, frame: h5py.Group, name: str, where: str) -> pd.Series:
    """One column of a current-layout (or 0.7-0.8) dataframe group."""
    node = frame[name]
    if isinstance(node, h5py.Group):
        kind = node.attrs.get("encoding-type", "")
        if kind == "categorical":
            return _categorical(path, node["codes"][()], _array(path, node["categories"],
                                                                 f"{where}/categories"), where)
        if kind in ("nullable-integer", "nullable-boolean", "nullable-string-array"):
            values = pd.Series(_array(path, node["values"], where), dtype=object)
            mask = node["mask"][()].astype(bool)
            if mask.shape != values.shape:
                raise RecordError(path, f"{where}: mask and values differ in length")
            values[mask] = None
            return values
        raise RecordError(path, f"{where}: unsupported column encoding")
    reference = node.attrs.get("categories")
    if isinstance(reference, h5py.Reference):  # anndata 0.7-0.8 categorical
        return _categorical(path, node[()], _array(path, file[reference], where), where)
    return pd.Series(_array(path, node, where))


def _frame(path: Path, file: h5py.File, key: str, columns: list[str] | None) -> pd.DataFrame:
    """The dataframe at ``key`` (``obs``, ``var``, ``raw/var`` or legacy ``raw.var``): its index
    and ``columns`` (None = all; a missing one is absent from the result)."""
    node = file[key]
    if isinstance(node, h5py.Dataset):  # pre-0.7: one compound dataset
        if node.dtype.names is None or "index" not in node.dtype.names or node.ndim != 1:
            raise RecordError(path, f"{key} is neither a dataframe group nor a compound table")
        table = node[()]
        out = {}
        for name in node.dtype.names:
            if name == "index" or (columns is not None and name not in columns):
                continue
            values = table[name]
            legacy = f"uns/{name}_categories"
            if legacy in file and values.dtype.kind in "iu":
                out[name] = _categorical(path, values, _array(path, file[legacy], legacy),
                                         f"{key}/{name}")
            elif values.dtype.kind in "biuf":
                out[name] = pd.Series(values)
            elif values.dtype.kind == "S":
                out[name] = pd.Series(_strings(values))
        return _assemble(out, _strings(table["index"]))
    index_name = node.attrs.get("_index")
    if index_name is None:
        raise RecordError(path, f"{key} has no _index attribute")
    if isinstance(index_name, bytes):
        index_name = index_name.decode()
    index = _array(path, node[index_name], f"{key}/{index_name}")
    names = [str(c) for c in node.attrs.get("column-order", [])] or [
        c for c in node if c != index_name and c != "__categories"]
    out = {}
    for name in names:
        if (columns is not None and name not in columns) or name not in node:
            continue
        out[name] = _column(path, file, node, name, f"{key}/{name}")
        if len(out[name]) != len(index):
            raise RecordError(path, f"{key}/{name} has {len(out[name])} rows, the index "
                                    f"{len(index)}")
    return _assemble(out, index)


def _assemble(columns: dict[str, pd.Series], index: np.ndarray) -> pd.DataFrame:
    """Columns (positional, not aligned on their own index) under the cell/gene names."""
    return pd.DataFrame({k: v.array for k, v in columns.items()},
                        index=pd.Index(index, dtype=object))


def _shape(path: Path, node: h5py.Group, where: str) -> tuple[int, int]:
    shape = node.attrs.get("shape", node.attrs.get("h5sparse_shape"))
    shape = np.asarray(shape).ravel() if shape is not None else np.zeros(0)
    if shape.size != 2 or shape.dtype.kind not in "iu" or (shape < 0).any():
        raise RecordError(path, f"{where} has no valid two-dimensional shape attribute")
    return int(shape[0]), int(shape[1])


def _sparse(path: Path, node: h5py.Group, where: str) -> sp.csr_matrix:
    """A csr/csc group, validated (shape, indptr, indices) before it becomes a matrix."""
    kind = node.attrs.get("encoding-type", node.attrs.get("h5sparse_format", ""))
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind not in ("csr_matrix", "csc_matrix", "csr", "csc"):
        raise RecordError(path, f"{where} is a group but not a csr/csc sparse matrix")
    rows, cols = _shape(path, node, where)
    for part in ("data", "indices", "indptr"):
        if part not in node or not isinstance(node[part], h5py.Dataset) or node[part].ndim != 1:
            raise RecordError(path, f"{where}/{part} missing or not one-dimensional")
    by_row = kind.startswith("csr")
    major, minor = (rows, cols) if by_row else (cols, rows)
    indptr = node["indptr"][()].astype(np.int64)
    n = node["data"].shape[0]
    if indptr.size != major + 1:
        raise RecordError(path, f"{where}/indptr has {indptr.size} entries, shape needs "
                                f"{major + 1}")
    if indptr[0] != 0 or (np.diff(indptr) < 0).any() or indptr[-1] != n:
        raise RecordError(path, f"{where}/indptr is not a non-decreasing 0..nnz pointer")
    if node["indices"].shape[0] != n:
        raise RecordError(path, f"{where}: indices and data differ in length")
    if node["data"].dtype.kind not in "biuf" or node["indices"].dtype.kind not in "iu":
        raise RecordError(path, f"{where}: data or indices of a non-numeric type")
    indices = node["indices"][()].astype(np.int64)
    if n and (indices.min() < 0 or indices.max() >= minor):
        raise RecordError(path, f"{where}/indices out of range for the shape")
    data = node["data"][()].astype(np.float32)
    matrix_type = sp.csr_matrix if by_row else sp.csc_matrix
    return sp.csr_matrix(matrix_type((data, indices, indptr), shape=(rows, cols)))


def _matrix(path: Path, file: h5py.File, key: str) -> sp.csr_matrix:
    node = file[key]
    if isinstance(node, h5py.Group):
        matrix = _sparse(path, node, key)
    else:
        if node.ndim != 2 or node.dtype.kind not in "biuf":
            raise RecordError(path, f"{key} is not a two-dimensional numeric matrix")
        matrix = sp.csr_matrix(node[()].astype(np.float32))
    if matrix.nnz and not np.isfinite(matrix.data).all():
        raise RecordError(path, f"{key} has non-finite values")
    return matrix


def h5ad_obs(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Only the ``obs`` table of an ``.h5ad`` (cheap: the matrix is not read)."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as file:
            if "obs" not in file:
                raise RecordError(path, "no obs table")
            return _frame(path, file, "obs", columns)
    except RecordError:
        raise
    except _H5_ERRORS:
        raise RecordError(path, "unreadable .h5ad (truncated or not HDF5/AnnData)") from None


def read_h5ad(path: str | Path, *, layer: str | None = None, use_raw: bool = False,
              obs_columns: list[str] | None = None) -> H5ad:
    """Read one matrix (``X``, ``layers/<layer>`` or, with ``use_raw``, ``raw/X``) with its
    ``obs`` (``obs_columns``; None = all) and matching ``var``; shapes cross-checked."""
    path = Path(path)
    if layer and use_raw:
        raise ValueError("layer and use_raw are exclusive")
    try:
        with h5py.File(path, "r") as file:
            if use_raw:
                key, var_key = (("raw/X", "raw/var") if "raw" in file
                                else ("raw.X", "raw.var"))
            elif layer:
                key, var_key = f"layers/{layer}", "var"
            else:
                key, var_key = "X", "var"
            for needed in (key, "obs", var_key):
                if needed not in file:
                    raise RecordError(path, f"no {needed}")
            obs = _frame(path, file, "obs", obs_columns)
            var = _frame(path, file, var_key, [])
            matrix = _matrix(path, file, key)
    except RecordError:
        raise
    except _H5_ERRORS:
        raise RecordError(path, "unreadable .h5ad (truncated or not HDF5/AnnData)") from None
    if matrix.shape != (len(obs), len(var)):
        raise RecordError(path, f"{key} shape {matrix.shape} does not match {len(obs)} obs x "
                                f"{len(var)} var")
    return H5ad(matrix, obs, var)
