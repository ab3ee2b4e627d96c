"""Plain label tables of a prepared store, for users of other frameworks.

``export_table(paths, out, fmt)`` writes ``OUT/<dataset>.parquet`` (or ``.csv``) per dataset,
sorted by sample id: ``sample_id, patient_id, split``, then per task one column:
multiclass/binary ``<task>`` (the harmonized class name; empty where missing), regression
``<task>`` (float; NaN where missing), and per multilabel task one column per class,
``<task>.<class>`` (1.0 / 0.0; NaN unknown). Segmentation masks and other array labels are
left out (they are in the store). Only the label columns are read, never a payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from climb.errors import ClimbError
from climb.export.qa import resolve
from climb.store.reader import PreparedDataset
from climb.store.writer import LABEL_PREFIX

TABLE_FORMATS = ("parquet", "csv")
BASE_COLUMNS = ("sample_id", "patient_id", "split")


def label_table(ds: PreparedDataset) -> pd.DataFrame:
    """The label table of one prepared dataset (see the module docstring)."""
    tasks = {
        t["name"]: t
        for t in ds.manifest["tasks"]
        if t["type"] in ("binary", "multiclass", "multilabel", "regression")
    }
    frames = []
    for path in ds.shards():
        names = pq.ParquetFile(path).schema_arrow.names
        columns = [c for c in BASE_COLUMNS if c in names]
        columns += [LABEL_PREFIX + n for n in tasks if LABEL_PREFIX + n in names]
        frames.append(pq.read_table(path, columns=columns).to_pandas())
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BASE_COLUMNS)
    out: dict[str, Any] = {c: raw.get(c) for c in BASE_COLUMNS}
    for name, task in tasks.items():
        col = LABEL_PREFIX + name
        values = raw[col] if col in raw else pd.Series([None] * len(raw))
        classes = task["classes"]
        if task["type"] == "multilabel":
            matrix = np.full((len(raw), len(classes)), np.nan, dtype=np.float32)
            for i, vec in enumerate(values):
                if vec is not None:
                    matrix[i] = np.asarray(vec, dtype=np.float32)
            for j, cls in enumerate(classes):
                out[f"{name}.{cls}"] = matrix[:, j]
        elif task["type"] == "regression":
            out[name] = pd.to_numeric(values, errors="coerce").astype("float32")
        else:
            out[name] = [
                classes[int(v)] if v is not None and 0 <= int(v) < len(classes) else None
                for v in values
            ]
    table = pd.DataFrame(out)
    return table.sort_values("sample_id", kind="stable").reset_index(drop=True)


def export_table(paths: Sequence[str | Path], out: str | Path, fmt: str = "parquet") -> list[Path]:
    """Write one label table per dataset into ``out``; returns the files written."""
    if fmt not in TABLE_FORMATS:
        raise ClimbError(f"--format must be one of {', '.join(TABLE_FORMATS)}, not {fmt!r}")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for ds in resolve(paths):
        table = label_table(ds)
        dest = root / f"{ds.name}.{fmt}"
        if fmt == "csv":
            table.to_csv(dest, index=False)
        else:
            table.to_parquet(dest, index=False)
        written.append(dest)
    return written
