"""Text adapters on their official layouts (tests/fixtures): labels and splits checked
against the raw rows, grouping by image, PHI quarantine, and `climb prepare` end to end."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pyarrow.parquet as pq
import pytest

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from climb.store.reader import open_store
from tests.fixtures import medqa_usmle, vital, vqa_rad


def records_and_errors(name, raw, config=None):
    adapter = get_adapter(name, config=config)
    records, errors = [], {}
    for item in adapter.items(raw):
        try:
            records += list(adapter.load(raw, item))
        except RecordError as err:
            errors[item.source] = err.problem
    return adapter, records, errors


# ---------------------------------------------------------------- VQA-RAD


def test_vqa_rad_labels_from_the_raw_json(tmp_path):
    raw = vqa_rad.build(tmp_path)
    rows = json.loads((raw / vqa_rad.ROOT / vqa_rad.JSON_NAME).read_text())
    _, records, errors = records_and_errors("vqa_rad", raw, vqa_rad.CONFIG)
    by_id = {r.sample_id: r for r in records}
    for row in rows:
        rec = by_id.get(f"q{row['qid']}")
        if rec is None:
            continue
        assert rec.labels["answer"] == row["answer"]
        yes_no = row["answer"].lower() in ("yes", "no") and row["answer_type"] == "CLOSED"
        expected = ["no", "yes"].index(row["answer"].lower()) if yes_no else -1
        assert rec.labels["closed_yes_no"] == expected
        assert rec.inputs["question"].data == row["question"]
        assert rec.inputs["image"].data.shape == (64, 64) and rec.study_id == row["image_name"]
        assert rec.patient_id is None
    assert {r.labels["closed_yes_no"] for r in records} == {-1, 0, 1}
    # question 9 (row 8) asks with a phone number in it: quarantined, the text never copied
    assert list(errors) == [f"{vqa_rad.ROOT}/{vqa_rad.JSON_NAME}/8"]
    assert "phone number" in errors[f"{vqa_rad.ROOT}/{vqa_rad.JSON_NAME}/8"]
    assert "867" not in errors[f"{vqa_rad.ROOT}/{vqa_rad.JSON_NAME}/8"]


@pytest.mark.parametrize("mode", ["image", "official"])
def test_vqa_rad_split_by_image_or_as_published(tmp_path, mode):
    raw = vqa_rad.build(tmp_path)
    rows = json.loads((raw / vqa_rad.ROOT / vqa_rad.JSON_NAME).read_text())
    config = {**vqa_rad.CONFIG, "split": mode, "val_fraction": 0.0}
    _, records, _ = records_and_errors("vqa_rad", raw, config)
    published = {
        f"q{r['qid']}": "test" if r["phrase_type"].startswith("test_") else "train" for r in rows
    }
    splits_of_image = defaultdict(set)
    for rec in records:
        splits_of_image[rec.study_id].add(rec.split)
    if mode == "official":
        assert all(rec.split == published[rec.sample_id] for rec in records)
        # the publisher's per-question split puts synpic100 in train and test
        assert splits_of_image["synpic100.jpg"] == {"train", "test"}
        return
    assert all(len(s) == 1 for s in splits_of_image.values())
    test_images = {r["image_name"] for r in rows if r["phrase_type"].startswith("test_")}
    assert {rec.study_id for rec in records if rec.split == "test"} == test_images
    # every official test question stays in test; synpic100's training questions join them
    assert all(rec.split == "test" for rec in records if published[rec.sample_id] == "test")
    assert {r.sample_id for r in records if r.split == "test"} == {"q1", "q2", "q3", "q4", "q10"}


def test_vqa_rad_val_is_carved_by_image(tmp_path):
    raw = vqa_rad.build(tmp_path)
    config = {**vqa_rad.CONFIG, "val_fraction": 0.999}  # every training image to val
    _, records, _ = records_and_errors("vqa_rad", raw, config)
    assert {r.study_id for r in records if r.split == "val"} == {"synpic200.jpg", "synpic300.jpg"}
    assert not [r for r in records if r.split == "train"]


# ---------------------------------------------------------------- BioMed-VITAL


def test_vital_records_domains_and_missing_figures(tmp_path):
    raw = vital.build(tmp_path)
    adapter, records, errors = records_and_errors("vital", raw, vital.CONFIG)
    classes = adapter.task_classes()["domain"]
    by_id = {r.sample_id: r for r in records}
    rows = {r["id"]: r for r in vital.ROWS}
    assert set(by_id) == {"v1", "v2", "v3", "v4", "v6"}
    assert list(errors) == [f"{vital.NAME}/4"] and "email address" in errors[f"{vital.NAME}/4"]
    assert "'conversations[1]'" in errors[f"{vital.NAME}/4"]
    for key, rec in by_id.items():
        turns = rows[key]["conversations"]
        assert rec.labels["instruction_following"] == turns[-1]["value"]
        assert "<image>" not in rec.inputs["text"].data
        assert rec.inputs["text"].data.startswith("User: ")
        assert rec.inputs["text"].data.count("Assistant: ") == len(turns) // 2 - 1
    expected = {"v1": {"ct"}, "v2": {"ct", "mri"}, "v3": {"mri"}, "v4": {"histology"}}
    for key, positives in expected.items():
        assert by_id[key].labels["domain"].tolist() == [float(c in positives) for c in classes]
    assert np.isnan(by_id["v6"].labels["domain"]).all()
    # PMC300_F3 was not downloaded: text only, and meta says so
    assert "image" not in by_id["v4"].inputs and by_id["v4"].meta["notes"] == "image not downloaded"
    assert by_id["v1"].inputs["image"].data.shape == (64, 64)
    # conversations about one figure share its split
    assert by_id["v1"].study_id == by_id["v2"].study_id and by_id["v1"].split == by_id["v2"].split


# ---------------------------------------------------------------- MedQA


@pytest.mark.parametrize("options", [4, 5])
def test_medqa_labels_splits_and_quarantine(tmp_path, options):
    raw = medqa_usmle.build(tmp_path)
    adapter, records, errors = records_and_errors("medqa_usmle", raw, {"options": options})
    classes = adapter.task_classes()["answer"]
    assert classes == ["A", "B", "C", "D", "E"]
    expected = {}
    for split, rows in medqa_usmle.QUESTIONS.items():
        for line, (question, _options, letter) in enumerate(rows, 1):
            if options == 4 and letter == "E":
                letter = "D"  # the fixture's 4-option file moves E into D
            expected[f"{split}-{line:05d}"] = ({"dev": "val"}.get(split, split), letter, question)
    by_id = {r.sample_id: r for r in records}
    assert set(by_id) == set(expected) - {"dev-00002"}  # the dated vignette: quarantined
    for key, rec in by_id.items():
        split, letter, question = expected[key]
        assert rec.split == split and classes[rec.labels["answer"]] == letter
        text = rec.inputs["question"].data
        assert text.startswith(question) and text.count("\n") == options
    assert len(errors) == 2
    assert any("date in field 'question'" in e for e in errors.values())
    assert any("not a JSON object" in e for e in errors.values())


def test_medqa_answer_idx_must_name_an_option(tmp_path):
    raw = medqa_usmle.build(tmp_path)
    path = raw / medqa_usmle.US / "test.jsonl"
    row = json.loads(path.read_text().splitlines()[0])
    row["answer_idx"] = "Q"
    path.write_text(json.dumps(row) + "\n")
    adapter = get_adapter("medqa_usmle", config={"options": 5})
    (item,) = [i for i in adapter.items(raw) if i.key == "test-00001"]
    with pytest.raises(RecordError, match="answer_idx is not one of the options"):
        list(adapter.load(raw, item))


# ---------------------------------------------------------------- climb prepare


def test_climb_prepare_quarantines_phi_and_keeps_images_together(cli, tmp_path):
    raw = vqa_rad.build(tmp_path / "raw")
    result = cli(
        [
            "prepare",
            "vqa_rad",
            "--raw",
            str(raw),
            "--out",
            str(tmp_path / "store"),
            "--workers",
            "1",
            "--config",
            "size=64",
        ]
    )
    assert result.exit_code == 0, result.output
    (ds,) = open_store(tmp_path / "store")
    (entry,) = ds.manifest["quarantined"]
    assert entry["type"] == "RecordError" and "phone number" in entry["error"]
    assert "867" not in json.dumps(ds.manifest)
    rows = pq.read_table(
        tmp_path / "store" / "vqa_rad" / "_index" / "index.parquet",
        columns=["sample_id", "study_id", "split"],
    ).to_pylist()
    assert len(rows) == 9
    splits = defaultdict(set)
    for row in rows:
        splits[row["study_id"]].add(row["split"])
    assert all(len(s) == 1 for s in splits.values())
