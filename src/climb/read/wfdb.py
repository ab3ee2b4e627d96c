"""WFDB records: every format the ``wfdb`` package reads, incl. MATLAB v4 ``.mat`` signal files
and multi-segment records.

The PhysioNet/CinC Challenge 2020/2021 datasets (CPSC 2018, Georgia, Chapman-Shaoxing...) store
each record as a WFDB header plus a MATLAB v4 ``.mat`` signal file (``A0001.mat 16+24 ...``);
``wfdb.rdrecord`` reads those like any other format once the header is checked.

Multi-segment records (the MIMIC waveform layout: a master header ``name/n_seg`` listing segment
headers and their lengths, an optional layout segment of length 0, ``~`` segments for gaps) are
read with ``wfdb.rdrecord(..., m2s=True)``: segments concatenated in time, every channel a
segment lacks and every ``~`` gap NaN; ``meta["segments"]`` counts them and ``meta["layout"]``
says so.

The ``wfdb`` header parser is lenient in ways that guess (an unparsable sampling rate becomes
250 Hz, an unparsable ADC gain the default 200), so every header is first checked field by field
against the WFDB header specification, then against the signal files, and a bad record gives a
:class:`~climb.errors.RecordError` naming the file, the field and the problem:

- sampling rate not a finite number in (0, 1 MHz]; signal/segment lines missing (truncated
  header); a malformed or unknown format code, samples per frame or byte offset; an ADC gain
  that is not finite and non-zero (an explicit 0, which WFDB would replace by 200, is refused);
  non-integer baseline, resolution, zero, initial value, checksum or block size;
- a missing signal file, a truncated signal file (fewer bytes than ``sig_len`` needs), a
  header/signal length mismatch (the file holds at least one whole frame more than ``sig_len``
  says; pass ``strict_length=False`` to accept trailing data);
- a multi-segment record whose segment lengths do not add up, whose segment headers disagree
  with the master header, or that names a segment outside its directory.

Messages never quote a header value: lead labels, units and comments are free text and can hold
identifying data. Samples marked invalid by the format (e.g. -32768 in format 16) come back as
NaN. Single-segment records at one rate keep their integer samples in ``Signal.digital``
(scheme ``wfdb``: the float32 data is exactly ``(d - baseline) / adc_gain`` in float64, cast).
``Signal.comments`` (not ``meta``) holds the header's comment lines verbatim (adapters parse
labels from them); they can hold dates or free text, so they must never be copied anywhere.
``Signal.channels`` are the header's labels as stored (for matching); only normalized names
(:func:`climb.read.standardize.normalize_channels`) may enter a record's ``meta``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io import _signal

from climb.errors import RecordError
from climb.read.signal import Digital, Signal, rate_problem

# Bytes per sample of the uncompressed formats (FLAC formats 508/516/524 cannot be size-checked)
_BYTES_PER_SAMPLE: dict[str, float] = {
    k: float(v) for k, v in _signal.BYTES_PER_SAMPLE.items() if v
}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FMT = re.compile(r"^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$")
_GAIN = re.compile(r"^([^(/]+)(?:\(([^)]*)\))?(?:/(.*))?$")
_FS = re.compile(r"^([^/(]+)(?:/([^(]+))?(?:\(([^)]*)\))?$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_INT_FIELDS = ("ADC resolution", "ADC zero", "initial value", "checksum", "block size")


def _record_base(record_path: str | Path) -> Path:
    path = Path(record_path)
    if path.suffix in {".hea", ".dat", ".mat"}:
        path = path.with_suffix("")
    return path


def _is_int(text: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", text) is not None


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _header_lines(header: Path) -> list[str]:
    try:
        raw = header.read_bytes()
    except OSError as err:
        raise RecordError(header, f"cannot read WFDB header ({type(err).__name__})") from None
    text = raw.decode("latin-1")
    lines = (ln.strip() for ln in text.splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def _check_signal_line(header: Path, k: int, line: str) -> None:
    """One signal specification line (``file fmt[xspf][:skew][+offset] gain(base)/units ...``)."""
    where = f"signal {k + 1}"
    words = line.split()
    if len(words) < 2:
        raise RecordError(header, f"{where}: no format field (truncated header?)")
    match = _FMT.match(words[1])
    if match is None:
        raise RecordError(header, f"{where}: malformed format field")
    if match.group(1) not in _signal.DAT_FMTS and match.group(1) != "0":  # 0: null signal
        raise RecordError(header, f"{where}: format code unknown to WFDB")
    if match.group(2) is not None and int(match.group(2)) <= 0:
        raise RecordError(header, f"{where}: samples per frame is not positive")
    if len(words) > 2:
        gain = _GAIN.match(words[2])
        value = _finite(gain.group(1)) if gain else None
        if value is None or value == 0:
            raise RecordError(header, f"{where}: ADC gain is not a finite non-zero number")
        if gain.group(2) is not None and not _is_int(gain.group(2)):
            raise RecordError(header, f"{where}: ADC baseline is not an integer")
    for name, word in zip(_INT_FIELDS, words[3:8], strict=False):
        if not _is_int(word):
            raise RecordError(header, f"{where}: {name} is not an integer")


def _check_header_text(header: Path) -> tuple[int, list[tuple[str, int]]]:
    """Check a header's record line and signal (or segment) lines against the WFDB spec.

    Returns ``(n_sig, segments)``; ``segments`` is ``[(name, length)]`` of a multi-segment
    record and empty for a single-segment one.
    """
    lines = _header_lines(header)
    if not lines:
        raise RecordError(header, "empty WFDB header (no record line)")
    words = lines[0].split()
    if len(words) < 2:
        raise RecordError(header, "record line has no signal count (truncated header?)")
    n_seg_text = words[0].partition("/")[2]
    if n_seg_text and (not n_seg_text.isdigit() or int(n_seg_text) <= 0):
        raise RecordError(header, "record line: segment count is not a positive integer")
    if not words[1].isdigit():
        raise RecordError(header, "record line: signal count is not a non-negative integer")
    n_sig = int(words[1])
    if len(words) > 2:
        fs = _FS.match(words[2])
        problem = rate_problem(fs.group(1) if fs else None)
        if problem:
            raise RecordError(header, f"record line: sampling frequency {problem}")
        if fs.group(2) is not None and rate_problem(_finite(fs.group(2))):
            raise RecordError(header, "record line: counter frequency is not a positive number")
    if len(words) > 3 and not words[3].isdigit():
        raise RecordError(header, "record line: signal length is not a non-negative integer")
    body = lines[1:]
    if n_seg_text:
        n_seg = int(n_seg_text)
        if len(body) < n_seg:
            raise RecordError(header, f"header lists {len(body)} of its {n_seg} segments")
        segments = []
        for k, line in enumerate(body[:n_seg]):
            seg = line.split()
            if len(seg) != 2 or not seg[1].isdigit():
                raise RecordError(header, f"segment {k + 1}: malformed segment line")
            if seg[0] != "~" and (_SEGMENT.match(seg[0]) is None or ".." in seg[0]):
                raise RecordError(header, f"segment {k + 1}: segment name is not a record name")
            segments.append((seg[0], int(seg[1])))
        if len(words) > 3 and int(words[3]) != sum(n for _, n in segments):
            raise RecordError(header, "segment lengths do not add up to the record's length")
        return n_sig, segments
    if len(body) < n_sig:
        raise RecordError(header, f"header lists {len(body)} of its {n_sig} signals (truncated?)")
    for k, line in enumerate(body[:n_sig]):
        _check_signal_line(header, k, line)
    return n_sig, []


def read_wfdb_header(record_path: str | Path) -> wfdb.Record | wfdb.MultiRecord:
    """Validate and parse a WFDB header (no samples are read)."""
    base = _record_base(record_path)
    header = base.with_suffix(".hea")
    if not header.exists():
        raise RecordError(header, "WFDB header not found")
    _check_header_text(header)
    try:
        return wfdb.rdheader(str(base))
    except Exception as err:  # wfdb raises many types for bad headers; its text quotes lines
        raise RecordError(header, f"cannot parse WFDB header ({type(err).__name__})") from None


def _check_signal_files(base: Path, head: wfdb.Record, strict_length: bool) -> None:
    """Validate the size of every signal file against the header."""
    header = base.with_suffix(".hea")
    if not head.n_sig:
        raise RecordError(header, "header declares no signals")
    if head.sig_len is None:
        return
    fmts = [str(f) for f in head.fmt]
    spf = head.samps_per_frame or [1] * head.n_sig
    offsets = head.byte_offset or [0] * head.n_sig
    files: dict[str, dict] = {}
    for i, file_name in enumerate(head.file_name):
        if file_name == "~":  # no samples stored (layout headers)
            continue
        info = files.setdefault(file_name, {"fmt": fmts[i], "spf": 0, "offset": offsets[i] or 0})
        info["spf"] += spf[i] or 1
    for file_name, info in files.items():
        path = base.parent / file_name
        if Path(file_name).name != file_name or not path.is_file():
            raise RecordError(path, "signal file named in the header is missing")
        bps = _BYTES_PER_SAMPLE.get(info["fmt"])
        if bps is None:  # FLAC-compressed: size says nothing
            continue
        size = path.stat().st_size - info["offset"]
        frame_bytes = info["spf"] * bps
        needed = math.ceil(head.sig_len * frame_bytes)
        held = int(size // frame_bytes) if frame_bytes and size > 0 else 0
        if size < needed:
            raise RecordError(
                path,
                f"truncated: holds {held} of the {head.sig_len} samples per signal the header "
                f"declares",
            )
        if strict_length and held > head.sig_len:
            raise RecordError(
                path,
                f"header/signal length mismatch: header declares {head.sig_len} samples per "
                f"signal but the file holds {held}",
            )


def _check_segments(base: Path, segments: list[tuple[str, int]], n_sig: int, fs: float,
                    strict_length: bool) -> None:
    """Every segment header valid, at the master's rate, as long as the master says."""
    for k, (name, length) in enumerate(segments):
        if name == "~":
            continue
        seg_base = base.parent / name
        seg_header = seg_base.with_suffix(".hea")
        if not seg_header.is_file():
            raise RecordError(seg_header, f"segment {k + 1} header named in the master is missing")
        seg_n_sig, nested = _check_header_text(seg_header)
        if nested:
            raise RecordError(seg_header, "segment is itself a multi-segment record")
        head = read_wfdb_header(seg_base)
        if head.fs is None or abs(float(head.fs) - fs) > 1e-9 * fs:
            raise RecordError(seg_header, "segment sampling frequency differs from the master's")
        if seg_n_sig > n_sig and length:
            raise RecordError(seg_header, "segment has more signals than the master header")
        if length == 0:  # the layout segment: channel list only
            continue
        if head.sig_len != length:
            raise RecordError(seg_header, "segment length differs from the master header's")
        _check_signal_files(seg_base, head, strict_length)


def read_wfdb(
    record_path: str | Path, strict_length: bool = True, mixed_rates: str = "error"
) -> Signal:
    """Read a WFDB record (path without extension, or to its ``.hea``) in physical units.

    Multi-frequency records (``samps_per_frame`` > 1, e.g. ``16x200``) are read frame-expanded,
    at frame rate x samples-per-frame. An ``EDF Annotations`` channel (WFDB copies of EDF+ files)
    is dropped. Channels at different rates raise :class:`RecordError` unless ``mixed_rates`` is
    ``"resample"`` (polyphase resampling to the highest rate, noted in ``meta``).
    Multi-segment records come back concatenated, gaps and absent channels NaN.
    """
    base = _record_base(record_path)
    header = base.with_suffix(".hea")
    head = read_wfdb_header(base)
    n_sig, segments = _check_header_text(header)
    meta_extra: dict = {}
    if segments:
        if not n_sig:
            raise RecordError(header, "header declares no signals")
        if segments[0][1] != 0 and any(name == "~" for name, _ in segments):
            raise RecordError(header, "fixed-layout multi-segment record with gap segments "
                                      "(wfdb reads gaps only with a layout segment)")
        _check_segments(base, segments, n_sig, float(head.fs), strict_length)
        meta_extra = {
            "segments": sum(1 for name, n in segments if name != "~" and n),
            "gaps": sum(1 for name, _ in segments if name == "~"),
            "layout": "multi-segment, gaps NaN",
        }
    else:
        _check_signal_files(base, head, strict_length)
    try:
        if segments:
            record = wfdb.rdrecord(str(base), smooth_frames=False, m2s=True)
        else:  # the digital samples, converted here with wfdb's own dac (as rdrecord does)
            record = wfdb.rdrecord(str(base), smooth_frames=False, physical=False)
            record.e_p_signal = record.dac(expanded=True, return_res=64)
    except Exception as err:  # wfdb raises many types for bad files; its text can quote labels
        raise RecordError(header, f"cannot read WFDB record ({type(err).__name__})") from None
    if record.e_p_signal is None or not len(record.e_p_signal):
        raise RecordError(header, "record has no signal samples")
    if rate_problem(record.fs):
        raise RecordError(header, f"sampling frequency {rate_problem(record.fs)}")
    keep = [i for i, n in enumerate(record.sig_name) if str(n).strip() != "EDF Annotations"]
    if not keep:
        raise RecordError(header, "record has no signal channels")
    spf = [int((record.samps_per_frame or [1] * record.n_sig)[i] or 1) for i in keep]
    rates = [float(record.fs) * k for k in spf]
    fs = max(rates)
    if len(set(rates)) > 1:
        if mixed_rates != "resample":
            listing = ", ".join(f"{r:g} Hz" for r in sorted(set(rates)))
            raise RecordError(header, f"channels have different sampling rates ({listing})")
        meta_extra["resampled_channels"] = sum(1 for r in rates if r != fs)
    rows = []
    frames = None
    for i, k in zip(keep, spf, strict=True):
        row = np.asarray(record.e_p_signal[i], dtype=np.float64)
        n_frames = len(row) // k
        if frames is None:
            frames = n_frames
        if n_frames != frames or len(row) != n_frames * k:
            raise RecordError(header, "signals hold different numbers of frames")
        if float(record.fs) * k != fs:
            from scipy.signal import resample_poly

            row = resample_poly(row, max(spf), k)
        if (np.abs(row[np.isfinite(row)]) > _FLOAT32_MAX).any() or np.isinf(row).any():
            raise RecordError(header, "sample values beyond the float32 range (ADC gain too small)")
        rows.append(row.astype(np.float32))
    data = np.stack(rows)
    digital = None if segments or len(set(rates)) > 1 else _digital(record, keep)
    files = sorted({str(f) for f in (record.file_name or []) if f and f != "~"})
    if segments:
        files = [name for name, n in segments if name != "~" and n]
    return Signal(
        data=np.ascontiguousarray(data),
        fs=fs,
        channels=[str(record.sig_name[i] or "") for i in keep],  # the description is optional
        units=[str(record.units[i]) if record.units[i] else "" for i in keep],
        meta={
            "format": "wfdb",
            "wfdb_fmt": sorted({str(record.fmt[i]) for i in keep if record.fmt[i] is not None}),
            "signal_files": files,
            "duration_s": data.shape[1] / fs,
            **meta_extra,
        },
        comments=[str(c) for c in record.comments or []],
        digital=digital,
    )


def _digital(record: wfdb.Record, keep: list[int]) -> Digital | None:
    """The stored integer samples of channels ``keep`` with wfdb's dac parameters (physical =
    (d - baseline) / adc_gain in float64, NaN where d is the format's invalid value)."""
    if record.e_d_signal is None:
        return None
    rows = [np.asarray(record.e_d_signal[i]) for i in keep]
    low = min(int(r.min()) for r in rows)
    high = max(int(r.max()) for r in rows)
    dtype = np.int16 if low >= -(2**15) and high < 2**15 else np.int32
    if not (low >= -(2**31) and high < 2**31):
        return None
    invalid = [_signal.INVALID_SAMPLE_VALUE.get(record.fmt[i]) for i in keep]
    return Digital(
        samples=np.ascontiguousarray(np.stack(rows).astype(dtype)),
        scheme="wfdb",
        gain=tuple(float(record.adc_gain[i]) for i in keep),
        offset=tuple(float(record.baseline[i]) for i in keep),
        invalid=tuple(None if v is None else int(v) for v in invalid),
    )
