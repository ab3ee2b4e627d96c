"""Independent checks shared by the photograph adapter tests (dermoscopy, fundus, pathology):
the hashed split recomputed from its definition, the stored splits, the quarantine list, and
the standard image recomputed with Pillow."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image


def hashed_split(group: str, seed: int = 0, ratios=(0.8, 0.1, 0.1)) -> str:
    """The split `prepare` gives a group key ("patient:P1", "study:L1", "sample:S1")."""
    digest = hashlib.sha256(f"{seed}\x00{group}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return "train" if u < ratios[0] else "val" if u < ratios[0] + ratios[1] else "test"


def stored_splits(store: Path, name: str) -> dict[str, tuple[str, str]]:
    """{sample_id: (patient_id, split)} from the store's splits.csv."""
    with open(Path(store) / name / "splits.csv", newline="") as fh:
        return {r["sample_id"]: (r["patient_id"], r["split"]) for r in csv.DictReader(fh)}


def quarantined(manifest: dict) -> dict[str, str]:
    """{source: error} of the manifest's quarantined items."""
    return {q["source"]: q["error"] for q in manifest["quarantined"]}


def standard_rgb(data: bytes | Path, size: int = 224) -> np.ndarray:
    """A photograph resized (shorter side -> size, Lanczos) and centre-cropped, by Pillow."""
    img = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data).convert("RGB")
    w, h = img.size
    scale = size / min(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    big = np.asarray(img.resize(new, Image.Resampling.LANCZOS))
    top, left = (new[1] - size) // 2, (new[0] - size) // 2
    return big[top : top + size, left : left + size]


def mask_crop_nearest(mask: np.ndarray, size: int = 224) -> np.ndarray:
    """A label mask resized (shorter side -> size, nearest neighbour) and centre-cropped."""
    h, w = mask.shape
    scale = size / min(h, w)
    new = (round(w * scale), round(h * scale))
    big = np.asarray(Image.fromarray(mask).resize(new, Image.Resampling.NEAREST))
    top, left = (new[1] - size) // 2, (new[0] - size) // 2
    return big[top : top + size, left : left + size]
