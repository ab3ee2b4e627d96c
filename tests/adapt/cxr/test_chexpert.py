"""CheXpert adapter on the Stanford-layout fixture: rows harmonized by hand, uncertainty
policies, valid.csv as val with a patient-carved test split (or the other way round), meta."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from tests.adapt.cxr._labels import known
from tests.fixtures import chexpert as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("chexpert"))


def by_key(raw, **config):
    return {r.sample_id: r for r in get_adapter("chexpert", config=config or None).records(raw)}


@pytest.fixture(scope="module")
def records(raw):
    return by_key(raw)


def hash_below(key: str, fraction: float, seed: int = 0) -> bool:
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def test_rows_harmonized_uncertain_and_blank_are_nan(records):
    # patient 2 study 1: Cardiomegaly/Edema/Pleural Effusion -1.0, Lung Opacity, Fracture 1.0
    assert known(records["patient00002_study1_view1_frontal"].labels["findings"]) == {
        "Lung Opacity": 1.0, "Fracture": 1.0}
    assert known(records["patient00002_study2_view2_lateral"].labels["findings"]) == {
        "Lung Opacity": 1.0, "Pleural Effusion": 0.0, "Fracture": 1.0}
    # valid.csv: every observation given (1.0 / 0.0)
    valid = known(records["patient64541_study1_view1_frontal"].labels["findings"])
    assert len(valid) == 14 and {c for c, v in valid.items() if v == 1.0} == {
        "Cardiomegaly", "Lung Opacity", "Support Devices"}


@pytest.mark.parametrize("policy, value", [("ones", 1.0), ("zeros", 0.0)])
def test_uncertain_policies(raw, policy, value):
    labels = known(by_key(raw, uncertain_policy=policy)[
        "patient00002_study1_view1_frontal"].labels["findings"])
    assert labels == {"Lung Opacity": 1.0, "Fracture": 1.0, "Cardiomegaly": value,
                      "Edema": value, "Pleural Effusion": value}


def test_valid_is_val_and_test_is_carved_from_train_by_patient(records):
    splits = {r.sample_id: r.split for r in records.values()}
    for patient, study, view, *_ in fixture.TRAIN:
        name = f"patient{patient:05d}"
        carved = hash_below(f"test:{name}", 0.1)
        assert splits[f"{name}_study{study}_{view}"] == ("test" if carved else "train")
    for patient, study, view, *_ in fixture.VALID:
        assert splits[f"patient{patient:05d}_study{study}_{view}"] == "val"
    assert splits["patient00017_study1_view1_frontal"] == "test"


def test_valid_as_test_carves_val_instead(raw):
    splits = {r.sample_id: r.split for r in by_key(raw, valid_split="test").values()}
    assert splits["patient64541_study1_view1_frontal"] == "test"
    for patient, study, view, *_ in fixture.TRAIN:
        name = f"patient{patient:05d}"
        carved = hash_below(f"val:{name}", 0.1)
        assert splits[f"{name}_study{study}_{view}"] == ("val" if carved else "train")
    assert {"train", "val", "test"} == set(splits.values())
    with pytest.raises(RecordError, match="valid_split"):
        get_adapter("chexpert", config={"valid_split": "holdout"}).items(raw)


def test_ids_and_meta(records):
    rec = records["patient00017_study1_view1_frontal"]
    assert (rec.patient_id, rec.study_id) == ("patient00017", "patient00017/study1")
    assert rec.meta == {"view": "PA", "sex": "male", "age_bucket": "90+",
                        "source_file": "CheXpert-v1.0/train/patient00017/study1/view1_frontal.jpg"}
    lateral = records["patient64542_study1_view2_lateral"]
    assert lateral.meta["view"] == "LATERAL" and lateral.meta["age_bucket"] == "70-79"


def test_view_filter(raw, records):
    frontal = by_key(raw, views=["PA", "AP"])
    assert set(records) - set(frontal) == {"patient00002_study2_view2_lateral",
                                           "patient64542_study1_view2_lateral"}
