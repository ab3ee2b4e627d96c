"""demo_mitbih_beats: heartbeats of MIT-BIH Arrhythmia record 100 (bundled).

Each beat annotation of ``100.atr`` whose symbol the mapping table maps to a class (N ->
normal, other beat symbols -> abnormal; rhythm/quality annotations are null and skipped) gives
one record: the 2-lead window ``before_s`` before to ``after_s`` after the R peak (input
``ecg``) and the beat's RR-interval features (input ``tabular``: previous RR, next RR, mean of
the last ``local_beats`` RR intervals, in seconds). Beats without a previous and a next beat,
or whose window leaves the record, are skipped.

The split is by time (one patient): R peaks in the first ``val_start_min`` minutes -> train,
up to ``test_start_min`` -> val, the rest -> test.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import wfdb

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.signal import cut
from climb.read.standardize import safe_channel_names
from climb.read.wfdb import read_wfdb
from climb.record import Input, Record, age_bucket, normalize_sex

PATIENT_ID = "mitbih-100"
RR_FEATURES = ["rr_prev_s", "rr_next_s", "rr_local_mean_s"]


def header_age_sex(comments: list[str]) -> tuple[str | None, str | None]:
    """Age bucket and sex from a MIT-BIH header comment such as ``69 M 1085 1629 x1``."""
    for line in comments:
        words = line.split()
        if len(words) >= 2 and words[0].isdigit() and words[1].upper() in {"M", "F"}:
            return age_bucket(int(words[0])), normalize_sex(words[1])
    return None, None


def rr_features(peaks: np.ndarray, fs: float, local_beats: int) -> np.ndarray:
    """float32 [n_beats, 3]: previous RR, next RR, mean of the last ``local_beats`` RRs (s).

    Entries that do not exist (first beat's previous RR, last beat's next RR) are NaN.
    """
    rr = np.diff(peaks.astype(np.float64)) / fs
    n = peaks.size
    out = np.full((n, 3), np.nan, dtype=np.float32)
    out[1:, 0] = rr
    out[:-1, 1] = rr
    for i in range(1, n):
        out[i, 2] = rr[max(0, i - local_beats) : i].mean()
    return out


class MitbihBeatsAdapter(Adapter):
    name = "demo_mitbih_beats"
    default_config = {
        "record": "100",
        "before_s": 0.25,
        "after_s": 0.45,
        "val_start_min": 16.0,
        "test_start_min": 20.0,
        "local_beats": 10,
    }

    def items(self, raw_dir: Path) -> list[Item]:
        record = self.config["record"]
        header = Path(raw_dir) / f"{record}.hea"
        if not header.exists():
            raise RecordError(header, "MIT-BIH header not found")
        return [Item(source=record, key=record)]

    def split_of(self, t_s: float) -> str:
        if t_s < 60.0 * self.config["val_start_min"]:
            return "train"
        if t_s < 60.0 * self.config["test_start_min"]:
            return "val"
        return "test"

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        base = Path(raw_dir) / item.source
        signal = read_wfdb(base)
        try:
            ann = wfdb.rdann(str(base), "atr")
        except Exception as err:
            raise RecordError(f"{base}.atr", f"cannot read annotations: {err}") from None
        mapper = self.mapper("beat")
        fs = signal.fs
        keep = [i for i, s in enumerate(ann.symbol) if mapper.targets(s)]
        peaks = np.asarray(ann.sample)[keep]
        symbols = [ann.symbol[i] for i in keep]
        rr = rr_features(peaks, fs, int(self.config["local_beats"]))
        before = round(self.config["before_s"] * fs)
        after = round(self.config["after_s"] * fs)
        age, sex = header_age_sex(signal.comments)
        n_samples = signal.data.shape[1]
        for peak, symbol, feats in zip(peaks, symbols, rr, strict=True):
            start, stop = int(peak) - before, int(peak) + after
            if start < 0 or stop > n_samples or np.isnan(feats).any():
                continue
            yield Record(
                sample_id=f"{item.key}-{int(peak):07d}",
                dataset=self.name,
                modality="ecg",
                patient_id=PATIENT_ID,
                study_id=item.key,
                inputs={
                    "ecg": Input(
                        data=cut(signal, start, stop),  # + its digital samples
                        sampling_rate=fs,
                        channels=safe_channel_names(signal.channels, "ecg"),
                        units=signal.units[0],
                    ),
                    "tabular": Input(data=feats.copy(), channels=list(RR_FEATURES), units="s"),
                },
                labels={"beat": mapper.multiclass(symbol)},
                split=self.split_of(peak / fs),
                meta={
                    "age_bucket": age,
                    "sex": sex,
                    "event": symbol,
                    "window_start_s": start / fs,
                    "window_s": (stop - start) / fs,
                    "source_file": item.source,
                    "fs_native": fs,
                },
            ).validate()


ADAPTER = MitbihBeatsAdapter
