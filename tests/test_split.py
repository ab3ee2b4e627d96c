"""climb.split: official splits kept, deterministic patient-level hashing otherwise."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from climb.errors import ClimbError
from climb.record import Input, Record
from climb.split import (
    SplitConfig,
    assign_split,
    hashed_split,
    official_conflicts,
    read_splits_csv,
    write_splits_csv,
)


def _record(sid: str, patient: str | None = None, study: str | None = None,
            split: str | None = None) -> Record:
    return Record(sample_id=sid, dataset="d", modality="ecg",
                  inputs={"ecg": Input(np.zeros((1, 4), np.float32))}, labels={},
                  patient_id=patient, study_id=study, split=split)


def test_ratios_are_respected_and_deterministic():
    cfg = SplitConfig(seed=0, ratios=(0.8, 0.1, 0.1))
    splits = [hashed_split(f"patient:{i}", cfg) for i in range(20000)]
    counts = Counter(splits)
    assert abs(counts["train"] / 20000 - 0.8) < 0.02
    assert abs(counts["val"] / 20000 - 0.1) < 0.02
    assert abs(counts["test"] / 20000 - 0.1) < 0.02
    assert splits == [hashed_split(f"patient:{i}", cfg) for i in range(20000)]


def test_seed_changes_the_split():
    a = [hashed_split(f"p{i}", SplitConfig(seed=0)) for i in range(500)]
    b = [hashed_split(f"p{i}", SplitConfig(seed=1)) for i in range(500)]
    assert a != b


def test_stable_when_records_are_added():
    cfg = SplitConfig()
    before = {f"p{i}": assign_split(_record(f"s{i}", f"p{i}"), cfg) for i in range(300)}
    more = [_record(f"s{i}", f"p{i}") for i in range(1000)]
    after = {r.patient_id: assign_split(r, cfg) for r in more}
    assert all(after[p] == s for p, s in before.items())


def test_a_patient_never_straddles_splits():
    cfg = SplitConfig()
    records = [_record(f"s{i}", f"p{i % 37}") for i in range(1000)]
    by_patient: dict[str, set[str]] = {}
    for r in records:
        by_patient.setdefault(r.patient_id, set()).add(assign_split(r, cfg))
    assert all(len(s) == 1 for s in by_patient.values())
    assert len({s for v in by_patient.values() for s in v}) == 3


def test_grouping_falls_back_to_study_then_sample():
    cfg = SplitConfig()
    lesion = {assign_split(_record(f"img{i}", study="lesion7"), cfg) for i in range(50)}
    assert len(lesion) == 1
    samples = {assign_split(_record(f"img{i}"), cfg) for i in range(200)}
    assert samples == {"train", "val", "test"}


def test_official_split_is_kept_and_validated():
    assert assign_split(_record("a", "p1", split="test")) == "test"
    with pytest.raises(ClimbError):
        assign_split(_record("a", "p1", split="holdout"))


def test_official_conflicts_reports_patients_in_two_splits():
    rows = [("p1", "train"), ("p1", "test"), ("p2", "val"), ("p2", "val"), (None, "train")]
    assert official_conflicts(rows) == {"p1": ["test", "train"]}


def test_bad_ratios_are_rejected():
    with pytest.raises(ClimbError):
        SplitConfig(ratios=(0.5, 0.1, 0.1))
    assert SplitConfig.from_config({"split_ratios": "0.6,0.2,0.2"}).ratios == (0.6, 0.2, 0.2)


def test_splits_csv_round_trip(tmp_path):
    path = tmp_path / "splits.csv"
    write_splits_csv(path, [("a", "p1", "train"), ("b", None, "test")])
    assert read_splits_csv(path) == {"a": ("p1", "train"), "b": ("", "test")}
    assert path.read_text().splitlines()[0] == "sample_id,patient_id,split"
