"""TUEV adapter on a fixture of real EEG in TUH-style EDF files with .rec event files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.adapt.eeg.tuh import tcp_signal
from climb.catalog import load_catalog
from climb.errors import RecordError
from tests.fixtures import tuev as fixture

# sample id -> (split, patient, class index in SPSW GPED PLED EYEM ARTF BCKG, window start s)
# windows are 5 s centred on the 1-s event, shifted inside the 20-s recording
EXPECTED = {
    "aaaaaaar_00000001-0.5-1.5-1": ("train", "aaaaaaar", 0, 0.0),  # centre 1.0 -> clipped
    "aaaaaaar_00000001-4.0-5.0-6": ("train", "aaaaaaar", 5, 2.0),
    "aaaaaaar_00000001-9.0-10.0-4": ("train", "aaaaaaar", 3, 7.0),
    "aaaaaaar_00000002-11.0-12.0-2": ("train", "aaaaaaar", 1, 9.0),
    "aaaaaaar_00000002-18.5-19.5-5": ("train", "aaaaaaar", 4, 15.0),  # clipped at the end
    "aaaaaake_00000001-6.0-7.0-3": ("test", "aaaaaake", 2, 4.0),
}


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("tuev"))


def test_events(raw):
    assert has_adapter(load_catalog().get("tuev"))
    records = {r.sample_id: r for r in get_adapter("tuev").records(raw)}
    got = {
        k: (r.split, r.patient_id, r.labels["event"], r.meta["window_start_s"])
        for k, r in records.items()
    }
    assert got == EXPECTED
    gped = records["aaaaaaar_00000002-11.0-12.0-2"]
    assert gped.meta["event"]["channels"] == ["C3-CZ", "CZ-C4", "C4-T4"]  # 3 lines, 1 record
    edf = raw / "v2.0.1/edf/train/aaaaaaar/aaaaaaar_00000002.edf"
    full = tcp_signal(edf, "x", {})
    assert gped.inputs["eeg"].shape == (22, 1000) and gped.inputs["eeg"].sampling_rate == 200.0
    np.testing.assert_array_equal(gped.inputs["eeg"].data, full.data[:, 1800:2800])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x,1.0,2.0", "line 2: not 'channel,start,stop,label'"),
        ("40,1.0,2.0,6", "line 2: channel out of range or stop before start"),
        ("3,1.0,2.0,7", "'7' has no entry"),
        ("3,25.0,26.0,6", "past the recording's end"),
    ],
)
def test_bad_rec_files(raw, tmp_path, line, message):
    dst = tmp_path / "tuev"
    shutil.copytree(raw, dst)
    rec = dst / "v2.0.1/edf/eval/aaaaaake/aaaaaake_00000001.rec"
    rec.write_text(rec.read_text() + line + "\n")
    adapter = get_adapter("tuev")
    item = next(i for i in adapter.items(dst) if i.key == "aaaaaake_00000001")
    with pytest.raises(RecordError, match=message) as err:
        list(adapter.load(dst, item))
    assert err.value.path.endswith("aaaaaake_00000001.rec")


def test_missing_rec_file(raw, tmp_path):
    dst = tmp_path / "tuev"
    shutil.copytree(raw, dst)
    (dst / "v2.0.1/edf/eval/aaaaaake/aaaaaake_00000001.rec").unlink()
    adapter = get_adapter("tuev")
    item = next(i for i in adapter.items(dst) if i.key == "aaaaaake_00000001")
    with pytest.raises(RecordError, match=r"\.rec\) not found"):
        list(adapter.load(dst, item))
