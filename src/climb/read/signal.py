"""The value every signal reader returns.

A :class:`Signal` holds float32 physical values. When those are still exactly what the file's
integer samples give through the reader's conversion formula, the reader also keeps them as a
:class:`Digital` (``Signal.digital``): the store then keeps the integers (lossless, ~2 bytes a
sample, :mod:`climb.store.codecs` ``digital``) and the loader recomputes the identical float32.
Every operation that changes the data must drop it (a new ``Signal`` has none) or carry it
along exactly (:meth:`Digital.take_rows`, :meth:`Digital.window`, :meth:`Digital.scaled`,
:meth:`Digital.filled`). Arrays cut from a signal carry it through :func:`attach_digital` /
:func:`digital_of`; the store writer checks it reproduces the array bit for bit before using it.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

#: Conversion formulas (all in float64, then cast to float32), named after the reader:
#: ``wfdb``: (d - offset) / gain, as wfdb-python's ``dac`` (offset = baseline, gain = adc_gain);
#: ``edf``: gain * (offset + d), as EDFlib (pyEDFlib) reads physical samples (gain = bitvalue
#: = (pmax - pmin) / (dmax - dmin), offset = pmax / bitvalue - dmax).
DIGITAL_SCHEMES = ("wfdb", "edf")


@dataclass(frozen=True)
class Digital:
    """The integer samples behind a float32 signal and the exact formula that gives it.

    ``samples`` int [channels, samples]; per channel ``gain``/``offset`` (float64) of the
    ``scheme``'s formula, ``invalid`` (the digital value meaning "no sample", or None), and
    ``scale`` (a float32 factor applied after the cast: unit conversion). Invalid samples read
    as NaN, or as ``fill`` once NaN were replaced (standardization's ``nan_to_num``).
    """

    samples: np.ndarray
    scheme: str
    gain: tuple[float, ...]
    offset: tuple[float, ...]
    invalid: tuple[int | None, ...]
    scale: tuple[float, ...] | None = None
    fill: float | None = None  # None: NaN

    def __post_init__(self) -> None:
        if self.scheme not in DIGITAL_SCHEMES:
            raise ValueError(f"unknown digital scheme {self.scheme!r}")
        if self.samples.ndim != 2 or self.samples.dtype.kind not in "iu":
            raise ValueError("digital samples must be an integer [channels, samples] array")
        n = self.samples.shape[0]
        lengths = {len(self.gain), len(self.offset), len(self.invalid)}
        if self.scale is not None:
            lengths.add(len(self.scale))
        if lengths != {n}:
            raise ValueError("one gain, offset, invalid (and scale) value per channel")

    def physical(self) -> np.ndarray:
        """The float32 [channels, samples] the formula gives (what the reader returned)."""
        d = self.samples.astype(np.float64)
        gain = np.asarray(self.gain, np.float64)[:, None]
        offset = np.asarray(self.offset, np.float64)[:, None]
        if self.scheme == "wfdb":  # (d - offset) / gain, in place
            np.subtract(d, offset, out=d)
            np.divide(d, gain, out=d)
        else:  # gain * (offset + d), in place (IEEE + and x commute exactly)
            np.add(d, offset, out=d)
            np.multiply(d, gain, out=d)
        out = d.astype(np.float32)
        mask = None
        if any(v is not None for v in self.invalid):
            marks = np.asarray([v if v is not None else 0 for v in self.invalid], np.int64)
            has = np.asarray([v is not None for v in self.invalid])[:, None]
            mask = (self.samples == marks[:, None]) & has
            out[mask] = np.nan
        if self.scale is not None:
            out *= np.asarray(self.scale, np.float32)[:, None]
        if self.fill is not None:
            out = np.nan_to_num(out, nan=self.fill, posinf=self.fill, neginf=self.fill)
        return out

    def take_rows(self, rows: list[int]) -> Digital:
        """The channels ``rows``, in that order."""
        pick = [int(r) for r in rows]
        return replace(
            self,
            samples=self.samples[pick],
            gain=tuple(self.gain[r] for r in pick),
            offset=tuple(self.offset[r] for r in pick),
            invalid=tuple(self.invalid[r] for r in pick),
            scale=None if self.scale is None else tuple(self.scale[r] for r in pick),
        )

    def window(self, start: int, stop: int) -> Digital:
        """Samples ``start:stop`` (a slice is still exact)."""
        return replace(self, samples=self.samples[:, start:stop])

    def scaled(self, factors: list[float]) -> Digital | None:
        """After ``row * float32(factor)`` per channel; None when already scaled or filled
        (two float32 products are not one)."""
        if self.scale is not None or self.fill is not None:
            return None
        factors32 = [float(np.float32(f)) for f in factors]
        if all(f == 1.0 for f in factors32):
            return self
        return replace(self, scale=tuple(factors32))

    def filled(self, value: float) -> Digital | None:
        """After ``nan_to_num(nan=value, posinf=value, neginf=value)``."""
        if self.fill is not None:
            return self if self.fill == value else None
        if math.isnan(value):
            return self
        return replace(self, fill=float(value))


_ATTACHED: dict[int, tuple[weakref.ref, Digital]] = {}


def _forget(key: int) -> None:
    _ATTACHED.pop(key, None)


def attach_digital(array: np.ndarray, digital: Digital | None) -> np.ndarray:
    """Note that ``array`` is exactly ``digital.physical()`` (for the store writer); returns
    ``array``. The note lives as long as the array object and is never copied with it."""
    if digital is None or not isinstance(array, np.ndarray):
        return array
    key = id(array)
    _ATTACHED[key] = (weakref.ref(array), digital)
    weakref.finalize(array, _forget, key)
    return array


def digital_of(array: object) -> Digital | None:
    """The :class:`Digital` attached to this very array object, else None."""
    entry = _ATTACHED.get(id(array))
    if entry is None or entry[0]() is not array:
        return None
    return entry[1]


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
    # The integer samples ``data`` was computed from (None once the data changed).
    digital: Digital | None = field(default=None, repr=False)

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
        if self.digital is not None and self.digital.samples.shape != self.data.shape:
            raise ValueError("digital samples do not match the data's shape")


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


def cut(sig: Signal, start: int, stop: int, rows: list[int] | None = None) -> np.ndarray:
    """A contiguous copy of ``sig.data[rows, start:stop]`` (all rows when None) carrying the
    matching slice of ``sig.digital`` (for adapters that cut windows themselves)."""
    data = sig.data if rows is None else sig.data[rows]
    out = np.array(data[:, start:stop], dtype=data.dtype, order="C", copy=True)
    if sig.digital is not None and 0 <= start <= stop <= sig.data.shape[1]:
        digital = sig.digital.window(start, stop)  # a view: rows are copied from the slice
        attach_digital(out, digital if rows is None else digital.take_rows(rows))
    return out
