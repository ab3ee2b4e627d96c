"""A folder of PNG images with a label table (used by benches/loader.py and tests).

Layout::

    RAW/labels.csv       record,patient_id,label
    RAW/images/<record>.png

Images are decoded once at `prepare` time into H x W x C uint8 arrays (H x W with the
config ``mode=L``), stored as ``image.codec`` says. Registered through a catalog overlay entry with
``adapter: testing.png_folder``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.testing import labels_csv_items
from climb.read.image import read_image
from climb.record import Input, Record


class PNGFolder(Adapter):
    name = "png_folder"

    def items(self, raw_dir: Path) -> list[Item]:
        return labels_csv_items(raw_dir, "images/{record}.png")

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        task = self.entry.tasks[0].name
        yield Record(
            sample_id=item.key,
            dataset=self.entry.name,
            modality=self.entry.modality,
            inputs={"image": Input(read_image(Path(raw_dir) / item.source,
                                              mode=str(self.config.get("mode", "RGB"))))},
            labels={task: self.mapper(task).multiclass(item.info["label"] or None)},
            patient_id=item.info.get("patient_id") or None,
            meta={"source_file": item.source},
        )


ADAPTER = PNGFolder
