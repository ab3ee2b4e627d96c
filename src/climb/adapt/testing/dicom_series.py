"""DICOM series (one file per slice) with a label table (used by benches/loader.py and tests).

Layout::

    RAW/labels.csv                   record,patient_id,label
    RAW/series/<record>/<slice>.dcm  one CT slice per file

Slices are sorted by InstanceNumber and stacked into a D x H x W volume of the stored pixel
values (int16), with the voxel spacing; no header field but the geometry is kept (no PHI).
Registered through a catalog overlay entry with ``adapter: testing.dicom_series``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.testing import labels_csv_items
from climb.read.dicom import read_dicom_series
from climb.record import Input, Record


class DICOMSeries(Adapter):
    name = "dicom_series"

    def items(self, raw_dir: Path) -> list[Item]:
        return labels_csv_items(raw_dir, "series/{record}")

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        volume, spacing = read_dicom_series(Path(raw_dir) / item.source)
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
