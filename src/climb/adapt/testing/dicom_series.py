"""DICOM series (one file per slice) with a label table (used by benches/loader.py and tests).

Layout::

    RAW/labels.csv                   record,patient_id,label
    RAW/series/<record>/<slice>.dcm  one CT slice per file

Slices are sorted by InstanceNumber and stacked into a D x H x W volume of the stored pixel
values (int16), with the voxel spacing; no header field but the geometry is kept (no PHI).
Registered through a catalog overlay entry with ``adapter: testing.dicom_series``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pydicom

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.record import Input, Record


def read_series(folder: Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Stack the slices of a folder -> (D x H x W volume, (dz, dy, dx) spacing)."""
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


class DICOMSeries(Adapter):
    name = "dicom_series"

    def items(self, raw_dir: Path) -> list[Item]:
        with (Path(raw_dir) / "labels.csv").open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        return [Item(source=f"series/{r['record']}", key=r["record"], info=dict(r))
                for r in sorted(rows, key=lambda r: r["record"])]

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        volume, spacing = read_series(Path(raw_dir) / item.source)
        task = self.entry.tasks[0].name
        yield Record(
            sample_id=item.key,
            dataset=self.entry.name,
            modality=self.entry.modality,
            inputs={"volume": Input(volume, spacing=spacing)},
            labels={task: self.mapper(task).multiclass(item.info["label"] or None)},
            patient_id=item.info.get("patient_id") or None,
            meta={"source_file": item.source},
        )


ADAPTER = DICOMSeries
