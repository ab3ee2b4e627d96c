"""A folder of PNG images with a label table (used by benches/loader.py and tests).

Layout::

    RAW/labels.csv       record,patient_id,label
    RAW/images/<record>.png

Images are decoded once at `prepare` time into H x W x C uint8 arrays (so that loading is a
copy, not a PNG decode). Registered through a catalog overlay entry with
``adapter: testing.png_folder``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.record import Input, Record


def read_png(path: Path) -> np.ndarray:
    """PNG -> H x W x C uint8 (RGB)."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, UnidentifiedImageError) as err:
        raise RecordError(path, f"cannot decode image: {err}") from None


class PNGFolder(Adapter):
    name = "png_folder"

    def items(self, raw_dir: Path) -> list[Item]:
        with (Path(raw_dir) / "labels.csv").open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        return [Item(source=f"images/{r['record']}.png", key=r["record"], info=dict(r))
                for r in sorted(rows, key=lambda r: r["record"])]

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        task = self.entry.tasks[0].name
        yield Record(
            sample_id=item.key,
            dataset=self.entry.name,
            modality=self.entry.modality,
            inputs={"image": Input(read_png(Path(raw_dir) / item.source))},
            labels={task: self.mapper(task).multiclass(item.info["label"] or None)},
            patient_id=item.info.get("patient_id") or None,
            meta={"source_file": item.source},
        )


ADAPTER = PNGFolder
