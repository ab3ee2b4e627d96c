"""demo_eeg_eyes and demo_eeg_finger: official split, carved validation, shapes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from climb.adapt.base import get_adapter
from climb.demo_data import path


def _labels(ts_path):
    lines = ts_path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data")
    return [line.rsplit(":", 1)[1].strip() for line in lines[start + 1 :] if line.strip()]


@pytest.mark.parametrize(
    ("name", "problem", "classes", "shape", "fs"),
    [
        ("demo_eeg_eyes", "EyesOpenShut", ["0", "1"], (14, 128), 128.0),
        ("demo_eeg_finger", "FingerMovements", ["left", "right"], (28, 50), 100.0),
    ],
)
def test_uea_eeg(name, problem, classes, shape, fs):
    raw = path(name)
    records = list(get_adapter(name).records(raw))
    train = _labels(raw / problem / f"{problem}_TRAIN.ts")
    test = _labels(raw / problem / f"{problem}_TEST.ts")
    assert len(records) == len(train) + len(test)
    got = Counter((r.split, r.labels[next(iter(r.labels))]) for r in records)
    for k, cls in enumerate(classes):
        n_train = train.count(cls)
        n_val = round(0.2 * n_train)
        assert got[("test", k)] == test.count(cls)
        assert got[("val", k)] == n_val
        assert got[("train", k)] == n_train - n_val
    # validation = the last cases of each class in TRAIN file order
    by_id = {r.sample_id: r for r in records}
    last_of_class0 = max(i for i, lab in enumerate(train) if lab == classes[0])
    assert by_id[f"{problem}-train-{last_of_class0:04d}"].split == "val"
    first_of_class0 = train.index(classes[0])
    assert by_id[f"{problem}-train-{first_of_class0:04d}"].split == "train"
    eeg = records[0].inputs["eeg"]
    assert eeg.shape == shape and eeg.sampling_rate == fs and eeg.data.dtype == np.float32
    assert len(eeg.channels) == shape[0]
    assert len({r.patient_id for r in records}) == 1
