"""COVIDx-US (Ebadi et al. 2022, Frontiers in Bioscience-Landmark 27(7):198): lung ultrasound
videos gathered from nine public sources by the nrc-cnrc/COVID-US repository.

Layout (the repository after its ``create_COVIDxUS.ipynb`` has fetched and processed the
videos; file names from the notebook, columns from the repository's label tables)::

    labels/COVIDx-US<version>_4class.csv   id, LUSS, source, probe, class, class_on_website,
                                           type, patient, case_no
    data/video/clean/<id>_prc_<probe>_clean.avi   the processed video (cropped, the moving
                                                  pointer inpainted); probe convex / linear
    data/video/cropped/<id>_prc.avi               the cropped video, used where no clean one

The newest ``*_4class.csv`` in ``labels/`` is read (v1.4: 242 videos; v1.5 ships its table
only as an .xlsx, not read). Task: ``diagnosis`` from ``class`` through
harmonize/mappings/covid_us.yaml (COVID, Pneumonia, Normal; class Other is left out, as the
catalog says, and its videos are not listed). The ``id`` also holds the class; the table
wins. ``patient`` (p1, p2, ...: several videos of one case share it) is the patient id, so
`prepare`'s seeded patient hash keeps a patient's videos in one split (the repository has no
official split). ``meta``: ``site`` = source, ``device`` = probe, ``view`` = the scanned
region (``type``: lung, cardiac, ...). ``class_on_website`` and the free-text comments of
the metadata tables are never read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from climb.adapt.base import Item
from climb.adapt.imaging import find_root, map_label, relative
from climb.adapt.video import ClipAdapter
from climb.errors import RecordError
from climb.record import Record

LABELS = "labels"
TABLE = re.compile(r"^COVIDx-US(?P<version>\d+(?:\.\d+)*)_4class\.csv$")
LEFT_OUT = {"Other"}


def newest_table(folder: Path) -> Path:
    """The ``COVIDx-US<version>_4class.csv`` of the highest version in ``folder``."""
    tables = []
    for path in Path(folder).iterdir():
        match = TABLE.match(path.name)
        if match:
            tables.append((tuple(int(p) for p in match["version"].split(".")), path))
    if not tables:
        raise RecordError(Path(folder) / "COVIDx-US<version>_4class.csv", "label table not found")
    return max(tables)[1]


def text(value) -> str | None:
    """A stripped cell, None when empty."""
    return None if pd.isna(value) or not str(value).strip() else str(value).strip()


class CovidUsAdapter(ClipAdapter):
    name = "covid_us"
    meta_fields = {"site": "site", "device": "device", "view": "view"}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, LABELS)
        table = pd.read_csv(newest_table(root / LABELS), dtype=str, keep_default_na=False)
        items = []
        for row in table.itertuples(index=False):
            video_id, native = text(row.id), text(row[table.columns.get_loc("class")])
            if video_id is None or native in LEFT_OUT:
                continue
            probe = (text(row.probe) or "").lower()
            clean = root / "data/video/clean" / f"{video_id}_prc_{probe}_clean.avi"
            cropped = root / "data/video/cropped" / f"{video_id}_prc.avi"
            path = cropped if not clean.is_file() and cropped.is_file() else clean
            items.append(
                Item(
                    source=relative(path, raw_dir),
                    key=video_id,
                    info={
                        "label": native,
                        "patient_id": text(row.patient),
                        "site": text(row.source),
                        "device": text(row.probe),
                        "view": text(row.type),
                    },
                )
            )
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        label = map_label(self.mapper("diagnosis"), info["label"], item.source)
        yield self.clip_record(raw_dir, item, {"diagnosis": label})


ADAPTER = CovidUsAdapter
