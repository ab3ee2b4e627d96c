"""`climb export qa`: QoQ-Med and LLaVA JSONL from a prepared store."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from climb.errors import ClimbError
from climb.export.qa import NONE_OPTION, display, export_qa, media_key, no_finding_class
from climb.store.reader import iter_rows, open_store
from tests.export.conftest import STORE_DATASETS

OPTIONS = re.compile(r"Options: (.*?)\. Answer with")


def records(root: Path, fmt: str) -> list[dict]:
    out = []
    for path in sorted((root / fmt).glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines()]
    return out


def question_answer(rec: dict) -> tuple[str, str]:
    if "conversations" in rec:
        human, gpt = rec["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        return human["value"], gpt["value"]
    return rec["problem"], rec["answer"]


def stored_rows(store: Path) -> dict[tuple[str, str], dict]:
    return {(ds.name, r["sample_id"]): r for ds in open_store(store) for r in iter_rows(ds)}


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["qoq", "llava"])
def test_answers_are_listed_options_and_match_the_stored_labels(qa_exports, export_store, fmt):
    root, summary = qa_exports[fmt]
    rows = stored_rows(export_store)
    tasks = {
        ds.name: {t["name"]: t for t in ds.manifest["tasks"]} for ds in open_store(export_store)
    }
    recs = records(root, fmt)
    assert {r["dataset"] for r in recs} == set(STORE_DATASETS)
    for rec in recs:
        question, answer = question_answer(rec)
        options = OPTIONS.search(question).group(1).split("; ")
        task = tasks[rec["dataset"]][rec["task"]]
        assert options[: len(task["classes"])] == [display(c) for c in task["classes"]]
        given = answer.split(", ") if task["type"] == "multilabel" else [answer]
        assert given and all(a in options for a in given), (answer, options)
        assert question.count("<image>") == len(rec["images"])
        dataset, key, _ = rec["id"].split("/")
        label = rows[(dataset, key)]["labels"][rec["task"]]
        if task["type"] == "multilabel":
            positives = [display(c) for c, v in zip(task["classes"], label, strict=True) if v == 1]
            assert given == (positives or [display(no_finding_class(task["classes"]))])
        else:
            assert given == [display(task["classes"][label])]
    # iu's vocabulary has "normal", so no "none of these" option is added
    assert not any(NONE_OPTION in question_answer(r)[0] for r in recs)
    assert summary["datasets"]["busi"]["tasks_skipped"] == {
        "lesion_segmentation": "segmentation tasks are not exported as questions"
    }


def test_unknown_labels_are_skipped_and_counted(qa_exports, export_store):
    _, summary = qa_exports["qoq"]
    (iu,) = open_store(export_store, ["demo_iu_xray_reports"])
    unknown: dict[str, int] = {}
    total: dict[str, int] = {}
    for row in iter_rows(iu):
        vec = row["labels"]["findings"]
        total[row["split"]] = total.get(row["split"], 0) + 1
        if vec is None or np.isnan(vec).all():
            unknown[row["split"]] = unknown.get(row["split"], 0) + 1
    assert sum(unknown.values()) > 0  # the 60 reports include unlabelled ones
    for split, stats in summary["datasets"]["demo_iu_xray_reports"]["splits"].items():
        assert stats["skipped"].get("labels unknown", 0) == unknown.get(split, 0)
        assert stats["written"] == total[split] - unknown.get(split, 0)


def test_media_exist_and_hold_the_stored_payloads(qa_exports, export_store):
    root, _ = qa_exports["qoq"]
    rows = stored_rows(export_store)
    kinds = set()
    for rec in records(root, "qoq"):
        stored = rows[(rec["dataset"], rec["id"].split("/")[1])]
        for rel in rec["images"]:
            with Image.open(root / rel) as img:
                np.testing.assert_array_equal(np.asarray(img), stored["inputs"]["image"])
            kinds.add("image")
        for rel in rec["time-series"]:
            tensor = torch.load(root / rel)
            assert tensor.dtype == torch.float32
            np.testing.assert_array_equal(tensor.numpy(), stored["inputs"]["ecg"])
            kinds.add("series")
        if rec["dataset"] == "demo_iu_xray_reports":
            assert stored["inputs"]["text"].strip() in rec["problem"]
            kinds.add("text")
        if rec["dataset"] == "demo_mitbih_beats":
            assert "rr_prev_s=" in rec["problem"]  # the RR features, in the question
    assert kinds == {"image", "series", "text"}


def test_qoq_jsonl_loads_with_datasets_and_paths_carry_the_domain(qa_exports, tmp_path):
    import datasets

    root, _ = qa_exports["qoq"]
    files = {p.stem: str(p) for p in sorted((root / "qoq").glob("*.jsonl"))}
    loaded = datasets.load_dataset("json", data_files=files, cache_dir=str(tmp_path / "hf"))
    assert set(loaded) == {"train", "val", "test"}
    n = 0
    for split in loaded.values():
        assert {"problem", "answer", "images", "time-series", "dataset"} <= set(split.column_names)
        for rec in split:
            for rel in rec["images"] + rec["videos"] + rec["time-series"]:
                assert rel.split("/")[1] == rec["dataset"]
                assert (root / rel).is_file()
            n += 1
    assert n == len(records(root, "qoq"))


def test_rerun_is_byte_identical(export_store, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    export_qa([export_store], first, "qoq", limit=40)
    export_qa([export_store], second, "qoq", limit=40)
    assert tree_digest(first) == tree_digest(second)
    assert any(p.suffix == ".pt" for p in first.rglob("*"))
    assert any(p.suffix == ".png" for p in first.rglob("*"))
    before = tree_digest(first)
    export_qa([export_store], first, "qoq", limit=40)  # again, over its own output
    assert tree_digest(first) == before


def test_no_patient_id_in_the_qa_files(qa_exports, export_store):
    patients = set()
    for name in STORE_DATASETS:
        with open(export_store / name / "splits.csv") as f:
            patients |= {r["patient_id"] for r in csv.DictReader(f) if r["patient_id"]}
    assert patients
    for fmt in ("qoq", "llava"):
        root, _ = qa_exports[fmt]
        for path in (root / fmt).iterdir():
            text = path.read_text()
            assert not [p for p in patients if p in text], path
        assert not [p for p in root.rglob("*") if any(pid in p.name for pid in patients)]


def test_sample_ids_containing_the_patient_id_become_opaque():
    assert media_key("ds", "100-0001", "mitbih-100") == "100-0001"
    hidden = media_key("ds", "patient042/study1/view1", "patient042")
    assert hidden.startswith("s-") and "patient042" not in hidden
    assert media_key("ds", "a/b", None).startswith("s-")  # not path-safe


def test_split_and_limit_select_sorted_samples(export_store, tmp_path):
    summary = export_qa(
        [export_store / "demo_mitbih_beats"], tmp_path, "llava", splits=["val"], limit=5
    )
    assert [p.name for p in sorted((tmp_path / "llava").iterdir())] == ["summary.json", "val.jsonl"]
    ids = [json.loads(line)["id"] for line in (tmp_path / "llava" / "val.jsonl").open()]
    assert len(ids) == 5 and ids == sorted(ids)
    assert summary["datasets"]["demo_mitbih_beats"]["splits"]["val"]["written"] == 5
    assert len(list((tmp_path / "ecg" / "demo_mitbih_beats").iterdir())) == 5


def test_bad_format_is_a_clear_error(export_store, tmp_path):
    with pytest.raises(ClimbError, match="--format"):
        export_qa([export_store], tmp_path, "alpaca")


def test_cli_export_qa(cli, export_store, tmp_path):
    result = cli(
        [
            "export",
            "qa",
            str(export_store / "busi"),
            "--out",
            str(tmp_path),
            "--format",
            "qoq",
            "--split",
            "train",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "busi" in result.output and "segmentation" in result.output
    lines = (tmp_path / "qoq" / "train.jsonl").read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(x)["images"] for x in lines)


def test_inputs_are_written_by_kind(tmp_path):
    """16-bit grey images become 16-bit PNGs; signals (with a sampling rate) .pt; a 2-D
    array without one (a connectivity matrix) and a volume are not exported."""
    from climb.export.qa import _media

    rng = np.random.default_rng(0)
    grey16 = rng.integers(0, 65535, (12, 10), dtype=np.uint16)
    matrix = rng.random((5, 5)).astype(np.float32)
    volume = rng.integers(0, 255, (8, 12, 10), dtype=np.uint8)
    row = {
        "dataset": "ds",
        "modality": "xray",
        "inputs": {"image": grey16, "matrix": matrix, "volume": volume},
        "input_attrs": {},
    }
    media = _media(row, "s1", tmp_path, set())
    assert media.images == ["xray/ds/s1.png"] and not media.series and not media.context
    with Image.open(tmp_path / media.images[0]) as img:
        np.testing.assert_array_equal(np.asarray(img), grey16)
    row["inputs"] = {"matrix": matrix, "volume": volume}
    assert _media(row, "s2", tmp_path, set()) is None
    eeg = rng.standard_normal((3, 64)).astype(np.float64)
    row["inputs"], row["input_attrs"] = {"eeg": eeg}, {"eeg": {"sampling_rate": 128.0}}
    media = _media(row, "s3", tmp_path, set())
    assert media.series == ["xray/ds/s3.eeg.pt"]  # input name != modality
    np.testing.assert_array_equal(
        torch.load(tmp_path / media.series[0]).numpy(), eeg.astype(np.float32)
    )
