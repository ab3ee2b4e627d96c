"""WFDB records: every format the ``wfdb`` package reads, incl. MATLAB v4 ``.mat`` signal files.

The PhysioNet/CinC Challenge 2020/2021 datasets (CPSC 2018, Georgia, Chapman-Shaoxing...) store
each record as a WFDB header plus a MATLAB v4 ``.mat`` signal file (``A0001.mat 16+24 ...``);
``wfdb.rdrecord`` reads those like any other format once the header is checked.

Before decoding, the header is validated against the signal files so that a bad record gives a
:class:`~climb.errors.RecordError` naming the file and the problem instead of a numpy error:

- an unknown format code (``fmt``),
- a missing signal file,
- a truncated signal file (fewer bytes than ``sig_len`` needs),
- a header/signal length mismatch (the file holds at least one whole frame more than
  ``sig_len`` says; pass ``strict_length=False`` to accept trailing data).

Samples marked invalid by the format (e.g. -32768 in format 16) come back as NaN.
``meta["comments"]`` holds the header's comment lines verbatim (adapters parse labels from them);
they can hold dates or free text, so they must never be copied into a record's ``meta``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io import _signal

from climb.errors import RecordError
from climb.read.edf import describe_rates
from climb.read.signal import Signal

# Bytes per sample of the uncompressed formats (FLAC formats 508/516/524 cannot be size-checked)
_BYTES_PER_SAMPLE: dict[str, float] = {
    k: float(v) for k, v in _signal.BYTES_PER_SAMPLE.items() if v
}


def _record_base(record_path: str | Path) -> Path:
    path = Path(record_path)
    if path.suffix in {".hea", ".dat", ".mat"}:
        path = path.with_suffix("")
    return path


def read_wfdb_header(record_path: str | Path) -> wfdb.Record:
    """Parse and validate a WFDB header (no samples are read)."""
    base = _record_base(record_path)
    header = base.with_suffix(".hea")
    if not header.exists():
        raise RecordError(header, "WFDB header not found")
    try:
        return wfdb.rdheader(str(base))
    except Exception as err:  # wfdb raises many types for bad headers
        problem = f"cannot parse WFDB header: {type(err).__name__}: {err}"
        raise RecordError(header, problem) from None


def _check_signal_files(base: Path, head: wfdb.Record, strict_length: bool) -> None:
    """Validate format codes and the size of every signal file against the header."""
    header = base.with_suffix(".hea")
    if not head.n_sig:
        raise RecordError(header, "header declares no signals")
    fmts = [str(f) for f in head.fmt]
    for name, fmt in zip(head.sig_name or [], fmts, strict=False):
        if fmt not in _signal.DAT_FMTS:
            raise RecordError(
                header,
                f"wrong format code {fmt!r} for signal {name!r} (WFDB knows {_signal.DAT_FMTS})",
            )
    if head.sig_len is None:
        return
    spf = head.samps_per_frame or [1] * head.n_sig
    offsets = head.byte_offset or [0] * head.n_sig
    files: dict[str, dict] = {}
    for i, file_name in enumerate(head.file_name):
        info = files.setdefault(file_name, {"fmt": fmts[i], "spf": 0, "offset": offsets[i] or 0})
        info["spf"] += spf[i] or 1
    for file_name, info in files.items():
        path = base.parent / file_name
        if not path.exists():
            raise RecordError(path, "signal file named in the header is missing")
        bps = _BYTES_PER_SAMPLE.get(info["fmt"])
        if bps is None:  # FLAC-compressed: size says nothing
            continue
        size = path.stat().st_size - info["offset"]
        frame_bytes = info["spf"] * bps
        needed = math.ceil(head.sig_len * frame_bytes)
        held = int(size // frame_bytes) if frame_bytes else 0
        if size < needed:
            raise RecordError(
                path,
                f"truncated: holds {held} of the {head.sig_len} samples per signal the header "
                f"declares ({size} of {needed} bytes)",
            )
        if strict_length and held > head.sig_len:
            raise RecordError(
                path,
                f"header/signal length mismatch: header declares {head.sig_len} samples per "
                f"signal but the file holds {held}",
            )


def read_wfdb(
    record_path: str | Path, strict_length: bool = True, mixed_rates: str = "error"
) -> Signal:
    """Read a WFDB record (path without extension, or to its ``.hea``) in physical units.

    Multi-frequency records (``samps_per_frame`` > 1, e.g. ``16x200``) are read frame-expanded,
    at frame rate x samples-per-frame. An ``EDF Annotations`` channel (WFDB copies of EDF+ files)
    is dropped. Channels at different rates raise :class:`RecordError` unless ``mixed_rates`` is
    ``"resample"`` (polyphase resampling to the highest rate, noted in ``meta``).
    """
    base = _record_base(record_path)
    header = base.with_suffix(".hea")
    head = read_wfdb_header(base)
    _check_signal_files(base, head, strict_length)
    try:
        record = wfdb.rdrecord(str(base), smooth_frames=False)
    except Exception as err:  # wfdb raises many types for bad files
        raise RecordError(header, f"cannot read WFDB record: {type(err).__name__}: {err}") from None
    if record.e_p_signal is None or not len(record.e_p_signal):
        raise RecordError(header, "record has no signal samples")
    if not (record.fs and float(record.fs) > 0):
        raise RecordError(header, f"invalid sampling frequency {record.fs!r}")
    keep = [i for i, n in enumerate(record.sig_name) if str(n).strip() != "EDF Annotations"]
    spf = [int((record.samps_per_frame or [1] * record.n_sig)[i] or 1) for i in keep]
    rates = {float(record.fs) * k for k in spf}
    fs = max(rates)
    meta_extra: dict = {}
    if len(rates) > 1:
        if mixed_rates != "resample":
            listing = describe_rates(
                [str(record.sig_name[i]) for i in keep], [float(record.fs) * k for k in spf]
            )
            raise RecordError(header, f"channels have different sampling rates: {listing}")
        meta_extra["resampled_channels"] = [
            str(record.sig_name[i])
            for i, k in zip(keep, spf, strict=True)
            if float(record.fs) * k != fs
        ]
    rows = []
    for i, k in zip(keep, spf, strict=True):
        row = np.asarray(record.e_p_signal[i], dtype=np.float64)
        if float(record.fs) * k != fs:
            from scipy.signal import resample_poly

            up = max(spf)
            row = resample_poly(row, up, k)
        rows.append(row.astype(np.float32))
    data = np.stack(rows)
    files = sorted({str(record.file_name[i]) for i in keep})
    return Signal(
        data=np.ascontiguousarray(data),
        fs=fs,
        channels=[str(record.sig_name[i]) for i in keep],
        units=[str(record.units[i]) if record.units[i] else "" for i in keep],
        meta={
            "format": "wfdb",
            "wfdb_fmt": sorted({str(record.fmt[i]) for i in keep}),
            "signal_files": files,
            "duration_s": data.shape[1] / fs,
            "comments": list(record.comments or []),
            **meta_extra,
        },
    )
