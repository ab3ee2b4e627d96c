"""DICOM waveforms (12-lead ECG, General ECG, ... Waveform Storage) via pydicom.

One multiplex group of the (5400,0100) Waveform Sequence becomes a :class:`Signal`. The group's
header is validated before anything is decoded: sampling frequency finite, > 0 and at most
``MAX_SAMPLING_FREQUENCY``; channel and sample counts positive, matching the channel
definitions and the bytes of Waveform Data present; a sample interpretation numpy can decode
(signed/unsigned integers; mu-law/A-law are refused, not passed on as codes); each channel's
sensitivity, correction factor and baseline finite, the sensitivity and factor non-zero.
Samples are then decoded with numpy from Waveform Data (interleaved, little endian) and scaled
to physical units (``raw * sensitivity * correction + baseline``). Channel names come from each
channel's source code meaning ("Lead I (Einthoven)" -> "I"), units from its sensitivity units
code ("uV", "mV").

No patient or study attribute (name, id, birth date, dates/times, institution, free text) is put
into ``meta`` or into an error message: ``meta`` holds the SOP class, modality, manufacturer
model, the multiplex index, its label only when it is a standard group name (``"RHYTHM"``,
``"MEDIAN BEAT"``, ...; labels are free text) and ``duration_s``. Errors name the file, the
field and the kind of problem, never a header value.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from climb.errors import RecordError
from climb.read.dicom import quiet_pydicom
from climb.read.signal import Signal

#: Upper bound on a plausible waveform sampling frequency (Hz). DICOM's waveform IODs top out
#: well below it (ECG/hemodynamic/EP: <= a few kHz; General Audio: 44.1-48 kHz), so anything
#: above is a corrupt or absurd header, not a recording.
MAX_SAMPLING_FREQUENCY = 100_000.0

#: Multiplex group labels used by ECG vendors and the standard's examples; any other label is
#: free text and is not copied into ``meta``.
STANDARD_GROUP_LABELS = frozenset(
    {"RHYTHM", "MEDIAN BEAT", "MEDIAN", "AVERAGE BEAT", "REPRESENTATIVE BEAT", "ECG"}
)

# (bits allocated, sample interpretation) -> little-endian numpy dtype; MB/AB (mu-law, A-law)
# are companded codes, not sample values, and are refused.
_DTYPES = {
    (8, "SB"): "i1",
    (8, "UB"): "u1",
    (16, "SS"): "<i2",
    (16, "US"): "<u2",
    (32, "SL"): "<i4",
    (32, "UL"): "<u4",
    (64, "SV"): "<i8",
    (64, "UV"): "<u8",
}


def _channel_name(item) -> str:
    try:
        meaning = str(item.ChannelSourceSequence[0].CodeMeaning)
    except (AttributeError, IndexError, TypeError):
        return str(item.get("ChannelLabel", "") or "").strip() or "?"
    text = re.sub(r"\(.*?\)", "", meaning).strip()
    return re.sub(r"^Lead\s+", "", text, flags=re.IGNORECASE).strip() or "?"


def _channel_unit(item) -> str:
    try:
        return str(item.ChannelSensitivityUnitsSequence[0].CodeValue)
    except (AttributeError, IndexError, TypeError):
        return ""


def _number(path: Path, item, keyword: str, where: str, default: float | None = None) -> float:
    """``item.keyword`` as a finite float; a clear error (without the value) otherwise."""
    try:
        raw = item.get(keyword)
    except Exception:  # a value pydicom cannot even convert
        raise RecordError(path, f"{where} {keyword} is unreadable") from None
    if raw is None or raw == "":
        if default is None:
            raise RecordError(path, f"{where} {keyword} is missing")
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise RecordError(path, f"{where} {keyword} is not a number") from None
    if not math.isfinite(value):
        raise RecordError(path, f"{where} {keyword} is not finite")
    return value


def _count(path: Path, item, keyword: str, where: str) -> int:
    value = _number(path, item, keyword, where)
    if value != int(value) or value <= 0:
        raise RecordError(path, f"{where} {keyword} is not a positive integer")
    return int(value)


def _select_group(path: Path, sequence, group: int | str) -> int:
    if isinstance(group, str):
        labels = [str(m.get("MultiplexGroupLabel", "") or "").strip() for m in sequence]
        if group not in labels:  # the file's labels are free text: not quoted
            raise RecordError(path, f"no multiplex group {group!r} among {len(labels)} groups")
        return labels.index(group)
    if not 0 <= group < len(sequence):
        raise RecordError(path, f"multiplex group {group} out of range ({len(sequence)} groups)")
    return group


def read_dicom_waveform(path: str | Path, group: int | str = 0) -> Signal:
    """Read one multiplex group (index, or its MultiplexGroupLabel, e.g. "RHYTHM")."""
    with quiet_pydicom():
        return _read(Path(path), group)


def _read(path: Path, group: int | str) -> Signal:
    import pydicom

    try:
        ds = pydicom.dcmread(str(path))
        sequence = ds.get("WaveformSequence")
    except Exception as err:  # pydicom raises many types; its text may quote header values
        raise RecordError(path, f"not a readable DICOM file ({type(err).__name__})") from None
    if not sequence:
        raise RecordError(path, "DICOM file has no Waveform Sequence (5400,0100)")
    index = _select_group(path, sequence, group)
    multiplex = sequence[index]
    where = f"multiplex group {index}:"
    try:
        return _decode(path, ds, multiplex, index, where)
    except RecordError:
        raise
    except Exception as err:  # a malformed element pydicom only notices on access
        raise RecordError(
            path, f"{where} malformed waveform header ({type(err).__name__})"
        ) from None


def _decode(path: Path, ds, multiplex, index: int, where: str) -> Signal:
    fs = _number(path, multiplex, "SamplingFrequency", where)
    if not 0 < fs <= MAX_SAMPLING_FREQUENCY:
        raise RecordError(
            path, f"{where} SamplingFrequency out of range (0, {MAX_SAMPLING_FREQUENCY:g}] Hz"
        )
    n_channels = _count(path, multiplex, "NumberOfWaveformChannels", where)
    n_samples = _count(path, multiplex, "NumberOfWaveformSamples", where)
    bits = int(_number(path, multiplex, "WaveformBitsAllocated", where))
    interpretation = str(multiplex.get("WaveformSampleInterpretation", "") or "").strip()
    dtype = _DTYPES.get((bits, interpretation))
    if dtype is None:
        raise RecordError(
            path, f"{where} WaveformBitsAllocated/WaveformSampleInterpretation not supported"
        )
    definitions = list(multiplex.get("ChannelDefinitionSequence") or [])
    if len(definitions) != n_channels:
        raise RecordError(
            path,
            f"{where} {n_channels} channels declared, {len(definitions)} channel definitions",
        )
    scales = np.empty(n_channels)
    baselines = np.empty(n_channels)
    for k, item in enumerate(definitions):
        at = f"{where} channel {k}"
        sensitivity = _number(path, item, "ChannelSensitivity", at, default=1.0)
        correction = _number(path, item, "ChannelSensitivityCorrectionFactor", at, default=1.0)
        if sensitivity == 0 or correction == 0:
            raise RecordError(path, f"{at} ChannelSensitivity or correction factor is zero")
        scales[k] = sensitivity * correction
        baselines[k] = _number(path, item, "ChannelBaseline", at, default=0.0)
    data_bytes = multiplex.get("WaveformData")
    present = len(data_bytes) if data_bytes is not None else 0
    expected = n_samples * n_channels * bits // 8
    if present < expected:  # DICOM pads odd lengths, so only a shortfall is an error
        raise RecordError(
            path, f"{where} WaveformData has {present} bytes, header declares {expected}"
        )
    raw = np.frombuffer(data_bytes, dtype=dtype, count=n_samples * n_channels)
    samples = raw.reshape(n_samples, n_channels).T.astype(np.float64)
    data = (samples * scales[:, None] + baselines[:, None]).astype(np.float32)
    if not np.isfinite(data).all():
        raise RecordError(path, f"{where} samples overflow float32 after scaling")
    label = str(multiplex.get("MultiplexGroupLabel", "") or "").strip()
    sop = getattr(ds.get("SOPClassUID"), "name", None)
    return Signal(
        data=np.ascontiguousarray(data),
        fs=fs,
        channels=[_channel_name(c) for c in definitions],
        units=[_channel_unit(c) for c in definitions],
        meta={
            "format": "dicom-waveform",
            "sop_class": str(sop) if sop else None,
            "modality": str(ds.get("Modality", "") or "") or None,
            "device": str(ds.get("ManufacturerModelName", "") or "") or None,
            "multiplex_index": index,
            "multiplex": label if label.upper() in STANDARD_GROUP_LABELS else None,
            "duration_s": n_samples / fs,
        },
    )
