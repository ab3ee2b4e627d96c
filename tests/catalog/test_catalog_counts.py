"""The catalog's ``samples.counts_are_records`` entries: their declared counts add up, and a
full `prepare` of a real adapter's fixture is checked against them (the synthetic-adapter cases
of the check itself are in tests/store/test_counts_check.py)."""

from __future__ import annotations

import json

import pytest
import yaml

from climb.adapt.base import has_adapter
from climb.catalog import load_catalog
from climb.record import SPLITS
from climb.store.prepare import CountsCheckError, prepare
from tests.fixtures import nih_chestxray14, pcam

pytestmark = pytest.mark.counts_check

CATALOG = load_catalog(use_env=False)
RECORDS = sorted(e.name for e in CATALOG if e.samples.counts_are_records)
# Entries whose counts are publisher units that the adapter does not turn into one record
# each: CBIS-DDSM counts abnormalities (a record is a mammogram), CMMD breasts (a record is an
# image), IIIC recordings and TUAB sessions (cut into windows), TUEV files (one record per
# annotated event).
NOT_RECORDS = ["cbis_ddsm", "cmmd", "iiic", "tuab", "tuev"]


def test_the_imaging_ecg_and_eeg_entries_declare_what_their_counts_are():
    assert len(RECORDS) >= 28
    assert {"nih_chestxray14", "pcam", "ptbxl", "demo_eeg_eyes", "vindr_mammo"} <= set(RECORDS)
    assert not set(NOT_RECORDS) & set(RECORDS)


@pytest.mark.parametrize("name", RECORDS)
def test_declared_splits_add_up_to_the_total(name):
    entry = CATALOG.get(name)
    samples = entry.samples
    assert has_adapter(entry), f"{name}: counts of records of an adapter that does not exist"
    given = [getattr(samples, s) for s in SPLITS if getattr(samples, s) is not None]
    if not given:
        return
    tolerance = 0.01 if samples.tolerance is None else samples.tolerance
    assert abs(sum(given) - samples.total) <= tolerance * samples.total, (
        f"{name}: splits {given} sum to {sum(given)}, total {samples.total}"
    )


def test_full_prepare_of_a_fixture_reports_the_difference(tmp_path):
    raw = pcam.build(tmp_path / "raw")
    with pytest.raises(CountsCheckError) as info:
        prepare("pcam", raw, tmp_path / "store", workers=1, progress=False)
    message = str(info.value)
    assert "total 12 of 327680 declared (-100.0%)" in message
    assert "train 6 of 262144 declared" in message and "val 3 of 32768" in message
    check = json.loads((tmp_path / "store" / "pcam" / "manifest.json").read_text())["counts_check"]
    assert check["ok"] is False and check["tolerance"] == 0.01
    assert check["difference"] == {
        "total": 12 - 327680,
        "train": 6 - 262144,
        "val": 3 - 32768,
        "test": 3 - 32768,
    }


def _nih_overlay(path, total: int, train: int, test: int, tolerance: float | None = None):
    samples = {
        "total": total,
        "train": train,
        "test": test,
        "unit": "images",
        "counts_are_records": True,
    }
    if tolerance is not None:
        samples["tolerance"] = tolerance
    path.write_text(yaml.safe_dump([{"name": "nih_chestxray14", "samples": samples}]))
    return path


def test_a_val_carved_from_the_official_train_counts_as_train(tmp_path, cli):
    raw = nih_chestxray14.build(tmp_path / "raw")
    # the fixture: 7 train_val_list images (2 of them carved into val), 4 test_list images
    overlay = _nih_overlay(tmp_path / "ok.yaml", total=11, train=7, test=4, tolerance=0)
    result = cli(
        [
            "prepare",
            "nih_chestxray14",
            "--raw",
            str(raw),
            "--out",
            str(tmp_path / "a"),
            "--catalog",
            str(overlay),
            "--workers",
            "1",
        ]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "a" / "nih_chestxray14" / "manifest.json").read_text())
    assert manifest["counts"]["val"]["samples"] == 2
    check = manifest["counts_check"]
    assert check["ok"] is True and check["carved_into_train"] == ["val"]
    assert check["produced"] == {"total": 11, "train": 7, "test": 4}

    overlay = _nih_overlay(tmp_path / "off.yaml", total=11, train=8, test=3, tolerance=0.05)
    with pytest.raises(
        CountsCheckError,
        match=r"train 7 of 8 declared \(-12\.5%\), "
        r"test 4 of 3 declared \(\+33\.3%\)",
    ):
        prepare("nih_chestxray14", raw, tmp_path / "b", catalog=overlay, workers=1, progress=False)
