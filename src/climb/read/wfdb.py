"""WFDB records (all formats the wfdb package reads, incl. MATLAB v4 `.mat` signal files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from climb.errors import RecordError
from climb.read.signal import Signal


def read_wfdb(record_path: str | Path) -> Signal:
    """Read a WFDB record (path without extension, or to its `.hea`) in physical units."""
    path = Path(record_path)
    if path.suffix == ".hea":
        path = path.with_suffix("")
    header = path.with_suffix(".hea")
    if not header.exists():
        raise RecordError(header, "WFDB header not found")
    try:
        record = wfdb.rdrecord(str(path))
    except Exception as err:  # wfdb raises many types for bad files
        raise RecordError(header, f"cannot read WFDB record: {type(err).__name__}: {err}") from None
    data = np.asarray(record.p_signal, dtype=np.float32).T
    return Signal(
        data=data,
        fs=float(record.fs),
        channels=[str(c) for c in record.sig_name],
        units=[str(u) for u in record.units],
        meta={"format": "wfdb", "comments": list(record.comments or [])},
    )
