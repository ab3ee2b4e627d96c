"""DICOM waveforms (12-lead ECG, General ECG, ... Waveform Storage) via pydicom.

One multiplex group of the (5400,0100) Waveform Sequence becomes a :class:`Signal`: samples
are decoded with ``Dataset.waveform_array`` (channel sensitivity, correction factor and baseline
applied), channel names come from each channel's source code meaning ("Lead I (Einthoven)" ->
"I"), units from its sensitivity units code ("uV", "mV").

No patient or study attribute (name, id, birth date, dates/times, institution...) is put into
``meta``; only the SOP class, modality, manufacturer model, the multiplex label and
``duration_s``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from climb.errors import RecordError
from climb.read.signal import Signal


def _channel_name(item) -> str:
    try:
        meaning = str(item.ChannelSourceSequence[0].CodeMeaning)
    except (AttributeError, IndexError):
        return str(item.get("ChannelLabel", "")).strip() or "?"
    text = re.sub(r"\(.*?\)", "", meaning).strip()
    return re.sub(r"^Lead\s+", "", text, flags=re.IGNORECASE).strip()


def _channel_unit(item) -> str:
    try:
        return str(item.ChannelSensitivityUnitsSequence[0].CodeValue)
    except (AttributeError, IndexError):
        return ""


def read_dicom_waveform(path: str | Path, group: int | str = 0) -> Signal:
    """Read one multiplex group (index, or its MultiplexGroupLabel, e.g. "RHYTHM")."""
    import pydicom

    path = Path(path)
    try:
        ds = pydicom.dcmread(str(path))
    except Exception as err:
        raise RecordError(path, f"not a readable DICOM file: {type(err).__name__}: {err}") from None
    sequence = ds.get("WaveformSequence")
    if not sequence:
        raise RecordError(path, "DICOM file has no Waveform Sequence (5400,0100)")
    if isinstance(group, str):
        labels = [str(m.get("MultiplexGroupLabel", "")) for m in sequence]
        if group not in labels:
            raise RecordError(path, f"no multiplex group {group!r}; groups: {labels}")
        index = labels.index(group)
    else:
        index = group
        if not 0 <= index < len(sequence):
            raise RecordError(path, f"multiplex group {index} out of range ({len(sequence)})")
    multiplex = sequence[index]
    try:
        fs = float(multiplex.SamplingFrequency)
        samples = ds.waveform_array(index)
    except Exception as err:
        raise RecordError(path, f"cannot decode waveform: {type(err).__name__}: {err}") from None
    if not fs > 0:
        raise RecordError(path, f"invalid sampling frequency {fs}")
    channels = [_channel_name(c) for c in multiplex.ChannelDefinitionSequence]
    units = [_channel_unit(c) for c in multiplex.ChannelDefinitionSequence]
    data = np.ascontiguousarray(np.asarray(samples, dtype=np.float32).T)
    if data.shape[0] != len(channels):
        raise RecordError(path, f"{data.shape[0]} waveform channels, {len(channels)} definitions")
    sop = getattr(ds.get("SOPClassUID"), "name", None)
    return Signal(
        data=data,
        fs=fs,
        channels=channels,
        units=units,
        meta={
            "format": "dicom-waveform",
            "sop_class": str(sop) if sop else None,
            "modality": str(ds.get("Modality", "")) or None,
            "device": str(ds.get("ManufacturerModelName", "")) or None,
            "multiplex": str(multiplex.get("MultiplexGroupLabel", "")) or None,
            "duration_s": data.shape[1] / fs,
        },
    )
