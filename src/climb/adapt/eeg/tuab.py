"""TUAB, the TUH Abnormal EEG Corpus: clinically normal vs abnormal EEG sessions.

Layout (v2.0.0 nests patient/session folders below ``01_tcp_ar/``; v3 keeps the files flat)::

    edf/{train,eval}/{normal,abnormal}/01_tcp_ar/.../<subject>_s<session>_t<token>.edf

Each file is read through :mod:`climb.adapt.eeg.tuh` (EEG channels, TCP montage, uV, 200 Hz)
and cut into non-overlapping 10-s windows (``window_s``; a shorter tail is dropped); every
window carries its file's label. Split: the official ``train`` -> train, ``eval`` -> test
(patients are disjoint across the two); the patient id is the subject token of the file name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.eeg.tuh import signal_meta, subject_of, tcp_signal, window_record
from climb.errors import LabelMappingError, RecordError
from climb.read.standardize import windows
from climb.record import Record

SPLITS = {"train": "train", "eval": "test"}
LABELS = ("normal", "abnormal")


def find_edf_root(raw_dir: Path) -> Path:
    """The ``edf/`` folder of the corpus: ``raw_dir/edf`` or ``raw_dir/<version>/edf``."""
    raw_dir = Path(raw_dir)
    for candidate in (raw_dir / "edf", *sorted(raw_dir.glob("*/edf"))):
        if candidate.is_dir():
            return candidate
    if raw_dir.name == "edf":
        return raw_dir
    raise RecordError(raw_dir / "edf", "TUH 'edf/' folder not found")


class TuabAdapter(Adapter):
    name = "tuab"
    default_config = {"fs": 200.0, "montage": "tcp", "window_s": 10.0, "windows": "all"}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        edf_root = find_edf_root(raw_dir)
        items = []
        for split_dir, split in SPLITS.items():
            for label in LABELS:
                folder = edf_root / split_dir / label
                for path in sorted(folder.rglob("*.edf")):
                    items.append(
                        Item(
                            source=path.relative_to(raw_dir).as_posix(),
                            key=path.stem,
                            info={"split": split, "label": label, "patient_id": subject_of(path)},
                        )
                    )
        if not items:
            raise RecordError(edf_root, "no EDF files under edf/{train,eval}/{normal,abnormal}/")
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        try:
            label = self.mapper("abnormal").multiclass(item.info["label"])
        except LabelMappingError as err:
            raise RecordError(item.source, str(err)) from None
        sig = tcp_signal(Path(raw_dir) / item.source, item.source, self.config)
        window_s = float(self.config["window_s"])
        meta = signal_meta(sig, item.source)
        for k, (start, data) in enumerate(windows(sig, window_s, self.config["windows"])):
            yield window_record(
                self.name, item, sig, data, f"{item.key}-w{k:04d}", {"abnormal": label},
                {**meta, "window_start_s": start, "window_s": window_s},
            )


ADAPTER = TuabAdapter
