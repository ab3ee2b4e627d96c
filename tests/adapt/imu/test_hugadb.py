"""HuGaDB adapter on its fixture: windows, labels, units, participants, bad files."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from tests.fixtures import hugadb as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return fixture.build(tmp_path_factory.mktemp("hugadb"))


def _expected() -> Counter:
    """Single-activity 118-sample windows per class, computed from the fixture's plan."""
    classes = ["walking", "running", "going_up", "going_down"]
    counts: Counter = Counter()
    for _, _, _, segments in fixture.FILES:
        act = np.concatenate([np.full(n, a) for a, n in segments])
        for w in range(act.size // 118):
            ids = set(act[w * 118 : (w + 1) * 118])
            if len(ids) == 1 and fixture.NAMES[ids.pop()] in classes:
                counts[classes.index(fixture.NAMES[int(act[w * 118])])] += 1
    return counts


def test_windows_and_labels(raw):
    adapter = get_adapter("hugadb")
    records = list(adapter.records(raw))
    assert Counter(r.labels["activity"] for r in records) == _expected()
    assert {r.patient_id for r in records} == {f"hugadb-{p:02d}" for p in (1, 2, 3, 5, 6)}
    assert all(r.split is None for r in records)
    rec = records[0]
    imu = rec.inputs["imu"]
    assert imu.shape == (38, 118) and imu.data.dtype == np.float32
    assert imu.sampling_rate == 58.8 and imu.channels[0] == "acc_rf_x"
    # acc converted from int16 counts to g, gyro to deg/s, EMG untouched
    table = np.genfromtxt(raw / rec.meta["source_file"], delimiter="\t", skip_header=4)
    np.testing.assert_allclose(imu.data[0], table[:118, 0] * 2 / 32768, rtol=1e-6)
    np.testing.assert_allclose(imu.data[3], table[:118, 3] * 2000 / 32768, rtol=1e-6)
    np.testing.assert_array_equal(imu.data[36], table[:118, 36])


def test_bad_file(raw, tmp_path):
    adapter = get_adapter("hugadb")
    src = raw / "HuGaDB_v2_walking_01_00.txt"
    bad = tmp_path / "HuGaDB_v2_walking_07_00.txt"
    lines = src.read_text().splitlines()
    lines[10] = "\t".join(lines[10].split("\t")[:20])  # a ragged row
    bad.write_text("\n".join(lines) + "\n")
    (item,) = adapter.items(tmp_path)
    with pytest.raises(RecordError) as err:
        list(adapter.load(tmp_path, item))
    assert "HuGaDB_v2_walking_07_00.txt" in str(err.value)
    assert "line 11: missing values" in err.value.problem
