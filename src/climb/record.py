"""The record: the one contract between an adapter and everything after it (see DESIGN.md).

Every sample an adapter yields is a :class:`Record`. Inputs are arrays (signals, volumes,
frames), encoded bytes (PNG/JPEG/MP4), text, or a dict of arrays (graphs). Labels are in the
harmonized vocabulary of each task: multilabel -> float32 vector with NaN for unknown,
multiclass/binary -> int with -1 for missing, regression -> float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")

# Non-identifying metadata that may travel into the store and logs. Anything else (names,
# dates, free text, exact ages, DICOM/EDF patient fields) is refused by Record.validate().
META_WHITELIST = frozenset(
    {
        "site",  # acquisition site / hospital / source sub-dataset
        "device",  # scanner / recorder model
        "age_bucket",  # decade bucket from age_bucket(); never the exact age
        "sex",  # "female" / "male" / None
        "view",  # radiographic view, e.g. PA, AP, LAT, CC, MLO
        "laterality",  # imaged side: "left" / "right" (mammography, eyes)
        "source_file",  # path relative to the raw dataset root
        "quality",  # signal quality flags: flat / nan / clipped channels
        "fs_native",  # sampling rate before resampling
        "channels_native",  # normalized standard names of the file's recognized channels
        "channels_unknown",  # how many channel labels were not recognized (never copied)
        "window_start_s",  # start of a fixed-length window inside the recording
        "window_s",  # window length in seconds
        "event",  # an annotation-derived event label (e.g. beat symbol)
        "genotype",  # animal genotype (mouse connectomes)
        "n_nodes",  # graph size
        "lead_set",  # which leads were present
        "notes",  # adapter-written, non-identifying processing notes
        "linked",  # {modality: [publisher record ids]} linked by subject and time (no paths)
    }
)


@dataclass
class Input:
    """One modality's payload for one record.

    ``data`` is a numpy array (signals: channels x samples; volumes: D x H x W; images:
    H x W [x C]), encoded bytes (``encoding`` = "png", "jpeg", "mp4", ...), text (``encoding``
    = "text"), or a dict of numpy arrays (``encoding`` = "graph": x, edge_index, edge_weight).
    """

    data: np.ndarray | bytes | str | dict[str, np.ndarray]
    encoding: str | None = None
    sampling_rate: float | None = None
    spacing: tuple[float, ...] | None = None
    channels: list[str] | None = None
    units: str | None = None

    @property
    def shape(self) -> tuple[int, ...] | None:
        return tuple(self.data.shape) if isinstance(self.data, np.ndarray) else None

    @property
    def dtype(self) -> str | None:
        return str(self.data.dtype) if isinstance(self.data, np.ndarray) else None


@dataclass
class Record:
    """One sample, as it leaves an adapter."""

    sample_id: str
    dataset: str
    modality: str
    inputs: dict[str, Input]
    labels: dict[str, Any]
    patient_id: str | None = None
    study_id: str | None = None
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> Record:
        """Check the contract; raise ValueError naming the offending field."""
        if not self.sample_id:
            raise ValueError(f"{self.dataset}: empty sample_id")
        if self.split is not None and self.split not in SPLITS:
            raise ValueError(f"{self.sample_id}: split {self.split!r} not in {SPLITS}")
        if not self.inputs:
            raise ValueError(f"{self.sample_id}: record has no inputs")
        extra = set(self.meta) - META_WHITELIST
        if extra:
            raise ValueError(
                f"{self.sample_id}: meta keys {sorted(extra)} are not whitelisted "
                "(only non-identifying fields may be stored; see climb.record.META_WHITELIST)"
            )
        return self


def age_bucket(age: float | int | str | None) -> str | None:
    """Decade bucket of an age in years ("40-49"); 90 and over is "90+" (HIPAA safe harbor)."""
    if age is None or age == "":
        return None
    try:
        value = float(age)
    except (TypeError, ValueError):
        return None
    if math.isnan(value) or value < 0:
        return None
    if value >= 90:
        return "90+"
    low = int(value // 10 * 10)
    return f"{low}-{low + 9}"


def normalize_sex(value: Any) -> str | None:
    """Map the many spellings of sex in clinical files to "female" / "male" / None."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in {"f", "female", "woman", "w"}:
        return "female"
    if text in {"m", "male", "man"}:
        return "male"
    return None
