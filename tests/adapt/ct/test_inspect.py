"""INSPECT adapter on the AIMI-layout fixture: CT volume + impression text, eight binary
tasks with Censored missing, the official patient-level split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from tests.adapt._prepare import prepare_cli
from tests.fixtures import inspect as fixture

TASKS = {
    "pe": "pe_positive_nlp",
    "mortality_1m": "1_month_mortality",
    "mortality_6m": "6_month_mortality",
    "mortality_12m": "12_month_mortality",
    "readmission_1m": "1_month_readmission",
    "readmission_6m": "6_month_readmission",
    "readmission_12m": "12_month_readmission",
    "ph_12m": "12_month_PH",
}


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("inspect"))


def table(raw: Path, stem: str) -> pd.DataFrame:
    path = raw / "inspect" / "full" / f"{stem}_{fixture.STAMP}.tsv"
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False).set_index("impression_id")


def test_labels_split_patient_and_text_follow_the_tables(raw):
    adapter = get_adapter("inspect", fixture.CONFIG)
    labels, splits = table(raw, "labels"), table(raw, "splits")
    impressions, mapping = table(raw, "impressions"), table(raw, "study_mapping")
    items = [i for i in adapter.items(raw) if i.key != fixture.NO_VOLUME]
    assert len(items) == len(fixture.STUDIES) - 1
    for item in items:
        (rec,) = adapter.load(raw, item)
        row = labels.loc[item.key]
        want = {t: {"TRUE": 1, "FALSE": 0, "Censored": -1}[row[c]] for t, c in TASKS.items()}
        assert rec.labels == want
        assert rec.split == {"valid": "val"}.get(
            splits.loc[item.key, "split"], splits.loc[item.key, "split"]
        )
        assert rec.patient_id == splits.loc[item.key, "person_id"]
        assert rec.study_id == mapping.loc[item.key, "image_id"]
        assert rec.inputs["text"].encoding == "text"
        assert rec.inputs["text"].data == " ".join(impressions.loc[item.key, "impressions"].split())
        assert rec.inputs["volume"].shape == (4, 32, 32)
        assert not set(rec.meta) - {"source_file"}


def test_an_unknown_label_value_names_the_column_not_the_value(raw, tmp_path):
    adapter = get_adapter("inspect", fixture.CONFIG)
    item = next(i for i in adapter.items(raw) if i.key == "90000002")
    item.info["labels"]["ph_12m"] = "maybe-1931"
    with pytest.raises(RecordError, match="12_month_PH") as err:
        list(adapter.load(raw, item))
    assert "1931" not in str(err.value)


def test_prepare_keeps_patients_in_one_split_and_quarantines_the_missing_volume(
    raw, tmp_path, caplog
):
    manifest, text = prepare_cli("inspect", raw, tmp_path / "store", fixture.CONFIG, caplog)
    (bad,) = manifest["quarantined"]
    assert bad["source"] == "inspect/full/CTPA/img_e5f1.nii.gz"
    assert "not found" in bad["error"] and "No acute" not in bad["error"]
    assert {s: manifest["counts"][s]["samples"] for s in ("train", "val", "test")} == {
        "train": 2,
        "val": 1,
        "test": 1,
    }
    assert not manifest["split"]["patient_conflicts"]
    assert "2019-0" not in text  # procedure dates are never read
