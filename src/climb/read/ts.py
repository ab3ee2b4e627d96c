"""The sktime / aeon / UEA-UCR ``.ts`` time-series classification format.

A ``.ts`` file is a header of ``@key value`` lines (``@problemName``, ``@timestamps``,
``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``, ``@classLabel true
c1 c2 ...``, ``@missing``), ``#`` comment lines, then ``@data`` followed by one case per line:
the dimensions separated by ``:``, the values of one dimension by ``,``, and the class label
last (when ``@classLabel true``). ``?`` is a missing value (read as NaN).

The format carries no sampling rate or channel names: the adapter of each dataset supplies
them (from the dataset's description file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from climb.errors import RecordError

_BOOL = {"true": True, "false": False}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class TsData:
    """The cases of one ``.ts`` file: ``cases[i]`` is float32 [dimensions, length]."""

    cases: list[np.ndarray]
    labels: list[str | None]
    class_labels: list[str]
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def problem_name(self) -> str | None:
        return self.header.get("problemname")

    def __len__(self) -> int:
        return len(self.cases)


def _parse_header(path: Path, key: str, rest: str, header: dict[str, Any]) -> None:
    words = rest.split()
    if key in {"timestamps", "univariate", "equallength", "missing", "classlabel", "targetlabel"}:
        if not words or words[0].lower() not in _BOOL:
            raise RecordError(path, f"header @{key} must be true or false")
        header[key] = _BOOL[words[0].lower()]
        if key == "classlabel":
            header["classes"] = words[1:]
            if header[key] and not header["classes"]:
                raise RecordError(path, "header @classLabel true lists no class labels")
    elif key in {"serieslength", "dimensions"}:
        try:
            header[key] = int(words[0])
        except (IndexError, ValueError):
            raise RecordError(path, f"header @{key} must be an integer") from None
        if header[key] <= 0:
            raise RecordError(path, f"header @{key} must be positive")
    elif key == "problemname" and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", rest.strip()):
        header[key] = rest.strip()  # a dataset name ("EyesOpenShut"); free text is not kept
    # other keys (free text such as descriptions) are not kept


def _parse_values(path: Path, lineno: int, text: str) -> np.ndarray:
    text = text.strip()
    if not text:
        raise RecordError(path, f"line {lineno}: empty dimension")
    try:
        values = np.array(
            [np.nan if v.strip() == "?" else float(v) for v in text.split(",")], dtype=np.float64
        )
    except ValueError:
        raise RecordError(path, f"line {lineno}: not a number in series") from None
    if np.isinf(values).any() or (np.abs(values[np.isfinite(values)]) > _FLOAT32_MAX).any():
        raise RecordError(path, f"line {lineno}: infinite or out-of-range value in series")
    return values.astype(np.float32)


def read_ts(path: str | Path) -> TsData:
    """Read a ``.ts`` file; a bad header or data line raises RecordError naming the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise RecordError(path, f"not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise RecordError(path, f"cannot read .ts file ({type(err).__name__})") from None

    header: dict[str, Any] = {}
    cases: list[np.ndarray] = []
    labels: list[str | None] = []
    in_data = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise RecordError(path, f"line {lineno}: data before the @data header line")
            key, _, rest = line[1:].partition(" ")
            key = key.lower()
            if key == "data":
                in_data = True
            else:
                _parse_header(path, key, rest, header)
            continue
        if header.get("timestamps"):
            raise RecordError(path, "timestamped .ts series ('(t,v)' pairs) are not supported")
        parts = line.split(":")
        label = None
        if header.get("classlabel"):
            if len(parts) < 2:
                raise RecordError(path, f"line {lineno}: no class label after the series")
            label = parts.pop().strip()
            if label not in header["classes"]:
                raise RecordError(path, f"line {lineno}: class label not in @classLabel")
        dims = [_parse_values(path, lineno, p) for p in parts]
        want_dims = header.get("dimensions") or (1 if header.get("univariate") else None)
        if want_dims is not None and len(dims) != want_dims:
            raise RecordError(
                path, f"line {lineno}: {len(dims)} dimensions, header says {want_dims}"
            )
        if cases and len(dims) != cases[0].shape[0]:
            raise RecordError(
                path,
                f"line {lineno}: {len(dims)} dimensions, earlier cases have {cases[0].shape[0]}",
            )
        lengths = {len(d) for d in dims}
        if len(lengths) != 1:
            raise RecordError(
                path, f"line {lineno}: dimensions of unequal length {sorted(lengths)}"
            )
        if header.get("equallength") and cases and dims[0].size != cases[0].shape[1]:
            raise RecordError(
                path,
                f"line {lineno}: series length {dims[0].size}, earlier cases have "
                f"{cases[0].shape[1]} (@equalLength true)",
            )
        cases.append(np.stack(dims))
        labels.append(label)
    if not in_data:
        raise RecordError(path, "no @data line: not a .ts file or truncated header")
    if not cases:
        raise RecordError(path, "no cases after @data")
    declared = header.get("serieslength")
    if declared is not None and header.get("equallength") and cases[0].shape[1] != declared:
        # Some published files (e.g. EyesOpenShut: 127 declared, 128 stored) disagree with
        # their own header; the data win and the header value is kept for the record.
        header["serieslength_declared"] = declared
        header["serieslength"] = int(cases[0].shape[1])
    return TsData(
        cases=cases, labels=labels, class_labels=list(header.get("classes", [])), header=header
    )
