"""IIIC patterns, as released for the Kaggle competition "HMS - Harmful Brain Activity
Classification" (Jing et al. 2023 data; 17,089 EEGs of 1,950 ICU patients).

Layout (the competition archive, extracted)::

    train.csv              one row per expert-labelled 50-s segment: eeg_id, eeg_sub_id,
                           eeg_label_offset_seconds, ..., label_id, patient_id,
                           expert_consensus, seizure_vote, lpd_vote, gpd_vote, lrda_vote,
                           grda_vote, other_vote
    train_eegs/<eeg_id>.parquet   the consolidated EEG: columns Fp1 ... O2 (19 channels of
                           the 10-20 system) + EKG, one row per sample at 200 Hz, in uV

Experts labelled the central 10 s of each 50-s segment; a record is that central window
(``window_s`` 10 s, centred 25 s after ``eeg_label_offset_seconds``) of the 19 EEG channels
(uV, 200 Hz). Task ``pattern``: the majority of the six vote counts; a tie is resolved by
``expert_consensus`` when it is one of the tied classes, else the label is missing (-1). The
competition's test set is hidden, so there is no official split (``split`` None);
``patient_id`` comes from train.csv. One item per EEG file, so each parquet is read once.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.errors import LabelMappingError, RecordError
from climb.read.signal import Signal
from climb.read.standardize import EEG_DEFAULTS, standardize_eeg, window_at
from climb.record import Input, Record

EEG_CHANNELS = [
    "Fp1", "F3", "C3", "P3", "F7", "T3", "T5", "O1", "Fz", "Cz", "Pz", "Fp2", "F4", "C4", "P4",
    "F8", "T4", "T6", "O2",
]  # fmt: skip
VOTES = ["seizure", "lpd", "gpd", "lrda", "grda", "other"]
FS = 200.0


def read_hms_eeg(path: Path) -> Signal:
    """One ``train_eegs/<eeg_id>.parquet`` as a Signal (19 EEG channels + EKG, uV, 200 Hz)."""
    if not path.exists():
        raise RecordError(path, "EEG parquet file not found")
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for corrupt files
        raise RecordError(path, f"unreadable parquet: {type(err).__name__}: {err}") from None
    missing = [c for c in EEG_CHANNELS if c not in frame.columns]
    if missing:
        raise RecordError(path, f"EEG columns missing: {missing}")
    columns = [*EEG_CHANNELS, *(["EKG"] if "EKG" in frame.columns else [])]
    data = frame[columns].to_numpy(dtype=np.float32).T
    return Signal(
        data=np.ascontiguousarray(data),
        fs=FS,
        channels=columns,
        units=["uV"] * len(columns),
        meta={"format": "parquet", "duration_s": data.shape[1] / FS},
    )


def majority(votes: dict[str, float], consensus: str | None) -> str | None:
    """The class with most votes; ties go to ``consensus`` if it is tied, else None."""
    top = max(votes.values())
    if top <= 0:
        return None
    tied = [name for name, count in votes.items() if count == top]
    if len(tied) == 1:
        return tied[0]
    wanted = (consensus or "").strip().lower()
    return wanted if wanted in tied else None


class IiicAdapter(Adapter):
    name = "iiic"
    default_config = {
        "fs": 200.0,
        "window_s": 10.0,
        "segment_s": 50.0,
        "missing_channel": "zero",
        "channels": [c.upper() for c in EEG_CHANNELS],
    }

    def items(self, raw_dir: Path) -> list[Item]:
        table = Path(raw_dir) / "train.csv"
        if not table.exists():
            raise RecordError(table, "train.csv not found")
        frame = pd.read_csv(table)
        needed = ["eeg_id", "eeg_label_offset_seconds", "label_id", "patient_id"]
        absent = [c for c in needed + [f"{v}_vote" for v in VOTES] if c not in frame.columns]
        if absent:
            raise RecordError(table, f"columns missing: {absent}")
        items = []
        for eeg_id, rows in frame.groupby("eeg_id", sort=True):
            segments = []
            for row in rows.itertuples(index=False):
                segments.append(
                    {
                        "label_id": str(row.label_id),
                        "offset_s": float(row.eeg_label_offset_seconds),
                        "votes": {v: float(getattr(row, f"{v}_vote")) for v in VOTES},
                        "consensus": getattr(row, "expert_consensus", None),
                    }
                )
            items.append(
                Item(
                    source=f"train_eegs/{eeg_id}.parquet",
                    key=str(eeg_id),
                    info={"patient_id": str(rows["patient_id"].iloc[0]), "segments": segments},
                )
            )
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        mapper = self.mapper("pattern")
        labels = {}
        try:
            for seg in item.info["segments"]:
                native = majority(seg["votes"], seg["consensus"])
                labels[seg["label_id"]] = -1 if native is None else mapper.multiclass(native)
        except LabelMappingError as err:
            raise RecordError(item.source, str(err)) from None
        raw = read_hms_eeg(Path(raw_dir) / item.source)
        cfg = {k: self.config[k] for k in EEG_DEFAULTS if k in self.config}
        sig = standardize_eeg(raw, item.source, cfg)
        window_s = float(self.config["window_s"])
        half = float(self.config["segment_s"]) / 2
        for seg in item.info["segments"]:
            centre = seg["offset_s"] + half
            if centre + window_s / 2 > sig.duration_s + 1e-6:
                raise RecordError(
                    item.source,
                    f"segment {seg['label_id']} ends at {centre + window_s / 2:g} s, past the "
                    f"recording's {sig.duration_s:g} s",
                )
            start, data = window_at(sig, centre, window_s)
            yield Record(
                sample_id=seg["label_id"],
                dataset=self.name,
                modality="eeg",
                patient_id=item.info["patient_id"],
                study_id=item.key,
                split=None,
                inputs={
                    "eeg": Input(data=data, sampling_rate=sig.fs, channels=sig.channels, units="uV")
                },
                labels={"pattern": labels[seg["label_id"]]},
                meta={
                    "source_file": item.source,
                    "quality": sig.meta["quality"],
                    "fs_native": sig.meta["fs_native"],
                    "channels_native": sig.meta["channels_native"],
                    "channels_unknown": sig.meta["channels_unknown"],
                    "window_start_s": start,
                    "window_s": window_s,
                },
            ).validate()


ADAPTER = IiicAdapter
