"""TUEV, the TUH EEG Events Corpus: six event classes in 5-s windows.

Layout: ``edf/{train,eval}/<subject>/<subject>_<nnnnnnnn>.edf`` with a ``.rec`` beside each
EDF. A ``.rec`` line is ``channel,start_s,stop_s,label``: the channel is an index into the TCP
montage (0 = FP1-F7 ... 21 = P4-O2), the label 1-6 = SPSW, GPED, PLED, EYEM, ARTF, BCKG.

Each event becomes one record: a ``window_s`` (5 s) window of the TCP-montage signal (uV,
200 Hz) centred on the event and shifted to stay inside the recording. The same event is
usually marked on several channels; identical (start, stop, label) rows are one record, whose
``meta["event"]`` lists the marked channels. Split: ``train`` -> train, ``eval`` -> test;
patient id: the subject token of the file name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.eeg.tuab import SPLITS, find_edf_root
from climb.adapt.eeg.tuh import signal_meta, subject_of, tcp_signal, window_record
from climb.errors import LabelMappingError, RecordError
from climb.read.standardize import TCP_NAMES, window_at
from climb.record import Record


def read_rec(path: Path) -> list[tuple[int, float, float, int]]:
    """Rows ``(channel, start_s, stop_s, label)`` of a TUEV ``.rec`` file."""
    if not path.exists():
        raise RecordError(path, "event annotation file (.rec) not found")
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            channel, start, stop, label = (
                int(parts[0]),
                float(parts[1]),
                float(parts[2]),
                int(float(parts[3])),
            )
        except (ValueError, IndexError):
            problem = f"line {lineno}: not 'channel,start,stop,label'"
            raise RecordError(path, problem) from None
        if not 0 <= channel < len(TCP_NAMES) or stop < start:
            raise RecordError(path, f"line {lineno}: channel out of range or stop before start")
        rows.append((channel, start, stop, label))
    return rows


class TuevAdapter(Adapter):
    name = "tuev"
    default_config = {"fs": 200.0, "montage": "tcp", "window_s": 5.0}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        edf_root = find_edf_root(raw_dir)
        items = []
        for split_dir, split in SPLITS.items():
            for path in sorted((edf_root / split_dir).rglob("*.edf")):
                items.append(
                    Item(
                        source=path.relative_to(raw_dir).as_posix(),
                        key=path.stem,
                        info={"split": split, "patient_id": subject_of(path)},
                    )
                )
        if not items:
            raise RecordError(edf_root, "no EDF files under edf/{train,eval}/")
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        edf = Path(raw_dir) / item.source
        rec_source = item.source[: -len(".edf")] + ".rec"
        events: dict[tuple[float, float, int], list[str]] = {}
        for channel, start, stop, label in read_rec(Path(raw_dir) / rec_source):
            events.setdefault((start, stop, label), []).append(TCP_NAMES[channel])
        mapper = self.mapper("event")
        try:
            labels = {key: mapper.multiclass(str(key[2])) for key in events}
        except LabelMappingError as err:
            raise RecordError(rec_source, str(err)) from None
        sig = tcp_signal(edf, item.source, self.config)
        window_s = float(self.config["window_s"])
        meta = signal_meta(sig, item.source)
        for (start, stop, native), channels in sorted(events.items()):
            if start >= sig.duration_s:
                raise RecordError(
                    rec_source,
                    f"event at {start} s is past the recording's end ({sig.duration_s} s)",
                )
            begin, data = window_at(sig, (start + stop) / 2, window_s)
            yield window_record(
                self.name, item, sig, data, f"{item.key}-{start:.1f}-{stop:.1f}-{native}",
                {"event": labels[(start, stop, native)]},
                {
                    **meta,
                    "window_start_s": begin,
                    "window_s": window_s,
                    "event": {"start_s": start, "stop_s": stop, "channels": channels},
                },
            )


ADAPTER = TuevAdapter
