"""Shared logic of the Temple University Hospital EEG corpora (TUAB, TUEV).

TUH EDF files hold referential channels named ``EEG FP1-REF`` (or ``-LE``) plus non-EEG
channels (``EEG EKG1-REF``, ``PHOTIC-REF``, ``IBI``, ``BURSTS``, ``SUPPR``...), often at other
sampling rates. :func:`read_tuh` reads only the ``EEG ...`` channels (so per-channel rate
validation applies to them), and :func:`tcp_signal` converts them to the 22-channel TCP
bipolar montage at the configured rate. File names start with the anonymized subject token
(``aaaaaaav_s004_t000.edf``, ``00010194_s001_t001.edf``, ``00002275_00000001.edf``): that
token is the patient id. The EDF patient and recording header fields are never read into
records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from climb.read.edf import read_edf
from climb.read.signal import Signal
from climb.read.standardize import EEG_DEFAULTS, standardize_eeg
from climb.record import Input, Record

NON_EEG = ("EKG", "ECG", "EMG", "PHOTIC", "IBI", "BURSTS", "SUPPR", "RESP", "LOC", "ROC")


def is_eeg_channel(label: str) -> bool:
    """True for TUH referential EEG electrode channels (``EEG FP1-REF``, ``EEG T3-LE``)."""
    text = label.strip().upper()
    return text.startswith("EEG ") and not any(tag in text for tag in NON_EEG)


def subject_of(path: str | Path) -> str:
    """The anonymized subject token that starts a TUH file name."""
    return Path(path).name.split("_")[0]


def read_tuh(path: Path) -> Signal:
    """The EEG electrode channels of one TUH EDF file."""
    return read_edf(path, channels=is_eeg_channel)


def tcp_signal(path: Path, source: str, config: dict[str, Any]) -> Signal:
    """Read a TUH EDF file and standardize it (TCP montage by default, uV, 200 Hz)."""
    cfg = {k: config[k] for k in EEG_DEFAULTS if k in config}
    cfg.setdefault("montage", "tcp")
    return standardize_eeg(read_tuh(path), source, cfg)


def signal_meta(sig: Signal, source: str) -> dict[str, Any]:
    """Whitelisted record meta of a standardized TUH signal."""
    return {
        "site": "Temple University Hospital",
        "source_file": source,
        "quality": sig.meta["quality"],
        "fs_native": sig.meta["fs_native"],
        "channels_native": sig.meta["channels_native"],
        "channels_unknown": sig.meta["channels_unknown"],
    }


def window_record(dataset: str, item: Any, sig: Signal, data: Any, sample_id: str,
                  labels: dict[str, Any], meta: dict[str, Any]) -> Record:
    """The validated record of one EEG window of a TUH-layout item (TUAB, TUEV)."""
    return Record(
        sample_id=sample_id,
        dataset=dataset,
        modality="eeg",
        patient_id=item.info["patient_id"],
        study_id=item.key,
        split=item.info["split"],
        inputs={"eeg": Input(data=data, sampling_rate=sig.fs, channels=sig.channels, units="uV")},
        labels=labels,
        meta=meta,
    ).validate()
