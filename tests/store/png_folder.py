"""Raw folders for the ``testing.png_folder`` adapter: ``images/<record>.png`` (Pillow) and
``labels.csv`` (one row per image: record, patient_id, label, ...)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def write_png_raw(raw: Path, images: Sequence[np.ndarray], rows: Sequence[dict[str, str]]) -> Path:
    """Save ``images[i]`` as ``raw/images/<rows[i]["record"]>.png`` and ``rows`` as
    ``raw/labels.csv``; returns ``raw``."""
    if len(images) != len(rows) or not rows:
        raise ValueError(f"{len(images)} images for {len(rows)} label rows")
    (raw / "images").mkdir(parents=True)
    for image, row in zip(images, rows, strict=True):
        Image.fromarray(image).save(raw / "images" / f"{row['record']}.png")
    with (raw / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return raw
