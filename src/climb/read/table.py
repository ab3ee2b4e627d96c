"""Delimited text tables: signal tables (CSV/TSV, columns = channels), expression matrices
(genes x samples TSV/CSV, as Expression Atlas and GEO supplementary files publish them), and
GEO series-matrix files (``!Series_...`` / ``!Sample_...`` header lines + the ``ID_REF`` table).

All read through pandas (gzip handled by extension); bad input raises RecordError naming the
file and the problem.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from climb.errors import RecordError
from climb.read.signal import Signal, rate_problem

_FLOAT32_MAX = float(np.finfo(np.float32).max)
TIME_COLUMNS = ("time", "time_s", "t", "timestamp", "seconds", "elapsed time")


def _sep_for(path: Path, sep: str | None) -> str:
    if sep is not None:
        return sep
    name = path.name.lower().removesuffix(".gz")
    return "\t" if name.endswith((".tsv", ".txt", ".tab")) else ","


def _read_frame(path: Path, sep: str, **kwargs: Any) -> pd.DataFrame:
    if not path.exists():
        raise RecordError(path, "file not found")
    try:
        return pd.read_csv(path, sep=sep, **kwargs)
    except pd.errors.ParserError as err:  # pandas' text names the line, never a cell
        raise RecordError(path, f"ragged or malformed table: {err}") from None
    except pd.errors.EmptyDataError:
        raise RecordError(path, "empty table") from None
    except UnicodeDecodeError as err:
        raise RecordError(path, f"not UTF-8 text (byte {err.start})") from None
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise RecordError(path, f"cannot read table ({type(err).__name__})") from None


def _numeric(path: Path, frame: pd.DataFrame, what: str) -> np.ndarray:
    bad = [k for k, c in enumerate(frame.columns) if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:  # column names and cells are free text: named by position only
        raise RecordError(path, f"{what} column {bad[0] + 1} is not numeric")
    values = frame.to_numpy(dtype=np.float64)
    if np.isinf(values).any() or (np.abs(values[np.isfinite(values)]) > _FLOAT32_MAX).any():
        raise RecordError(path, f"{what} values infinite or beyond the float32 range")
    return values.astype(np.float32)


def read_signal_table(
    path: str | Path,
    *,
    fs: float | None = None,
    time_column: str | None = "auto",
    units: str | list[str] = "",
    sep: str | None = None,
    time_scale: float = 1.0,
    skiprows: int = 0,
    allow_missing: bool = False,
) -> Signal:
    """A CSV/TSV of samples x channels as a Signal (float32 [channels, samples]).

    ``time_column`` = "auto" uses the first column named like a time axis (``time``, ``t``,
    ``timestamp``...); its spacing (times ``time_scale``, to seconds) gives ``fs`` when ``fs``
    is not given. A table without time column and without ``fs`` is an error. ``skiprows``
    skips header lines before the column-name line. Empty cells (or short, ragged rows) are
    an error unless ``allow_missing`` (then they are NaN).
    """
    path = Path(path)
    frame = _read_frame(path, _sep_for(path, sep), skiprows=skiprows)
    if frame.empty:
        raise RecordError(path, "table has a header but no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    tcol = None
    if time_column == "auto":
        tcol = next((c for c in frame.columns if c.lower() in TIME_COLUMNS), None)
    elif time_column is not None:
        if time_column not in frame.columns:
            raise RecordError(path, f"no time column {time_column!r}")
        tcol = time_column
    if tcol is not None:
        times = _numeric(path, frame[[tcol]], "time")[:, 0].astype(np.float64) * time_scale
        frame = frame.drop(columns=[tcol])
        if fs is None:
            steps = np.diff(times)
            if steps.size == 0 or not np.all(steps > 0):
                raise RecordError(path, "time column is not strictly increasing")
            step = float(np.median(steps))
            if np.max(np.abs(steps - step)) > 0.01 * step:
                raise RecordError(path, "time column is not uniformly sampled")
            fs = (times.size - 1) / (times[-1] - times[0])  # less rounding than 1 / step
    if fs is None:
        raise RecordError(path, "no time column and no sampling rate given")
    if rate_problem(fs):
        raise RecordError(path, f"sampling rate {rate_problem(fs)}")
    data = _numeric(path, frame, "signal").T.copy()
    if not allow_missing and np.isnan(data).any():
        row = int(np.argwhere(np.isnan(data).any(axis=0))[0, 0])
        line = row + skiprows + 2  # 1-based, after the column-name line
        raise RecordError(path, f"line {line}: missing values (ragged row or empty cell)")
    channels = list(frame.columns)
    unit_list = [units] * len(channels) if isinstance(units, str) else list(units)
    return Signal(
        data=data,
        fs=float(fs),
        channels=channels,
        units=unit_list,
        meta={"format": "table", "duration_s": data.shape[1] / fs, "time_column": tcol},
    )


@dataclass
class ExpressionMatrix:
    """``values`` float32 [genes, samples]; ``genes`` are ids (Ensembl, probe ids...)."""

    values: np.ndarray
    genes: list[str]
    samples: list[str]
    gene_names: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def column(self, sample: str) -> np.ndarray:
        """The expression vector of one sample (float32 [genes])."""
        try:
            return self.values[:, self.samples.index(sample)]
        except ValueError:
            raise KeyError(f"no sample {sample!r}") from None


def read_expression_matrix(
    path: str | Path,
    *,
    gene_column: str | int = 0,
    name_column: str | None = "auto",
    sep: str | None = None,
    comment: str | None = "#",
) -> ExpressionMatrix:
    """A genes x samples table: first column gene ids, an optional gene-name column
    (Expression Atlas "Gene Name"), then one numeric column per sample. Blank cells are NaN.
    """
    path = Path(path)
    frame = _read_frame(path, _sep_for(path, sep), comment=comment, dtype={0: str})
    frame.columns = [str(c).strip() for c in frame.columns]
    id_col = frame.columns[gene_column] if isinstance(gene_column, int) else gene_column
    if id_col not in frame.columns:
        raise RecordError(path, f"no gene id column {id_col!r}")
    names = None
    if name_column == "auto":
        name_column = next((c for c in frame.columns if c.lower() == "gene name"), None)
    if name_column:
        names = frame[name_column].fillna("").astype(str).tolist()
    genes = frame[id_col].astype(str).tolist()
    if len(set(genes)) != len(genes):
        raise RecordError(path, f"gene id column {id_col!r} has duplicate ids")
    values = frame.drop(columns=[c for c in (id_col, name_column) if c])
    if values.shape[1] == 0:
        raise RecordError(path, "no sample columns")
    return ExpressionMatrix(
        values=_numeric(path, values, "sample"),
        genes=genes,
        samples=list(values.columns),
        gene_names=names,
        meta={"format": "expression_table"},
    )


@dataclass
class SeriesMatrix:
    """A GEO series matrix: ``series`` and ``samples`` header fields + the data table.

    ``samples[field]`` is a list with one entry per sample column (in table order) for
    fields given once, and ``samples_multi[field]`` the list of all lines of a repeated
    field (``!Sample_characteristics_ch1`` appears once per characteristic).
    """

    series: dict[str, list[str]]
    samples: dict[str, list[str]]
    samples_multi: dict[str, list[list[str]]]
    matrix: ExpressionMatrix

    def characteristics(self, channel: int = 1) -> list[dict[str, str]]:
        """Per sample, ``{key: value}`` from the ``key: value`` characteristics lines."""
        lines = self.samples_multi.get(f"characteristics_ch{channel}", [])
        out: list[dict[str, str]] = [{} for _ in self.matrix.samples]
        for line in lines:
            for i, cell in enumerate(line):
                key, sep, value = cell.partition(":")
                if sep:
                    out[i][key.strip().lower()] = value.strip()
        return out


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def read_series_matrix(path: str | Path) -> SeriesMatrix:
    """Read a GEO ``GSExxx_series_matrix.txt[.gz]`` file."""
    path = Path(path)
    if not path.exists():
        raise RecordError(path, "file not found")
    series: dict[str, list[str]] = {}
    samples_multi: dict[str, list[list[str]]] = {}
    table: list[str] = []
    in_table = ended = False
    try:
        with _open_text(path) as handle:
            for raw in handle:
                line = raw.rstrip("\n\r")
                if in_table:
                    if line.startswith("!series_matrix_table_end"):
                        ended = True
                        in_table = False
                    else:
                        table.append(line)
                    continue
                if line.startswith("!series_matrix_table_begin"):
                    in_table = True
                    continue
                if not line.startswith("!"):
                    continue
                cells = next(csv.reader([line], delimiter="\t"))
                key = cells[0][1:]
                values = [c.strip() for c in cells[1:]]
                if key.startswith("Series_"):
                    series.setdefault(key[len("Series_") :], []).extend(values)
                elif key.startswith("Sample_"):
                    samples_multi.setdefault(key[len("Sample_") :], []).append(values)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise RecordError(path, f"cannot read series matrix: {type(err).__name__}: {err}") from None
    if not table:
        raise RecordError(path, "no !series_matrix_table_begin ... table: not a series matrix")
    if not ended:
        raise RecordError(path, "truncated: no !series_matrix_table_end line")
    try:
        frame = pd.read_csv(io.StringIO("\n".join(table)), sep="\t", dtype={0: str})
    except pd.errors.ParserError as err:
        raise RecordError(path, f"ragged series matrix table: {err}") from None
    if frame.columns[0] != "ID_REF":
        raise RecordError(path, "table does not start with an 'ID_REF' column")
    values = frame.drop(columns=["ID_REF"])
    matrix = ExpressionMatrix(
        values=_numeric(path, values, "sample"),
        genes=frame["ID_REF"].astype(str).tolist(),
        samples=[str(c) for c in values.columns],
        meta={"format": "geo_series_matrix"},
    )
    n = len(matrix.samples)
    for key, lines in samples_multi.items():
        for line in lines:
            if len(line) != n:
                raise RecordError(
                    path, f"!Sample_{key} has {len(line)} values for {n} sample columns"
                )
    accessions = samples_multi.get("geo_accession", [matrix.samples])[0]
    if accessions != matrix.samples:
        raise RecordError(path, "!Sample_geo_accession does not match the table's sample columns")
    singles = {k: v[0] for k, v in samples_multi.items() if len(v) == 1}
    return SeriesMatrix(series=series, samples=singles, samples_multi=samples_multi, matrix=matrix)
