"""demo_ptb_ecg: PTB Diagnostic ECG record s0010_re in 10-s 12-lead windows (bundled).

The record's 12 standard leads (the Frank leads vx/vy/vz are dropped) are cut into
non-overlapping ``window_s`` windows; the task ``mi`` comes from the header comment
"Reason for admission". Only age bucket and sex leave the header: its dates, medications and
free text are never copied into the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.signal import cut
from climb.read.wfdb import read_wfdb
from climb.record import Input, Record, age_bucket, normalize_sex

LEADS = ["i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"]
CHANNELS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def header_fields(comments: list[str]) -> dict[str, str]:
    """``{key: value}`` of the ``key: value`` header comment lines (lower-case keys)."""
    out = {}
    for line in comments:
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


class PtbEcgAdapter(Adapter):
    name = "demo_ptb_ecg"
    # record -> PTB patient folder (the official layout is patientNNN/sNNNNxre)
    default_config = {"records": {"s0010_re": "patient001"}, "window_s": 10.0}

    def items(self, raw_dir: Path) -> list[Item]:
        items = []
        for record, patient in self.config["records"].items():
            header = Path(raw_dir) / f"{record}.hea"
            if not header.exists():
                raise RecordError(header, "PTB header not found")
            items.append(Item(source=record, key=record, info={"patient": patient}))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        signal = read_wfdb(Path(raw_dir) / item.source)
        names = [c.lower() for c in signal.channels]
        missing = [lead for lead in LEADS if lead not in names]
        if missing:
            raise RecordError(f"{item.source}.hea", f"missing standard leads {missing}")
        rows = [names.index(lead) for lead in LEADS]
        data = signal.data[rows]
        fields = header_fields(signal.comments)
        reason = fields.get("reason for admission")
        if reason is None:
            raise RecordError(f"{item.source}.hea", "no 'Reason for admission' header comment")
        label = self.mapper("mi").multiclass(reason)
        window = round(self.config["window_s"] * signal.fs)
        meta = {
            "age_bucket": age_bucket(fields.get("age")),
            "sex": normalize_sex(fields.get("sex")),
            "source_file": item.source,
            "fs_native": signal.fs,
            "lead_set": "12-lead",
            "window_s": window / signal.fs,
        }
        for i in range(data.shape[1] // window):
            yield Record(
                sample_id=f"{item.key}-w{i}",
                dataset=self.name,
                modality="ecg",
                patient_id=f"ptb-{item.info['patient']}",
                study_id=item.key,
                inputs={
                    "ecg": Input(
                        data=cut(signal, i * window, (i + 1) * window, rows),
                        sampling_rate=signal.fs,
                        channels=list(CHANNELS),
                        units=signal.units[rows[0]],
                    )
                },
                labels={"mi": label},
                meta={**meta, "window_start_s": i * window / signal.fs},
            ).validate()


ADAPTER = PtbEcgAdapter
