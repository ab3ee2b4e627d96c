"""Shared adapter for UEA/aeon ``.ts`` EEG classification problems (bundled demo sets).

Layout: ``<Problem>/<Problem>_TRAIN.ts`` and ``<Problem>_TEST.ts`` (the official split).
Validation is carved from TRAIN deterministically: the last ``val_fraction`` of the cases of
each class, in file order (the problems were built from time-ordered recordings, and their
TEST sets are likewise the last cases of each class).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.ts import TsData, read_ts
from climb.record import Input, Record


def carve_val(labels: list[str | None], fraction: float) -> set[int]:
    """Indices of the last ``round(fraction * n_c)`` cases of each class c (in file order)."""
    val: set[int] = set()
    for cls in sorted({lab for lab in labels if lab is not None}):
        idx = [i for i, lab in enumerate(labels) if lab == cls]
        n_val = round(fraction * len(idx))
        val.update(idx[len(idx) - n_val :])
    return val


class UeaEegAdapter(Adapter):
    """Subclasses set ``name``, ``problem``, ``task``, ``fs``, ``channel_names``, ``subject``."""

    problem: ClassVar[str]
    task: ClassVar[str]
    fs: ClassVar[float]
    channel_names: ClassVar[list[str]]
    subject: ClassVar[str]
    units: ClassVar[str] = "uV"
    default_config = {"val_fraction": 0.2}

    def items(self, raw_dir: Path) -> list[Item]:
        items = []
        for part in ("TRAIN", "TEST"):
            rel = f"{self.problem}/{self.problem}_{part}.ts"
            if not (Path(raw_dir) / rel).exists():
                raise RecordError(Path(raw_dir) / rel, f"official {part} file not found")
            items.append(Item(source=rel, key=part.lower()))
        return items

    def _check(self, path: Path, ts: TsData) -> None:
        dims = ts.cases[0].shape[0]
        if dims != len(self.channel_names):
            raise RecordError(path, f"{dims} dimensions, expected {len(self.channel_names)}")

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        path = Path(raw_dir) / item.source
        ts = read_ts(path)
        self._check(path, ts)
        mapper = self.mapper(self.task)
        val = carve_val(ts.labels, self.config["val_fraction"]) if item.key == "train" else set()
        for i, (case, label) in enumerate(zip(ts.cases, ts.labels, strict=True)):
            split = "test" if item.key == "test" else ("val" if i in val else "train")
            yield Record(
                sample_id=f"{self.problem}-{item.key}-{i:04d}",
                dataset=self.name,
                modality="eeg",
                patient_id=self.subject,
                inputs={
                    "eeg": Input(
                        data=case,
                        sampling_rate=self.fs,
                        channels=list(self.channel_names),
                        units=self.units,
                    )
                },
                labels={self.task: mapper.multiclass(label)},
                split=split,
                meta={
                    "source_file": item.source,
                    "window_s": case.shape[1] / self.fs,
                    "fs_native": self.fs,
                },
            ).validate()
