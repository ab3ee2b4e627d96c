"""A small WFDB dataset used by the store/load tests (not a catalog dataset).

Layout (written by ``tests/store/synthetic.py``)::

    RAW/labels.csv          record,patient_id,rhythm,beats,fold
    RAW/records/<record>.hea/.dat   WFDB format 16 (cut from MIT-BIH record 100)

``rhythm`` is a multiclass label (blank = missing), ``beats`` a ``;``-separated list of
beat symbols (multilabel), ``fold`` an optional official split (train/val/test). A record
whose signal file is truncated raises :class:`climb.errors.RecordError`, naming the file.
It is registered through a catalog overlay entry with ``adapter: testing.synthetic``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.testing import labels_csv_items
from climb.read.standardize import safe_channel_names
from climb.read.wfdb import read_wfdb
from climb.record import Input, Record


class SyntheticECG(Adapter):
    name = "synthetic_ecg"
    default_config = {"use_official_split": True}

    def items(self, raw_dir: Path) -> list[Item]:
        return labels_csv_items(raw_dir, "records/{record}")

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        signal = read_wfdb(Path(raw_dir) / item.source)
        info = item.info
        rhythm = self.mapper("rhythm").multiclass(info["rhythm"] or None)
        beats = [b for b in (info.get("beats") or "").split(";") if b]
        fold = info.get("fold") or None
        yield Record(
            sample_id=item.key,
            dataset=self.entry.name,
            modality="ecg",
            inputs={
                "ecg": Input(
                    signal.data,
                    sampling_rate=signal.fs,
                    channels=safe_channel_names(signal.channels, "ecg"),
                )
            },
            labels={
                "rhythm": rhythm,
                "beats": self.mapper("beats").multilabel_from_positives(beats),
            },
            patient_id=info.get("patient_id") or None,
            split=fold if self.config["use_official_split"] else None,
            meta={"source_file": item.source, "fs_native": signal.fs},
        )


ADAPTER = SyntheticECG
