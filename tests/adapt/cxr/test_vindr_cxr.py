"""VinDr-CXR adapter on the PhysioNet-layout fixture: radiologist consensus (2 of 3 by
default, configurable) harmonized by hand, the official split with a carved val, MONOCHROME1
pixels, and no DICOM patient field reaching any output of `climb prepare`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from tests.adapt._prepare import every_output
from tests.adapt.cxr._labels import CXR14, known
from tests.fixtures import vindr_cxr as fixture
from tests.fixtures._imaging import real_gray

ID = fixture.image_id
ALL_ZERO = dict.fromkeys([c for c in CXR14 if c != "Support Devices"], 0.0)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("vindr"))


def by_number(raw, **config):
    records = {r.sample_id: r for r in get_adapter("vindr_cxr", config=config or None)
               .records(raw)}
    return {n: records[ID(n)] for n in [*fixture.TRAIN, *fixture.TEST]}


@pytest.fixture(scope="module")
def records(raw):
    return by_number(raw)


def test_majority_of_three_radiologists(records):
    # image 0: Cardiomegaly 2 of 3, Aortic enlargement 3 of 3, Pleural effusion 1 of 3
    assert known(records[0].labels["findings"]) == {
        **ALL_ZERO, "Cardiomegaly": 1.0, "Enlarged Cardiomediastinum": 1.0}
    # image 2: Nodule/Mass 1 of 3 and Lung tumor 1 of 3 (votes count per VinDr label, so
    # Lung Lesion stays 0); Tuberculosis 2 of 3 has no cxr14 class
    assert known(records[2].labels["findings"]) == ALL_ZERO
    # image 3: Lung Opacity 2 of 3, Infiltration 1 of 3 -> Lung Opacity by maximum
    assert known(records[3].labels["findings"]) == {**ALL_ZERO, "Lung Opacity": 1.0}
    # image 5: Rib fracture 2 of 3, Clavicle fracture 1 of 3
    assert known(records[5].labels["findings"]) == {**ALL_ZERO, "Fracture": 1.0}
    assert known(records[1].labels["findings"]) == {**ALL_ZERO, "No Finding": 1.0}
    assert np.isnan(records[0].labels["findings"][CXR14.index("Support Devices")])


def test_test_images_use_their_consensus_row(records):
    assert known(records[20].labels["findings"]) == {**ALL_ZERO, "Pneumothorax": 1.0}
    assert known(records[22].labels["findings"]) == {**ALL_ZERO, "No Finding": 1.0}


@pytest.mark.parametrize("votes, pleural, lesion, cardiomegaly", [(1, 1.0, 1.0, 1.0),
                                                                   (3, 0.0, 0.0, 0.0)])
def test_consensus_votes_config(raw, votes, pleural, lesion, cardiomegaly):
    records = by_number(raw, consensus_votes=votes)
    zero = known(records[0].labels["findings"])
    assert (zero["Pleural Effusion"], zero["Cardiomegaly"]) == (pleural, cardiomegaly)
    assert zero["Enlarged Cardiomediastinum"] == 1.0  # 3 of 3
    assert known(records[2].labels["findings"])["Lung Lesion"] == lesion
    assert known(records[20].labels["findings"])["Pneumothorax"] == 1.0  # test: as given


def test_split_and_image_id_as_patient(records):
    assert {n: r.split for n, r in records.items()} == {
        0: "train", 1: "train", 2: "train", 3: "val", 5: "train", 20: "test", 22: "test"}
    for n, rec in records.items():
        assert rec.patient_id == rec.sample_id == ID(n)
        folder = "test" if n in fixture.TEST else "train"
        assert rec.meta == {"source_file": f"{fixture.FOLDER}/{folder}/{ID(n)}.dicom"}


def _fitted(gray: np.ndarray) -> np.ndarray:
    """Reference crop-fit of a 96 x 80 image to 224 x 224 (Pillow resize + center crop)."""
    resized = np.asarray(Image.fromarray(gray).resize((224, 269), Image.Resampling.BILINEAR))
    return resized[22:246].astype(float)


@pytest.mark.parametrize("number", [0, 2])  # MONOCHROME1, MONOCHROME2
def test_pixels_display_bright_as_bright(records, number):
    got = records[number].inputs["image"].data
    assert got.shape == (224, 224) and got.dtype == np.uint8
    reference = _fitted(real_gray(number, (96, 80)))
    assert np.corrcoef(got.ravel().astype(float), reference.ravel())[0, 1] > 0.97


def test_label_value_other_than_0_or_1_fails_the_table(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    table = copy / fixture.FOLDER / "annotations" / "image_labels_test.csv"
    table.write_text(table.read_text().replace(",1,", ",2,", 1))
    with pytest.raises(RecordError, match=r"image_labels_test\.csv: a label value is not 0 or 1"):
        get_adapter("vindr_cxr").items(copy)


NAME, BIRTH = "Zelda Quixote", "19310719"
PLANTED = {"PatientName": "Quixote^Zelda", "PatientID": "ZQ-4471-19310719",
           "PatientBirthDate": BIRTH, "InstitutionName": "Quixote Memorial Hospital",
           "ReferringPhysicianName": "Quixote^Zelda", "StudyDescription": f"CHEST PA {NAME}"}
NEEDLES = ("Zelda", "Quixote", BIRTH, "1931", "ZQ-4471", "Memorial")


def test_dicom_patient_fields_reach_no_output_of_climb_prepare(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    train = copy / fixture.FOLDER / "train"
    # image 0: identifying header fields, BurnedInAnnotation NO -> prepared
    fixture.write_cxr_dicom(train / f"{ID(0)}.dicom", 0, monochrome1=True,
                            extra={**PLANTED, "BurnedInAnnotation": "NO"})
    # image 1: the same and BurnedInAnnotation YES -> quarantined (text may be in the pixels)
    fixture.write_cxr_dicom(train / f"{ID(1)}.dicom", 1,
                            extra={**PLANTED, "BurnedInAnnotation": "YES"})
    # image 2: the same header, pixel data cut short -> quarantined by the decoder
    broken = train / f"{ID(2)}.dicom"
    fixture.write_cxr_dicom(broken, 2, extra=PLANTED)
    broken.write_bytes(broken.read_bytes()[:-5000])
    store = tmp_path / "store"
    result = subprocess.run(
        [sys.executable, "-m", "climb.cli", "-v", "prepare", "vindr_cxr", "--raw", str(copy),
         "--out", str(store), "--workers", "1"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((store / "vindr_cxr" / "manifest.json").read_text())
    reasons = {Path(q["source"]).stem: q["error"] for q in manifest["quarantined"]}
    assert set(reasons) == {ID(1), ID(2)}
    assert "burned-in annotation" in reasons[ID(1)]
    assert sum(c["samples"] for c in manifest["counts"].values()) == 5  # image 0 included
    outputs = result.stdout + result.stderr + every_output(store)
    assert ID(0) in outputs and "burned-in" in outputs  # the search does see everything
    for needle in NEEDLES:
        assert needle not in outputs, f"{needle!r} leaked into prepare's output"

    keep = get_adapter("vindr_cxr", config={"burned_in_annotation": "keep"})
    item = next(i for i in keep.items(copy) if i.key == ID(1))
    assert [r.sample_id for r in keep.load(copy, item)] == [ID(1)]
