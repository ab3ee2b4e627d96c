"""HuGaDB: human gait database, 6 IMUs + 2 EMG on the legs (github.com/romanchereshnev/HuGaDB).

Layout: ``HuGaDB_v2_<activity>_<participant>_<counter>.txt``; each file has three header
lines (``#Activity``, ``#ActivityID``, ``#Date``), one tab-separated column-name line, then
39 tab-separated columns per sample: acc/gyro x, y, z of the right foot, shin, thigh and left
foot, shin, thigh (``acc_rf_x`` ... ``gyro_lt_z``), ``EMG_r``, ``EMG_l`` and ``act`` (the
activity ID of that sample; "various" files hold several activities).

Each file is cut into non-overlapping ``window_s`` windows; a window whose samples all carry
one activity that the mapping table maps to a class (walking, running, going up, going down)
becomes one record; windows spanning a change of activity, or of a dropped activity, are
skipped. The 36 inertial channels are converted from int16 counts to g (+-2 g range) and
deg/s (+-2000 deg/s range) as the README specifies; EMG stays in uint8 counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.table import read_signal_table
from climb.record import Input, Record

FILE_RE = re.compile(r"^HuGaDB_v(\d+)_([a-z_]+?)_(\d+)_(\d+)\.txt$")
SENSORS = ["rf", "rs", "rt", "lf", "ls", "lt"]
COLUMNS = [f"{kind}_{s}_{axis}" for s in SENSORS for kind in ("acc", "gyro") for axis in "xyz"] + [
    "EMG_r",
    "EMG_l",
    "act",
]
# Table 1 of the HuGaDB README: activity ID -> name.
ACTIVITIES = {
    1: "walking", 2: "running", 3: "going_up", 4: "going_down", 5: "sitting",
    6: "sitting_down", 7: "standing_up", 8: "standing", 9: "bicycling",
    10: "up_by_elevator", 11: "down_by_elevator", 12: "sitting_in_car",
}  # fmt: skip
ACC_SCALE = 2.0 / 32768.0  # g per count
GYRO_SCALE = 2000.0 / 32768.0  # deg/s per count


class HugadbAdapter(Adapter):
    name = "hugadb"
    # The README gives no exact rate: 2,111,962 samples in 35,903 s is 58.8 Hz (nominal 60).
    default_config = {"fs": 58.8, "window_s": 2.0}

    def items(self, raw_dir: Path) -> list[Item]:
        items = []
        for path in sorted(Path(raw_dir).rglob("HuGaDB_v*_*.txt")):
            match = FILE_RE.match(path.name)
            if not match:
                continue
            _, activity, participant, counter = match.groups()
            rel = path.relative_to(raw_dir).as_posix()
            info = {"participant": int(participant), "activity": activity, "counter": counter}
            items.append(Item(source=rel, key=path.stem, info=info))
        if not items:
            raise RecordError(raw_dir, "no HuGaDB_v*_<activity>_<participant>_<nr>.txt files")
        return items

    def _read(self, path: Path):
        with path.open(encoding="utf-8") as handle:
            head = [next(handle, "") for _ in range(3)]
        if not head[0].startswith("#Activity"):
            raise RecordError(path, "missing the '#Activity' header line")
        signal = read_signal_table(
            path, fs=self.config["fs"], time_column=None, sep="\t", skiprows=3
        )
        if signal.channels != COLUMNS:
            raise RecordError(path, f"columns {signal.channels[:4]}... are not HuGaDB's 39")
        return signal

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        path = Path(raw_dir) / item.source
        signal = self._read(path)
        data = signal.data[:-1].copy()
        act = signal.data[-1]
        if not np.all(act == np.round(act)):
            raise RecordError(path, "act column holds non-integer activity IDs")
        unknown = sorted({int(a) for a in np.unique(act)} - set(ACTIVITIES))
        if unknown:
            raise RecordError(path, f"unknown activity IDs {unknown}")
        for i, name in enumerate(signal.channels[:-1]):
            if name.startswith("acc_"):
                data[i] *= ACC_SCALE
            elif name.startswith("gyro_"):
                data[i] *= GYRO_SCALE
        mapper = self.mapper("activity")
        fs = signal.fs
        window = round(self.config["window_s"] * fs)
        participant = f"hugadb-{item.info['participant']:02d}"
        for w in range(data.shape[1] // window):
            start = w * window
            ids = np.unique(act[start : start + window])
            if ids.size != 1:
                continue  # the activity changes inside the window
            label = mapper.multiclass(ACTIVITIES[int(ids[0])])
            if label < 0:
                continue
            yield Record(
                sample_id=f"{item.key}-w{w:04d}",
                dataset=self.name,
                modality="imu",
                patient_id=participant,
                study_id=item.key,
                inputs={
                    "imu": Input(
                        data=np.ascontiguousarray(data[:, start : start + window]),
                        sampling_rate=fs,
                        channels=list(signal.channels[:-1]),
                        units="acc: g, gyro: deg/s, EMG: counts",
                    )
                },
                labels={"activity": label},
                meta={
                    "source_file": item.source,
                    "window_start_s": start / fs,
                    "window_s": window / fs,
                    "event": ACTIVITIES[int(ids[0])],
                },
            ).validate()


ADAPTER = HugadbAdapter
