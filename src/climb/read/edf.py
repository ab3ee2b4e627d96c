"""EDF, EDF+ and BDF(+) recordings.

pyEDFlib reads the file first; when it refuses a non-compliant header (bad physical dimension,
odd date separators... common in clinical exports) MNE's more lenient reader is tried, and only
when both fail is a :class:`~climb.errors.RecordError` raised, naming both problems.

Checks, all reported rather than silently fixed:

- **Discontinuous EDF+D**: the onset of every data record is read from its time-keeping
  annotation; a gap raises ``RecordError`` (``discontinuous="error"``, default) or, with
  ``discontinuous="report"``, the stored samples are returned unjoined-in-time and the gaps are
  listed in ``meta["discontinuities"]`` — never silently glued.
- **Per-channel sampling rates**: the selected channels must share one rate; otherwise
  ``RecordError``, unless ``mixed_rates="resample"`` (polyphase resampling to the highest rate).
- **Header values**, checked before either library decodes: every numeric field a finite
  number, header size = 256 x (signals + 1), samples per record > 0, record duration > 0,
  per-channel rate in (0, 1 MHz], physical min != max, digital min < max, a declared record
  count that is positive, not absurd, and fully present in the file (a cut file is a
  ``RecordError``, never read shorter by the MNE fallback); the samples read must match the
  declared records x duration x rate.
- **Privacy**: the EDF patient and recording identification fields, the start date/time,
  technician and admin codes are never put into ``meta``; error messages name the field and
  the signal by position, never a header value or label (pyEDFlib's fixed texts are kept,
  MNE's by exception type only). ``resampled_channels`` is a count.

``meta`` holds ``format`` (edf / edf+ / bdf / bdf+), ``variant`` (EDF+C / EDF+D for EDF+),
``duration_s``, ``reader`` (pyedflib / mne) and ``annotations`` (onset_s, duration_s, text).
Data are float32 in the physical units of the header (MNE fallback: volts for voltage
channels, as MNE scales them; ``units`` says which). pyEDFlib reads the digital samples and
converts them with EDFlib's own formula (bitvalue x (offset + d) in float64, bitvalue =
(pmax - pmin) / (dmax - dmin), offset = pmax / bitvalue - dmax: identical to its physical
read); at one rate they are kept in ``Signal.digital`` (scheme ``edf``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from climb.errors import RecordError
from climb.read.signal import Digital, Signal, rate_problem

ANNOTATION_LABELS = {"EDF Annotations", "BDF Annotations"}

ChannelSelector = Sequence[str] | Callable[[str], bool] | None


_FIELDS = (  # (name, width) of the per-signal header fields, in file order
    ("label", 16), ("transducer", 80), ("physical dimension", 8), ("physical minimum", 8),
    ("physical maximum", 8), ("digital minimum", 8), ("digital maximum", 8),
    ("prefiltering", 80), ("samples per record", 8), ("reserved", 32),
)  # fmt: skip
# A declared data-record count above this is a corrupt header whatever the file size says.
_MAX_RECORDS = 10_000_000


def _number(path: Path, text: bytes, field: str, integer: bool = False) -> float:
    """A numeric header field; the error names the field, never its (free-text) content."""
    try:
        word = text.decode("ascii").strip()
        value = int(word) if integer else float(word)
    except (ValueError, UnicodeDecodeError):
        kind = "an integer" if integer else "a number"
        raise RecordError(path, f"corrupt EDF header: {field} is not {kind}") from None
    if not np.isfinite(value):
        raise RecordError(path, f"corrupt EDF header: {field} is not finite")
    return value


def _parse_raw_header(path: Path) -> dict:
    """The fixed header fields this module needs (none of them identifying), validated.

    Checked: header and signal-header blocks complete, every numeric field a finite number,
    header size = 256 x (signals + 1), samples per record > 0, physical and digital ranges not
    degenerate. The data-record count is checked against the file size by :func:`_check_size`.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(256)
            if len(head) < 256:
                raise RecordError(path, f"truncated EDF header: {len(head)} of 256 bytes")
            ns = int(_number(path, head[252:256], "number of signals", integer=True))
            if ns <= 0:
                raise RecordError(path, "corrupt EDF header: number of signals is not positive")
            ext = fh.read(ns * 256)
            if len(ext) < ns * 256:
                raise RecordError(path, "truncated EDF header: signal header block incomplete")
    except OSError as err:
        raise RecordError(path, f"cannot read EDF file ({type(err).__name__})") from None
    columns: dict[str, list[bytes]] = {}
    pos = 0
    for field, width in _FIELDS:
        columns[field] = [ext[pos + i * width : pos + (i + 1) * width] for i in range(ns)]
        pos += ns * width
    header_bytes = int(_number(path, head[184:192], "header size", integer=True))
    if header_bytes != 256 * (ns + 1):
        raise RecordError(path, "corrupt EDF header: header size disagrees with signal count")
    labels = [b.decode("latin-1").strip() for b in columns["label"]]
    nsamp, phys, digi = [], [], []
    for i in range(ns):
        where = f"signal {i + 1}"
        n = int(_number(path, columns["samples per record"][i], f"{where} samples per record",
                        integer=True))
        if n <= 0:
            raise RecordError(path, f"corrupt EDF header: {where} samples per record is not "
                                    "positive")
        pmin = _number(path, columns["physical minimum"][i], f"{where} physical minimum")
        pmax = _number(path, columns["physical maximum"][i], f"{where} physical maximum")
        dmin = _number(path, columns["digital minimum"][i], f"{where} digital minimum", True)
        dmax = _number(path, columns["digital maximum"][i], f"{where} digital maximum", True)
        if pmin == pmax:
            raise RecordError(path, f"corrupt EDF header: {where} physical minimum equals "
                                    "physical maximum")
        if dmin >= dmax:
            raise RecordError(path, f"corrupt EDF header: {where} digital minimum is not below "
                                    "digital maximum")
        nsamp.append(n)
        phys.append((pmin, pmax))
        digi.append((dmin, dmax))
    n_records = int(_number(path, head[236:244], "number of data records", integer=True))
    record_s = _number(path, head[244:252], "data record duration")
    return {
        "bdf": head[0:1] == b"\xff",
        "reserved": head[192:236].decode("latin-1").strip(),
        "n_records": n_records,
        "record_s": record_s,
        "ns": ns,
        "labels": labels,
        "nsamp": nsamp,
        "physical": phys,
        "digital": digi,
    }


def _check_size(path: Path, hdr: dict) -> None:
    """The declared records present in full: a short file is an error, never read shorter."""
    if hdr["n_records"] <= 0:
        raise RecordError(path, f"header declares {hdr['n_records']} data records (none or "
                                "an unknown number)")
    if hdr["n_records"] > _MAX_RECORDS:
        raise RecordError(path, "header declares an absurd number of data records")
    bps = 3 if hdr["bdf"] else 2
    record_bytes = sum(hdr["nsamp"]) * bps
    data_bytes = path.stat().st_size - 256 * (hdr["ns"] + 1)
    held = max(data_bytes, 0) // record_bytes
    if held < hdr["n_records"]:
        raise RecordError(
            path, f"truncated: holds {held} of the {hdr['n_records']} data records the header "
            "declares",
        )


_TAL_ONSET = re.compile(rb"^([+-]\d+(?:\.\d*)?)\x14")


def record_onsets(path: str | Path) -> list[float]:
    """Onset (s) of every data record of an EDF+/BDF+ file, from the time-keeping TALs."""
    path = Path(path)
    hdr = _parse_raw_header(path)
    ann = [i for i, lab in enumerate(hdr["labels"]) if lab in ANNOTATION_LABELS]
    if not ann:
        return [r * hdr["record_s"] for r in range(max(hdr["n_records"], 0))]
    bps = 3 if hdr["bdf"] else 2
    rec_bytes = sum(hdr["nsamp"]) * bps
    start = sum(hdr["nsamp"][: ann[0]]) * bps
    length = hdr["nsamp"][ann[0]] * bps
    offset = 256 * (hdr["ns"] + 1)
    onsets: list[float] = []
    with path.open("rb") as fh:
        for r in range(hdr["n_records"]):
            fh.seek(offset + r * rec_bytes + start)
            chunk = fh.read(length)
            match = _TAL_ONSET.match(chunk)
            if match is None:
                raise RecordError(path, f"data record {r} has no time-keeping annotation")
            onsets.append(float(match.group(1)))
    return onsets


def _gaps(onsets: list[float], record_s: float) -> list[dict]:
    gaps = []
    for r in range(1, len(onsets)):
        gap = onsets[r] - (onsets[r - 1] + record_s)
        if abs(gap) > 1e-6:
            gaps.append({"record": r, "at_s": round(r * record_s, 6), "gap_s": round(gap, 6)})
    return gaps


def _select(labels: list[str], channels: ChannelSelector, path: Path) -> list[int]:
    candidates = [i for i, lab in enumerate(labels) if lab not in ANNOTATION_LABELS]
    if channels is None:
        return candidates
    if callable(channels):
        picked = [i for i in candidates if channels(labels[i])]
        if not picked:
            raise RecordError(path, "no channel matches the channel selector")
        return picked
    lookup = {labels[i].strip().upper(): i for i in candidates}
    missing = [c for c in channels if c.strip().upper() not in lookup]
    if missing:
        raise RecordError(path, f"channels not in the file: {missing}")
    return [lookup[c.strip().upper()] for c in channels]


def describe_rates(rates: list[float]) -> str:
    """ "250 Hz (21 channels); 1 Hz (1 channel)" for an error message (labels are free text)."""
    groups: dict[float, int] = {}
    for rate in rates:
        groups[rate] = groups.get(rate, 0) + 1
    return "; ".join(
        f"{rate:g} Hz ({n} channel{'s' if n > 1 else ''})"
        for rate, n in sorted(groups.items(), key=lambda kv: -kv[1])
    )


def _unify_rates(
    rows: list[np.ndarray], rates: list[float], names: list[str], mixed_rates: str, path: Path
) -> tuple[np.ndarray, float, list[str]]:
    fs = max(rates)
    resampled: list[str] = []
    if len(set(rates)) > 1:
        if mixed_rates != "resample":
            listing = describe_rates(rates)
            raise RecordError(path, f"channels have different sampling rates: {listing}")
        from fractions import Fraction

        from scipy.signal import resample_poly

        for k, (row, rate) in enumerate(zip(rows, rates, strict=True)):
            if rate != fs:
                ratio = Fraction(fs / rate).limit_denominator(1000)
                rows[k] = resample_poly(row, ratio.numerator, ratio.denominator)
                resampled.append(names[k])
    n = min(len(r) for r in rows)
    data = np.stack([np.asarray(r[:n], dtype=np.float32) for r in rows])
    return data, fs, resampled


def _edflib_problem(err: Exception) -> str:
    """pyEDFlib's refusal, without any header text it might quote."""
    # edflib's messages are fixed texts ("the file is not EDF(+) or BDF(+) compliant
    # (Physical Dimension)"), prefixed by the path; anything else is named by its type only.
    match = re.search(r"(the file is not EDF\(\+\) or BDF\(\+\) compliant[A-Za-z+ (),.':]*)$",
                      str(err))
    return match.group(1) if match else type(err).__name__


def _read_pyedflib(path: Path, channels: ChannelSelector, mixed_rates: str) -> tuple:
    import pyedflib

    reader = pyedflib.EdfReader(str(path))
    try:
        labels = [str(x).strip() for x in reader.getSignalLabels()]
        picked = _select(labels, channels, path)
        names = [labels[i] for i in picked]
        rates = [float(reader.getSampleFrequency(i)) for i in picked]
        for i, rate in zip(picked, rates, strict=True):
            if rate_problem(rate):
                raise RecordError(path, f"signal {i + 1}: sampling rate {rate_problem(rate)}")
        digital = [reader.readSignal(i, digital=True) for i in picked]
        gains, offsets = [], []
        for i in picked:  # EDFlib's own conversion, from the header values it parsed
            pmax, pmin = reader.getPhysicalMaximum(i), reader.getPhysicalMinimum(i)
            dmax, dmin = reader.getDigitalMaximum(i), reader.getDigitalMinimum(i)
            bitvalue = (pmax - pmin) / (dmax - dmin)
            gains.append(float(bitvalue))
            offsets.append(float(pmax / bitvalue - dmax))
        rows = [g * (o + d.astype(np.float64)) for g, o, d in zip(gains, offsets, digital,
                                                                      strict=True)]
        units = [str(reader.getPhysicalDimension(i)).strip() for i in picked]
        onsets, durations, texts = reader.readAnnotations()
        annotations = [
            {"onset_s": float(o), "duration_s": float(d), "text": str(t)}
            for o, d, t in zip(onsets, durations, texts, strict=True)
        ]
        filetype = {0: "edf", 1: "edf+", 2: "bdf", 3: "bdf+"}.get(reader.filetype, "edf")
    finally:
        reader.close()
    data, fs, resampled = _unify_rates(rows, rates, names, mixed_rates, path)
    kept = None
    if not resampled and all(len(d) == data.shape[1] for d in digital):
        samples = np.stack(digital)
        small = samples.size and samples.min() >= -(2**15) and samples.max() < 2**15
        kept = Digital(
            samples=np.ascontiguousarray(samples.astype(np.int16 if small else np.int32)),
            scheme="edf",
            gain=tuple(gains),
            offset=tuple(offsets),
            invalid=(None,) * len(picked),
        )
    return data, fs, names, units, annotations, filetype, resampled, kept


_VOLT_UNITS = {"V", "MV", "UV", "µV".upper(), "μV".upper(), "NV"}


def _read_mne(path: Path, channels: ChannelSelector, mixed_rates: str) -> tuple:
    import mne

    reader = mne.io.read_raw_bdf if path.suffix.lower() == ".bdf" else mne.io.read_raw_edf
    raw = reader(str(path), preload=False, verbose="error")
    labels = [str(x).strip() for x in raw.ch_names]
    picked = _select(labels, channels, path)
    names = [labels[i] for i in picked]
    hdr = _parse_raw_header(path)
    native = {lab: n for lab, n in zip(hdr["labels"], hdr["nsamp"], strict=True)}
    rates = [native.get(n, 0) / hdr["record_s"] if hdr["record_s"] else 0.0 for n in names]
    if len(set(rates)) > 1 and mixed_rates != "resample":
        listing = describe_rates(rates)
        raise RecordError(path, f"channels have different sampling rates: {listing}")
    data = raw.get_data(picks=[raw.ch_names[i] for i in picked]).astype(np.float32)
    orig = getattr(raw, "_orig_units", {}) or {}
    units = []
    for i in picked:
        unit = str(orig.get(raw.ch_names[i], "")).strip()
        units.append("V" if unit.upper() in _VOLT_UNITS else unit)
    annotations = [
        {
            "onset_s": float(a["onset"]),
            "duration_s": float(a["duration"]),
            "text": str(a["description"]),
        }
        for a in raw.annotations
    ]
    bdf = hdr["bdf"]
    plus = hdr["reserved"].startswith(("EDF+", "BDF+"))
    filetype = ("bdf" if bdf else "edf") + ("+" if plus else "")
    resampled = [n for n, r in zip(names, rates, strict=True) if r != max(rates)]
    return data, float(raw.info["sfreq"]), names, units, annotations, filetype, resampled, None


def _annotations_only(path: Path, hdr: dict, variant: str | None, meta_extra: dict) -> Signal:
    """An EDF+ file holding only annotations: no samples, the annotations in ``meta``."""
    import pyedflib

    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as err:
        raise RecordError(path, f"unreadable EDF+ ({_edflib_problem(err)})") from None
    try:
        onsets, durations, texts = reader.readAnnotations()
    finally:
        reader.close()
    annotations = [
        {"onset_s": float(o), "duration_s": float(d), "text": str(t)}
        for o, d, t in zip(onsets, durations, texts, strict=True)
    ]
    return Signal(
        data=np.zeros((0, 0), dtype=np.float32),
        fs=0.0,
        channels=[],
        units=[],
        meta={
            "format": "bdf+" if hdr["bdf"] else "edf+",
            "variant": variant,
            "reader": "pyedflib",
            "duration_s": hdr["n_records"] * hdr["record_s"],
            "annotations": annotations,
            **meta_extra,
        },
    )


def read_edf(
    path: str | Path,
    channels: ChannelSelector = None,
    mixed_rates: str = "error",
    discontinuous: str = "error",
) -> Signal:
    """Read an EDF/EDF+/BDF file in physical units.

    ``channels``: names to keep (case-insensitive; order kept), a predicate on the label, or
    None for every signal channel (annotation channels are always left out).
    """
    path = Path(path)
    if not path.exists():
        raise RecordError(path, "EDF file not found")
    hdr = _parse_raw_header(path)
    _check_size(path, hdr)
    signals = [i for i, lab in enumerate(hdr["labels"]) if lab not in ANNOTATION_LABELS]
    if hdr["record_s"] < 0 or (signals and rate_problem(hdr["record_s"])):
        raise RecordError(path, "corrupt EDF header: data record duration is not positive")
    for i in signals:
        if rate_problem(hdr["nsamp"][i] / hdr["record_s"]):
            problem = rate_problem(hdr["nsamp"][i] / hdr["record_s"])
            raise RecordError(path, f"signal {i + 1}: sampling rate {problem}")
    variant = hdr["reserved"][:5] if hdr["reserved"].startswith(("EDF+", "BDF+")) else None
    meta_extra: dict = {}
    if variant in {"EDF+D", "BDF+D"}:
        gaps = _gaps(record_onsets(path), hdr["record_s"])
        if gaps and discontinuous != "report":
            shown = "; ".join(f"{g['gap_s']:g} s gap before record {g['record']}" for g in gaps[:5])
            raise RecordError(
                path, f"discontinuous {variant} recording ({len(gaps)} gaps: {shown}); not joined"
            )
        meta_extra["discontinuities"] = gaps
    if channels is None and all(lab in ANNOTATION_LABELS for lab in hdr["labels"]):
        return _annotations_only(path, hdr, variant, meta_extra)
    try:
        result = _read_pyedflib(path, channels, mixed_rates)
        reader = "pyedflib"
    except RecordError:
        raise
    except Exception as first:  # pyedflib refuses non-compliant headers with OSError
        try:
            result = _read_mne(path, channels, mixed_rates)
            reader = "mne"
        except RecordError:
            raise
        except Exception as second:
            raise RecordError(
                path,
                f"unreadable EDF: pyedflib: {_edflib_problem(first)}; mne: "
                f"{type(second).__name__}",
            ) from None
    data, fs, names, units, annotations, filetype, resampled, digital = result
    declared = hdr["n_records"] * hdr["record_s"] * fs
    if abs(data.shape[1] - declared) > 0.5:
        raise RecordError(
            path, f"{reader} read {data.shape[1]} samples per channel, the header declares "
            f"{declared:.0f}",
        )
    if resampled:
        meta_extra["resampled_channels"] = len(resampled)
    return Signal(
        data=np.ascontiguousarray(data, dtype=np.float32),
        fs=float(fs),
        channels=names,
        units=units,
        meta={
            "format": filetype,
            "variant": variant,
            "reader": reader,
            "duration_s": data.shape[1] / fs,
            "annotations": annotations,
            **meta_extra,
        },
        digital=digital,
    )
