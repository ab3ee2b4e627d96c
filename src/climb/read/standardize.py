"""Signal standardization: units, channel order/montage, resampling, windows, quality flags.

Readers return signals as stored; adapters call :func:`standardize_ecg` or
:func:`standardize_eeg` (with the dataset's config merged over the defaults below) and then
:func:`windows`, so every ECG/EEG record in the store has the same layout.

Defaults (override any key per dataset through the adapter's ``default_config`` / ``config``):

ECG (:data:`ECG_DEFAULTS`)
    ``fs`` 500 Hz; ``units`` mV; ``leads`` the 12 standard leads I, II, III, aVR, aVL, aVF,
    V1-V6 in that order (matched case-insensitively, "Lead I (Einthoven)" style labels too);
    ``missing_lead`` "error" (RecordError) or "zero" (zero-filled and listed in
    ``quality["missing"]``); ``window_s`` 10 s; ``windows`` "first" (one window per record,
    zero-padded when shorter, reported in ``quality["padded_s"]``) or "all" (every
    non-overlapping full window).
EEG (:data:`EEG_DEFAULTS`)
    ``fs`` 200 Hz; ``units`` uV; channel names normalized ("EEG FP1-REF" -> "FP1", 10-10
    aliases T7/T8/P7/P8 -> T3/T4/T5/T6); ``montage`` None (keep ``channels``) or "tcp" (the
    22-channel TUH bipolar TCP montage, :data:`TCP_MONTAGE`); ``channels`` the referential
    channels to keep (None = all); ``missing_channel`` "error" or "zero"; ``window_s`` 10 s;
    ``windows`` "all".

Quality (both): channels that are flat (peak-to-peak below ``flat_ptp``), hold NaN, or sit at
their extreme value for more than ``clip_fraction`` of samples are listed in
``meta["quality"]`` = ``{"flat": [...], "nan": [...], "clipped": [...], "missing": [...]}``.
NaN samples are replaced by 0 after being reported; a channel that is entirely NaN counts as
missing (policy above); a record whose channels are all NaN is a RecordError.
Units are converted from V / mV / uV / nV by the channel's unit; an unknown unit is a
RecordError unless ``assume_units`` is set.

Digital samples (``Signal.digital``, kept by the WFDB and EDF readers) survive what leaves the
values exactly the reader's formula: unit scaling (a float32 factor), channel picks and
reordering, NaN -> 0, no-op resampling and windows cut inside the recording (attached to the
window arrays for the store writer). Resampling, montages, zero-filled channels and padding
drop them; the store then keeps the floats losslessly instead (``signal.codec``).
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from climb.errors import RecordError
from climb.read.signal import Digital, Signal, attach_digital

ECG_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]

# The TUH "temporal central parasagittal" bipolar montage (22 channels, 01_tcp_ar order).
TCP_MONTAGE: list[tuple[str, str]] = [
    ("FP1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"),
    ("FP2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("A1", "T3"), ("T3", "C3"), ("C3", "CZ"), ("CZ", "C4"), ("C4", "T4"), ("T4", "A2"),
    ("FP1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("FP2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
]  # fmt: skip
TCP_NAMES = [f"{a}-{b}" for a, b in TCP_MONTAGE]

ECG_DEFAULTS: dict[str, Any] = {
    "fs": 500.0,
    "units": "mV",
    "leads": ECG_LEADS,
    "missing_lead": "error",
    "window_s": 10.0,
    "windows": "first",
    "flat_ptp": 1e-4,  # in the target unit (mV)
    "clip_fraction": 0.05,
    "assume_units": None,
}
EEG_DEFAULTS: dict[str, Any] = {
    "fs": 200.0,
    "units": "uV",
    "channels": None,
    "montage": None,
    "missing_channel": "error",
    "window_s": 10.0,
    "windows": "all",
    "flat_ptp": 0.1,  # uV
    "clip_fraction": 0.05,
    "assume_units": None,
}

_UNIT_SCALE = {"V": 1.0, "MV": 1e-3, "UV": 1e-6, "µV".upper(): 1e-6, "μV".upper(): 1e-6, "NV": 1e-9}
_EEG_ALIASES = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}


def _unit_scale(unit: str) -> float | None:
    return _UNIT_SCALE.get(unit.strip().replace("μ", "u").replace("µ", "u").upper())


def to_units(sig: Signal, target: str, source: str, assume: str | None = None) -> Signal:
    """Convert every channel to ``target`` (a voltage unit) by its own unit."""
    factor_to = _unit_scale(target)
    if factor_to is None:
        raise ValueError(f"target unit {target!r} is not a voltage unit")
    rows, factors = [], []
    for k, (unit, row) in enumerate(zip(sig.units, sig.data, strict=True)):
        scale = _unit_scale(unit)
        if scale is None and assume is not None:
            scale = _unit_scale(assume)
        if scale is None:  # units and labels are header free text: named by position
            raise RecordError(source, f"channel {k + 1}: unit is not a voltage unit (V, mV, uV)")
        rows.append(row * np.float32(scale / factor_to))
        factors.append(scale / factor_to)
    data = np.stack(rows) if rows else sig.data
    digital = sig.digital.scaled(factors) if sig.digital is not None and rows else None
    return Signal(data.astype(np.float32), sig.fs, sig.channels, [target] * len(rows), sig.meta,
                  digital=digital)


def quality_flags(sig: Signal, flat_ptp: float, clip_fraction: float) -> dict[str, list[str]]:
    """Names of the flat, NaN-holding and clipped channels of ``sig``."""
    flags: dict[str, list[str]] = {"flat": [], "nan": [], "clipped": []}
    for name, row in zip(sig.channels, sig.data, strict=True):
        finite = row[np.isfinite(row)]
        if finite.size < row.size:
            flags["nan"].append(name)
        if finite.size == 0:
            continue
        low, high = float(finite.min()), float(finite.max())
        if high - low < flat_ptp:
            flags["flat"].append(name)
            continue
        at_edge = max(np.count_nonzero(finite == low), np.count_nonzero(finite == high))
        if at_edge > max(2, clip_fraction * finite.size):
            flags["clipped"].append(name)
    return flags


def resample(sig: Signal, fs: float) -> Signal:
    """Polyphase resampling (scipy.signal.resample_poly) to ``fs``."""
    if abs(sig.fs - fs) < 1e-9 or sig.data.shape[1] == 0:  # unchanged: the digital stays
        return Signal(sig.data, float(fs), sig.channels, sig.units, sig.meta, digital=sig.digital)
    from scipy.signal import resample_poly  # on first use: ~0.6 s to import (prepare workers)

    ratio = Fraction(fs / sig.fs).limit_denominator(1000)
    data = resample_poly(sig.data.astype(np.float64), ratio.numerator, ratio.denominator, axis=1)
    return Signal(data.astype(np.float32), float(fs), sig.channels, sig.units, sig.meta)


def _lead_key(name: str) -> str:
    text = re.sub(r"\(.*?\)", "", str(name)).strip()
    text = re.sub(r"^lead\s+", "", text, flags=re.IGNORECASE)
    return text.strip().upper()


def normalize_eeg_name(name: str) -> str:
    """ "EEG FP1-REF" -> "FP1"; "EEG T7-LE" -> "T3"; "Fp1" -> "FP1"."""
    text = str(name).strip().upper()
    text = re.sub(r"^EEG\s+", "", text)
    text = re.sub(r"-(REF|LE|AR|AVG|A1|A2|M1|M2)$", "", text)
    text = text.strip()
    return _EEG_ALIASES.get(text, text)


_ECG_OTHER = {"MLI", "MLII", "MLIII", "V", "VX", "VY", "VZ", "X", "Y", "Z"}
_ECG_CANONICAL = {lead.upper(): lead for lead in ECG_LEADS}


def normalize_ecg_lead(name: str) -> str | None:
    """The standard name of an ECG lead label ("Lead I (Einthoven)" -> "I", "avr" -> "aVR",
    "vz" -> "VZ", "MLII"), or None when the label names no known lead."""
    key = _lead_key(name)
    return _ECG_CANONICAL.get(key) or (key if key in _ECG_OTHER else None)


@lru_cache(maxsize=1)
def _eeg_electrodes() -> frozenset[str]:
    """The 10-05 electrode names (MNE's standard montage), upper case, + T1/T2."""
    import mne

    try:
        montage = mne.channels.make_standard_montage("colin27_1005")
    except ValueError:  # MNE < 1.12
        montage = mne.channels.make_standard_montage("standard_1005")
    return frozenset(c.upper() for c in montage.ch_names) | {"T1", "T2"}


def normalize_eeg_label(name: str) -> str | None:
    """The normalized electrode (or bipolar pair) name of an EEG label, or None when it names
    no 10-05 electrode ("EEG FP1-REF" -> "FP1", "FP1-F7" -> "FP1-F7", "EEG EKG1-REF" -> None)."""
    text = normalize_eeg_name(name)
    known = _eeg_electrodes()
    if text in known:
        return text
    parts = [_EEG_ALIASES.get(p.strip(), p.strip()) for p in text.split("-")]
    if len(parts) == 2 and all(p in known for p in parts):
        return "-".join(parts)
    return None


def normalize_channels(labels: list[str], kind: str) -> tuple[list[str], int]:
    """File labels -> (the standard names of the recognized ones, in file order; the number of
    unrecognized ones). ``kind`` is "ecg" or "eeg". Only these may enter a record's meta:
    a label is header free text and can hold anything (a name, a date)."""
    normalize = normalize_ecg_lead if kind == "ecg" else normalize_eeg_label
    names = [normalize(str(label)) for label in labels]
    return [n for n in names if n is not None], sum(n is None for n in names)


def safe_channel_names(labels: list[str], kind: str) -> list[str]:
    """Normalized names for a record's inputs; an unrecognized label (header free text, which
    can hold anything) becomes "unrecognized-<position>"."""
    normalize = normalize_ecg_lead if kind == "ecg" else normalize_eeg_label
    return [normalize(str(lab)) or f"unrecognized-{k + 1}" for k, lab in enumerate(labels)]


def _describe(labels: list[str], kind: str) -> str:
    known, unknown = normalize_channels(labels, kind)
    return f"channels: {known}" + (f" + {unknown} unrecognized" if unknown else "")


def _pick(
    sig: Signal, wanted: list[str], keyfn, policy: str, source: str, what: str
) -> tuple[np.ndarray, list[str], Digital | None]:
    """Rows of ``sig`` in the ``wanted`` order; missing (or all-NaN) ones per ``policy``.
    The digital samples of those rows come along when none is missing."""
    index: dict[str, int] = {}
    for i, name in enumerate(sig.channels):
        index.setdefault(keyfn(name), i)
    rows, missing, taken = [], [], []
    n = sig.data.shape[1]
    for want in wanted:
        i = index.get(keyfn(want))
        if i is None or not np.isfinite(sig.data[i]).any():
            missing.append(want)
            rows.append(np.zeros(n, dtype=np.float32))
        else:
            rows.append(sig.data[i])
            taken.append(i)
    if missing and policy != "zero":
        kind = "ecg" if what == "leads" else "eeg"
        found = _describe(list(sig.channels), kind)
        raise RecordError(source, f"missing or all-NaN {what} {missing} ({found})")
    digital = sig.digital.take_rows(taken) if sig.digital is not None and not missing else None
    return np.stack(rows).astype(np.float32), missing, digital


def _finish(
    sig: Signal, data: np.ndarray, names: list[str], unit: str, quality: dict, cfg: dict,
    kind: str, digital: Digital | None = None,
) -> Signal:
    data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    native, unknown = normalize_channels(list(sig.channels), kind)
    digital = digital.filled(0.0) if digital is not None else None
    out = Signal(data, sig.fs, names, [unit] * len(names), dict(sig.meta), digital=digital)
    out = resample(out, float(cfg["fs"]))
    out.meta.update(
        {
            "quality": quality,
            "fs_native": sig.fs,
            "channels_native": native,  # normalized names only, never the file's labels
            "channels_unknown": unknown,
            "duration_s": out.data.shape[1] / out.fs,
        }
    )
    return out


def _check_not_all_nan(sig: Signal, source: str) -> None:
    if sig.data.size == 0:
        raise RecordError(source, "signal has no samples")
    if not np.isfinite(sig.data).any():
        raise RecordError(source, "every channel is NaN (no valid samples)")


def standardize_ecg(sig: Signal, source: str, config: dict[str, Any] | None = None) -> Signal:
    """12 leads in canonical order, mV, resampled (see the module docstring for the config)."""
    cfg = {**ECG_DEFAULTS, **(config or {})}
    _check_not_all_nan(sig, source)
    sig = to_units(sig, cfg["units"], source, cfg["assume_units"])
    safe = Signal(sig.data, sig.fs, safe_channel_names(list(sig.channels), "ecg"), sig.units)
    quality = quality_flags(safe, cfg["flat_ptp"], cfg["clip_fraction"])
    leads = list(cfg["leads"])
    data, missing, digital = _pick(sig, leads, _lead_key, cfg["missing_lead"], source, "leads")
    quality["missing"] = missing
    return _finish(sig, data, leads, cfg["units"], quality, cfg, "ecg", digital)


def standardize_eeg(sig: Signal, source: str, config: dict[str, Any] | None = None) -> Signal:
    """Normalized EEG channel names, optional TCP montage, uV, resampled."""
    cfg = {**EEG_DEFAULTS, **(config or {})}
    _check_not_all_nan(sig, source)
    sig = to_units(sig, cfg["units"], source, cfg["assume_units"])
    renamed = Signal(sig.data, sig.fs, [normalize_eeg_name(c) for c in sig.channels], sig.units,
                     digital=sig.digital)
    safe = Signal(sig.data, sig.fs, safe_channel_names(list(sig.channels), "eeg"), sig.units)
    quality = quality_flags(safe, cfg["flat_ptp"], cfg["clip_fraction"])
    policy = cfg["missing_channel"]
    if cfg["montage"] == "tcp":
        electrodes = sorted({e for pair in TCP_MONTAGE for e in pair})
        data, missing, _ = _pick(renamed, electrodes, str.upper, policy, source, "electrodes")
        row = {e: data[k] for k, e in enumerate(electrodes)}
        data = np.stack([row[a] - row[b] for a, b in TCP_MONTAGE])
        names, digital = list(TCP_NAMES), None  # differences: no longer the stored samples
    elif cfg["montage"] is None:
        # without a channel list: the recognized electrodes (unrecognized labels are counted
        # in meta["channels_unknown"], never passed on)
        wanted = list(cfg["channels"]) if cfg["channels"] else normalize_channels(
            list(sig.channels), "eeg")[0]
        if not wanted:
            found = _describe(list(sig.channels), "eeg")
            raise RecordError(source, f"no recognized EEG channel ({found})")
        data, missing, digital = _pick(renamed, wanted, normalize_eeg_name, policy, source,
                                       "channels")
        names = [normalize_eeg_name(w) for w in wanted]
    else:
        raise ValueError(f"unknown EEG montage {cfg['montage']!r} (None or 'tcp')")
    quality["missing"] = missing
    return _finish(sig, data, names, cfg["units"], quality, cfg, "eeg", digital)


def windows(sig: Signal, window_s: float, mode: str = "all") -> list[tuple[float, np.ndarray]]:
    """Fixed-length windows ``[(start_s, data[channels, window_samples])]``.

    ``mode="all"``: every non-overlapping full window (a shorter tail is dropped; a recording
    shorter than one window gives none). ``mode="first"``: exactly one window from the start,
    zero-padded at the end when the recording is shorter. A window that is a plain slice
    carries the slice of ``sig.digital`` (:func:`climb.read.signal.attach_digital`).
    """
    n = round(window_s * sig.fs)
    total = sig.data.shape[1]
    if mode == "first":
        out = np.zeros((sig.data.shape[0], n), dtype=np.float32)
        take = min(n, total)
        out[:, :take] = sig.data[:, :take]
        return [(0.0, _with_digital(out, sig, 0, n))]
    if mode != "all":
        raise ValueError(f"unknown window mode {mode!r} ('all' or 'first')")
    return [(k / sig.fs, _with_digital(sig.data[:, k : k + n].copy(), sig, k, k + n))
            for k in range(0, total - n + 1, n)]


def _with_digital(window: np.ndarray, sig: Signal, start: int, stop: int) -> np.ndarray:
    """``window`` (samples ``start:stop`` of ``sig``) with the digital slice attached when it
    lies inside the recording (a zero-padded window has no stored samples for its padding)."""
    if sig.digital is not None and start >= 0 and stop <= sig.data.shape[1]:
        attach_digital(window, sig.digital.window(start, stop))
    return window


def window_at(sig: Signal, center_s: float, window_s: float) -> tuple[float, np.ndarray]:
    """One window of ``window_s`` centred on ``center_s``, shifted inside the recording
    (zero-padded only when the recording itself is shorter than the window)."""
    n = round(window_s * sig.fs)
    total = sig.data.shape[1]
    start = round(center_s * sig.fs - n / 2)
    start = max(0, min(start, total - n))
    out = np.zeros((sig.data.shape[0], n), dtype=np.float32)
    chunk = sig.data[:, start : start + n]
    out[:, : chunk.shape[1]] = chunk
    return start / sig.fs, _with_digital(out, sig, start, start + n)


# 2D images: see climb.read.standardize_image (re-exported here).
from climb.read.standardize_image import IMAGE_DEFAULTS, standardize_image  # noqa: E402,F401

# Volumes and video clips: see climb.read.standardize_volume (re-exported here).
from climb.read.standardize_volume import (  # noqa: E402,F401
    HU_WINDOWS,
    VIDEO_DEFAULTS,
    VOLUME_DEFAULTS,
    standardize_clip,
    standardize_volume,
)
