"""Messidor-2 adapter on the ADCIS + Kaggle-grades fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.adapt._photo_checks import hashed_split, quarantined, standard_rgb, stored_splits
from tests.fixtures import messidor2 as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("messidor"))


def exam_of() -> dict[str, tuple[str, str]]:
    """{image stem: (exam id, side)} written out from the fixture's pair list."""
    out = {}
    for left, right in fixture.EXAMS:
        out[left.split(".")[0]] = ("exam-" + left.split(".")[0], "left")
        out[right.split(".")[0]] = ("exam-" + left.split(".")[0], "right")
    return out


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("messidor2"))


def test_gradable_images_with_grades_exams_and_laterality(raw):
    records = {r.sample_id: r for r in get_adapter("messidor2").records(raw)}
    gradable = {n.split(".")[0]: g for n, (g, _, ok) in fixture.GRADES.items() if ok == "1"}
    assert set(records) == set(gradable) and len(records) == len(fixture.GRADES) - 1
    exams = exam_of()
    for stem, grade in gradable.items():
        rec = records[stem]
        assert rec.labels == {"dr_grade": int(float(grade))}
        assert rec.study_id == exams[stem][0] and rec.meta["laterality"] == exams[stem][1]
        assert rec.meta["source_file"].startswith("IMAGES/" + stem)
    expected = standard_rgb(raw / "IMAGES" / "IM002385.JPG")
    got = records["IM002385"].inputs["image"].data
    assert got.shape == (224, 224, 3) and np.abs(got.astype(int) - expected).max() <= 1


def test_examination_split_and_bad_rows_quarantined(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    (copy / "IMAGES" / "IM002386.JPG").unlink()
    truncated = copy / "IMAGES" / "20051020_43882_0100_PP.png"
    truncated.write_bytes(truncated.read_bytes()[:200])
    pairs = copy / "messidor-2.csv"
    pairs.write_text(pairs.read_text().replace("IM002390.JPG;IM002389.JPG\n", ""))
    grades = copy / "messidor_data.csv"
    grades.write_text(grades.read_text().replace("IM002387.JPG,0.0", "IM002387.JPG,"))

    manifest = prepare("messidor2", copy, tmp_path / "store", workers=1, progress=False)
    errors = quarantined(manifest)
    assert set(errors) == {"IMAGES/IM002386.JPG", "IMAGES/20051020_43882_0100_PP.png",
                           "IMAGES/IM002389.JPG", "IMAGES/IM002390.JPG", "IMAGES/IM002387.JPG"}
    assert "not found" in errors["IMAGES/IM002386.JPG"]
    assert "cannot decode image" in errors["IMAGES/20051020_43882_0100_PP.png"]
    assert "no examination row" in errors["IMAGES/IM002390.JPG"]
    assert "without an adjudicated_dr_grade" in errors["IMAGES/IM002387.JPG"]

    splits = stored_splits(tmp_path / "store", "messidor2")
    assert len(splits) == len(fixture.GRADES) - 1 - 5
    exams = exam_of()
    by_exam: dict[str, set[str]] = {}
    for stem, (_, split) in splits.items():
        assert split == hashed_split(f"study:{exams[stem][0]}")
        by_exam.setdefault(exams[stem][0], set()).add(split)
    assert all(len(s) == 1 for s in by_exam.values())
    assert max(sum(1 for s in splits if exams[s][0] == e) for e in by_exam) == 2
