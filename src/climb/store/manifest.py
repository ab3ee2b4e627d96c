"""The manifest of a prepared dataset (``STORE/NAME/manifest.json``): read, write, count."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from climb.errors import ClimbError
from climb.record import SPLITS

MANIFEST = "manifest.json"
#: 2: float signals stored losslessly encoded (``digital`` / ``zstd_shuffle``, manifest
#: ``config.signal``). Version 1 stores (raw float32 signals) still load: every v1 payload is
#: one a v2 loader reads. ``climb prepare`` re-prepares a v1 store in full (docs/architecture.md,
#: "Migration notes").
SCHEMA_VERSION = 2
#: The versions this climb loads.
READABLE_VERSIONS = (1, 2)


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically, with sorted keys (byte-identical for equal content)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n")
    tmp.replace(path)


def read_manifest(dataset_dir: str | Path) -> dict[str, Any]:
    """The manifest of ``STORE/NAME`` (a ClimbError when it is missing or unreadable)."""
    path = Path(dataset_dir) / MANIFEST
    if not path.exists():
        raise ClimbError(f"{path}: no manifest (run `climb prepare` first)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ClimbError(f"{path}: manifest is not valid JSON: {err}") from None
    version = manifest.get("schema_version")
    if version not in READABLE_VERSIONS:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        hint = ("written by a newer climb: upgrade climb" if newer else
                "re-prepare it with `climb prepare` (it rewrites the store)")
        raise ClimbError(
            f"{path}: schema_version {version} is not one this climb reads "
            f"({', '.join(map(str, READABLE_VERSIONS))}); {hint}"
        )
    return manifest


def dataset_dirs(store: str | Path, names: Sequence[str] | None = None) -> list[Path]:
    """``STORE/NAME`` directories: the given names, or every prepared dataset in the store."""
    root = Path(store)
    if (root / MANIFEST).exists() and not names:  # pointed at one dataset directly
        return [root]
    if names:
        dirs = [root / n for n in names]
        for d in dirs:
            if not (d / MANIFEST).exists():
                raise ClimbError(f"{d}: not a prepared dataset (no {MANIFEST})")
        return dirs
    dirs = sorted(p.parent for p in root.glob(f"*/{MANIFEST}"))
    if not dirs:
        raise ClimbError(f"{root}: no prepared datasets (no */{MANIFEST})")
    return dirs


def compute_counts(
    tables: Sequence[pa.Table | None], tasks: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Per split: samples, patients, and per task the count of each class.

    Multilabel: positives per class plus ``unknown`` (NaN entries); multiclass/binary: samples
    per class plus ``missing``; regression: ``labelled`` samples.
    """
    out: dict[str, Any] = {}
    for split in SPLITS:
        samples = 0
        patients: set[str] = set()
        labels: dict[str, dict[str, int]] = {}
        for t in tasks:
            if t["type"] == "multilabel":
                labels[t["name"]] = {c: 0 for c in t["classes"]} | {"unknown": 0}
            elif t["type"] in ("multiclass", "binary"):
                labels[t["name"]] = {c: 0 for c in t["classes"]} | {"missing": 0}
            elif t["type"] == "regression":
                labels[t["name"]] = {"labelled": 0}
        for table in tables:
            if table is None:
                continue
            mask = np.asarray(table.column("split").to_pylist()) == split
            if not mask.any():
                continue
            samples += int(mask.sum())
            patients |= {p for p, m in zip(table.column("patient_id").to_pylist(), mask,
                                           strict=True) if m and p}
            for t in tasks:
                name, classes = t["name"], t["classes"]
                col = table.column("label." + name)
                if t["type"] == "multilabel":
                    flat = col.combine_chunks().flatten().to_numpy(zero_copy_only=False)
                    values = flat.reshape(-1, len(classes))[mask] if len(classes) else flat[:0]
                    for j, c in enumerate(classes):
                        labels[name][c] += int(np.nansum(values[:, j] == 1))
                    labels[name]["unknown"] += int(np.isnan(values).sum())
                elif t["type"] in ("multiclass", "binary"):
                    values = col.to_numpy(zero_copy_only=False)[mask]
                    for j, c in enumerate(classes):
                        labels[name][c] += int((values == j).sum())
                    labels[name]["missing"] += int((values < 0).sum())
                elif t["type"] == "regression":
                    values = col.to_numpy(zero_copy_only=False)[mask].astype(np.float64)
                    labels[name]["labelled"] += int((~np.isnan(values)).sum())
        out[split] = {"samples": samples, "patients": len(patients), "labels": labels}
    return out
