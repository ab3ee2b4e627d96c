"""IIIC adapter on an HMS-layout fixture (train.csv + parquet EEG of real signals)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.adapt.eeg.iiic import majority
from climb.catalog import load_catalog
from climb.errors import RecordError
from climb.record import META_WHITELIST
from tests.fixtures import iiic as fixture

# label_id -> (patient, class index in Other Seizure LPD GPD LRDA GRDA, eeg_id, offset s)
EXPECTED = {
    "127492639": ("42516", 1, 1628180742, 0.0),  # 3 seizure votes
    "3887563113": ("42516", 2, 1628180742, 6.0),  # LPD/GPD tie, consensus LPD
    "1142670488": ("42516", 0, 1628180742, 10.0),  # other 2 vs grda 1
    "2413091380": ("30539", -1, 2277392603, 0.0),  # LRDA/GRDA tie, consensus Other: missing
    "1978807404": ("30539", 3, 2277392603, 6.0),  # GPD
    "664382320": ("5955", 5, 722738444, 0.0),  # GRDA
}


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("iiic"))


def test_labels_patients_and_windows(raw):
    assert has_adapter(load_catalog().get("iiic"))
    records = {r.sample_id: r for r in get_adapter("iiic").records(raw)}
    assert sorted(records) == sorted(EXPECTED)
    for label_id, (patient, label, eeg_id, offset) in EXPECTED.items():
        rec = records[label_id]
        assert rec.patient_id == patient and rec.labels["pattern"] == label and rec.split is None
        assert rec.study_id == str(eeg_id) and set(rec.meta) <= META_WHITELIST
        frame = pd.read_parquet(raw / "train_eegs" / f"{eeg_id}.parquet")
        a = int((offset + 20) * 200)  # the central 10 s of the 50-s segment
        expected = frame[fixture.CHANNELS].to_numpy(np.float32)[a : a + 2000].T
        eeg = rec.inputs["eeg"]
        assert eeg.shape == (19, 2000) and eeg.sampling_rate == 200.0 and eeg.channels[0] == "FP1"
        np.testing.assert_allclose(eeg.data, expected, atol=1e-4)


def test_majority_rule():
    votes = {"seizure": 0, "lpd": 2, "gpd": 2, "lrda": 0, "grda": 0, "other": 1}
    assert majority(votes, "GPD") == "gpd" and majority(votes, "Other") is None
    assert majority(dict.fromkeys(votes, 0), "Other") is None


def test_nan_channel_and_corrupt_file(raw, tmp_path):
    dst = tmp_path / "iiic"
    shutil.copytree(raw, dst)
    path = dst / "train_eegs" / "722738444.parquet"
    frame = pd.read_parquet(path)
    frame["Cz"] = np.nan
    frame.to_parquet(path, index=False)
    adapter = get_adapter("iiic")
    items = {i.key: i for i in adapter.items(dst)}
    (rec,) = adapter.load(dst, items["722738444"])
    assert rec.meta["quality"]["missing"] == ["CZ"] and rec.meta["quality"]["nan"] == ["CZ"]
    assert not rec.inputs["eeg"].data[rec.inputs["eeg"].channels.index("CZ")].any()
    strict = get_adapter("iiic", config={"missing_channel": "error"})
    with pytest.raises(RecordError, match=r"missing or all-NaN channels \['CZ'\]") as err:
        list(strict.load(dst, items["722738444"]))
    assert err.value.path == "train_eegs/722738444.parquet"
    corrupt = dst / "train_eegs" / "2277392603.parquet"
    corrupt.write_bytes(corrupt.read_bytes()[:200])
    with pytest.raises(RecordError, match="unreadable parquet") as err:
        list(adapter.load(dst, items["2277392603"]))
    assert err.value.path.endswith("2277392603.parquet")
