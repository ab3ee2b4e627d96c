"""Single-cell count matrices in 10x Genomics' Market Exchange (MEX) layout.

A folder with ``matrix.mtx`` (genes x barcodes, MatrixMarket coordinate integers),
``genes.tsv`` (gene id, symbol) and ``barcodes.tsv`` (Cell Ranger 1/2, e.g. the Zheng et al.
2017 PBMC releases), or the Cell Ranger 3 names ``matrix.mtx.gz``, ``features.tsv.gz``,
``barcodes.tsv.gz``. Read with :func:`scipy.io.mmread`; returned cells x genes as CSR.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

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
