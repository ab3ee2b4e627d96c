"""ECG dataset adapters: PTB-XL and the PhysioNet/CinC Challenge 2020/2021 sources.

Every adapter reads through :mod:`climb.read` and standardizes with
:func:`climb.read.standardize.standardize_ecg` (12 leads I..V6, mV, 500 Hz, one 10-s window per
record by default), so all ECG records share one layout: ``inputs["ecg"]`` float32 [12, 5000].
"""

from __future__ import annotations

from typing import Any

from climb.read.signal import Signal
from climb.read.standardize import ECG_DEFAULTS, standardize_ecg, windows
from climb.record import Input


def ecg_windows(
    signal: Signal, source: str, config: dict[str, Any]
) -> list[tuple[float, Input, dict[str, Any]]]:
    """Standardize one decoded record and cut it into windows.

    Returns ``[(start_s, Input, meta)]`` where ``meta`` holds the whitelisted signal fields
    (quality, fs_native, channels_native, lead_set, window_s, window_start_s). Keys of
    ``config`` that :data:`ECG_DEFAULTS` knows override the defaults.
    """
    cfg = {k: config[k] for k in ECG_DEFAULTS if k in config}
    std = standardize_ecg(signal, source, cfg)
    window_s = float(cfg.get("window_s", ECG_DEFAULTS["window_s"]))
    mode = cfg.get("windows", ECG_DEFAULTS["windows"])
    quality = dict(std.meta["quality"])
    padded = max(0.0, window_s - std.duration_s)
    if mode == "first" and padded > 0:
        quality["padded_s"] = round(padded, 3)
    missing = quality.get("missing") or []
    base = {
        "quality": quality,
        "fs_native": std.meta["fs_native"],
        "channels_native": std.meta["channels_native"],
        "channels_unknown": std.meta["channels_unknown"],
        "lead_set": "12-lead" if not missing else f"12-lead minus {','.join(missing)}",
        "window_s": window_s,
    }
    out = []
    for start, data in windows(std, window_s, mode):
        ecg = Input(data=data, sampling_rate=std.fs, channels=list(std.channels), units="mV")
        out.append((start, ecg, {**base, "window_start_s": start}))
    return out
