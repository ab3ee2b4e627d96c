"""MIMIC-CXR-JPG adapter on the PhysioNet-layout fixture: labeler rows harmonized by hand,
uncertainty policies, the NegBio labeler, the official split, views and pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climb.adapt.base import Item, get_adapter
from climb.errors import RecordError
from tests.adapt.cxr._labels import known
from tests.fixtures import mimic_cxr as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("mimic"))


def by_key(raw, **config):
    return {r.sample_id: r for r in get_adapter("mimic_cxr", config=config or None).records(raw)}


@pytest.fixture(scope="module")
def records(raw):
    return by_key(raw)


PA_50414267 = fixture.dicom_id("50414267", 0)
LAT_50414267 = fixture.dicom_id("50414267", 1)
AP_53189527 = fixture.dicom_id("53189527", 0)
VAL_54684191 = fixture.dicom_id("54684191", 0)


def test_chexpert_labels_uncertain_and_blank_are_nan(records):
    # 50414267: Atelectasis 1.0, Pleural Effusion -1.0, Support Devices 0.0, the rest blank
    assert known(records[PA_50414267].labels["findings"]) == {
        "Atelectasis": 1.0, "Support Devices": 0.0}
    assert known(records[LAT_50414267].labels["findings"]) == {
        "Atelectasis": 1.0, "Support Devices": 0.0}
    # 53189527: Cardiomegaly 1.0, Edema -1.0, Pneumothorax 0.0
    assert known(records[AP_53189527].labels["findings"]) == {
        "Cardiomegaly": 1.0, "Pneumothorax": 0.0}
    # 59999999 has no labeler row: nothing is known
    assert known(records[fixture.dicom_id("59999999", 0)].labels["findings"]) == {}


@pytest.mark.parametrize("policy, value", [("ones", 1.0), ("zeros", 0.0)])
def test_uncertain_policy_from_config(raw, policy, value):
    records = by_key(raw, uncertain_policy=policy)
    assert known(records[PA_50414267].labels["findings"]) == {
        "Atelectasis": 1.0, "Pleural Effusion": value, "Support Devices": 0.0}
    assert known(records[VAL_54684191].labels["findings"]) == {
        "Lung Opacity": 1.0, "Pneumonia": value}


def test_negbio_labeler(raw):
    records = by_key(raw, labeler="negbio")
    assert known(records[PA_50414267].labels["findings"]) == {
        "Atelectasis": 1.0, "Pleural Effusion": 1.0, "Support Devices": 0.0}
    assert known(records[AP_53189527].labels["findings"]) == {
        "Cardiomegaly": 1.0, "Edema": 0.0, "Pneumothorax": 0.0}
    with pytest.raises(RecordError, match="labeler"):
        get_adapter("mimic_cxr", config={"labeler": "chexbert"}).items(raw)


def test_official_split_ids_and_view(records):
    assert len(records) == len(fixture.images())
    for row in fixture.images():
        rec = records[row["dicom_id"]]
        assert rec.split == {"train": "train", "validate": "val", "test": "test"}[row["split"]]
        assert (rec.patient_id, rec.study_id) == (row["subject_id"], row["study_id"])
        assert rec.meta == {"view": row["ViewPosition"], "source_file": (
            f"files/p{row['subject_id'][:2]}/p{row['subject_id']}/s{row['study_id']}/"
            f"{row['dicom_id']}.jpg")}


def test_view_filter_keeps_frontal_images_only(raw, records):
    frontal = by_key(raw, views=["PA", "AP"])
    assert set(frontal) == set(records) - {LAT_50414267}


def test_pixels_are_the_jpeg_resized(raw, records):
    rec = records[PA_50414267]
    with Image.open(raw / rec.meta["source_file"]) as img:
        assert img.size == (64, 64)  # square: crop-fit is a plain resize
        reference = np.asarray(img.convert("L").resize((224, 224), Image.Resampling.LANCZOS))
    got = rec.inputs["image"].data
    assert got.shape == (224, 224) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - reference).mean() < 2.0


def test_label_value_outside_the_convention_is_a_record_error():
    item = Item(source="files/p10/x.jpg", key="x", info={"labels": {"Edema": "2.0"}})
    with pytest.raises(RecordError, match=r"x\.jpg"):
        get_adapter("mimic_cxr").labels(item)
