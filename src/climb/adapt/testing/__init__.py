"""Test-only adapters: small, real-format datasets used to exercise `prepare` and `load`."""

from __future__ import annotations

import csv
from pathlib import Path

from climb.adapt.base import Item
from climb.errors import RecordError


def labels_csv_items(raw_dir: Path, source: str) -> list[Item]:
    """One Item per row of ``RAW/labels.csv`` (sorted by ``record``); ``source`` is a format
    string of the row's fields, e.g. ``"images/{record}.png"``."""
    index = Path(raw_dir) / "labels.csv"
    if not index.exists():
        raise RecordError(index, "index file not found")
    with index.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [Item(source=source.format(**r), key=r["record"], info=dict(r))
            for r in sorted(rows, key=lambda r: r["record"])]
