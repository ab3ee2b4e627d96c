"""DICOM image series (one file per slice) through pydicom.

Only pixel data and geometry leave this module: no patient, study or device tag is returned,
so nothing identifying can reach the store or the logs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from climb.errors import RecordError


def read_dicom_series(folder: str | Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Stack a folder's ``*.dcm`` slices by InstanceNumber -> (D x H x W, (dz, dy, dx) mm)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.dcm"))
    if not files:
        raise RecordError(folder, "no DICOM slices")
    slices = []
    for f in files:
        try:
            ds = pydicom.dcmread(f)
            slices.append((int(ds.InstanceNumber), ds.pixel_array, ds))
        except Exception as err:  # pydicom raises many types for bad files
            raise RecordError(f, f"cannot read DICOM slice: {type(err).__name__}: {err}") from None
    slices.sort(key=lambda s: s[0])
    first = slices[0][2]
    dy, dx = (float(v) for v in first.PixelSpacing)
    spacing = (float(getattr(first, "SliceThickness", 1.0) or 1.0), dy, dx)
    return np.stack([s[1] for s in slices]), spacing
