"""Patient-level splits: official where a dataset has one, else deterministic hashing.

A record keeps its official split (``record.split``) when the adapter sets one. Otherwise
its *group* (patient id; where there is none, the study/lesion id; where there is none,
the sample id) is hashed with a seed into [0, 1) and bucketed by the configured ratios.
Hashing the group, not the position, makes the split stable when records are added and
keeps every record of a patient in one split.

The split of every record is persisted to ``STORE/NAME/splits.csv``; :func:`official_conflicts`
reports patients that an official split puts in two splits.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from climb.errors import ClimbError
from climb.record import SPLITS, Record

DEFAULT_RATIOS: tuple[float, float, float] = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class SplitConfig:
    """How records without an official split are assigned: seed and train/val/test ratios."""

    seed: int = 0
    ratios: tuple[float, float, float] = DEFAULT_RATIOS

    def __post_init__(self) -> None:
        if len(self.ratios) != 3 or any(r < 0 for r in self.ratios):
            raise ClimbError(f"split ratios must be three non-negative numbers, got {self.ratios}")
        if abs(sum(self.ratios) - 1.0) > 1e-6:
            raise ClimbError(f"split ratios must sum to 1, got {self.ratios}")

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> SplitConfig:
        """Read ``split_seed`` and ``split_ratios`` ("0.8,0.1,0.1" or a list) from a config."""
        seed = int(config.get("split_seed", 0))  # type: ignore[arg-type]
        raw = config.get("split_ratios", DEFAULT_RATIOS)
        if isinstance(raw, str):
            raw = [float(x) for x in raw.split(",")]
        ratios = tuple(float(x) for x in raw)  # type: ignore[union-attr]
        return cls(seed=seed, ratios=ratios)  # type: ignore[arg-type]


def group_key(record: Record) -> tuple[str, str]:
    """The unit that must not straddle splits: ("patient", id), ("study", id) or ("sample", id)."""
    if record.patient_id:
        return ("patient", str(record.patient_id))
    if record.study_id:
        return ("study", str(record.study_id))
    return ("sample", str(record.sample_id))


def hash_unit(key: str, seed: int = 0) -> float:
    """A seeded, platform-independent uniform number in [0, 1) for ``key``."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def hashed_split(key: str, config: SplitConfig = SplitConfig()) -> str:
    """The split of a group key under ``config`` (stable: depends on the key only)."""
    u = hash_unit(key, config.seed)
    train, val, _ = config.ratios
    if u < train:
        return "train"
    if u < train + val:
        return "val"
    return "test"


def assign_split(record: Record, config: SplitConfig = SplitConfig()) -> str:
    """The record's official split if it has one, else the hashed split of its group."""
    if record.split is not None:
        if record.split not in SPLITS:
            raise ClimbError(f"{record.sample_id}: split {record.split!r} not in {SPLITS}")
        return record.split
    kind, value = group_key(record)
    return hashed_split(f"{kind}:{value}", config)


def official_conflicts(rows: Iterable[tuple[str | None, str]]) -> dict[str, list[str]]:
    """Patients found in more than one split: {patient_id: sorted splits}.

    ``rows`` are (patient_id, split) pairs; rows without a patient id are ignored.
    """
    seen: dict[str, set[str]] = {}
    for patient, split in rows:
        if patient:
            seen.setdefault(str(patient), set()).add(split)
    return {p: sorted(s) for p, s in sorted(seen.items()) if len(s) > 1}


def write_splits_csv(path: Path, rows: Iterable[Sequence[str | None]]) -> None:
    """Write ``sample_id, patient_id, split`` rows (already in a deterministic order)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["sample_id", "patient_id", "split"])
        for sample_id, patient_id, split in rows:
            writer.writerow([sample_id, patient_id or "", split])
    tmp.replace(path)


def read_splits_csv(path: Path) -> dict[str, tuple[str, str]]:
    """{sample_id: (patient_id, split)} from a ``splits.csv``."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return {r["sample_id"]: (r["patient_id"], r["split"]) for r in csv.DictReader(fh)}
