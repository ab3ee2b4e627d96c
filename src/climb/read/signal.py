"""The value every signal reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Signal:
    """A multichannel signal in physical units: ``data`` is float32 [channels, samples]."""

    data: np.ndarray
    fs: float
    channels: list[str]
    units: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    # Header free text (WFDB comment lines) for adapters to parse labels from; kept out of
    # ``meta`` because it can hold names and dates and must never be stored or logged.
    comments: list[str] = field(default_factory=list, repr=False)

    @property
    def duration_s(self) -> float:
        return self.data.shape[1] / self.fs if self.fs else 0.0

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"signal data must be [channels, samples], got {self.data.shape}")
        if len(self.channels) != self.data.shape[0]:
            raise ValueError(
                f"{len(self.channels)} channel names for {self.data.shape[0]} channels"
            )


# Above this a "sampling rate" is a corrupt header, not a physiological recording.
MAX_FS = 1e6


def rate_problem(fs: object) -> str | None:
    """Why ``fs`` is not a usable sampling rate (None when it is): finite, > 0, <= MAX_FS."""
    try:
        value = float(fs)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "is not a number"
    if value != value or value in (float("inf"), float("-inf")):
        return "is not finite"
    if value <= 0:
        return "is not positive"
    if value > MAX_FS:
        return f"is above {MAX_FS:g} Hz"
    return None
