"""`climb evaluate --answers FILE --export DIR`: a round trip store -> `climb export qa` ->
synthetic answers (right, wrong, unparseable, missing) -> scores checked against values
computed by hand here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from climb.evaluate.answers import (
    AnswersError,
    Question,
    evaluate_answers,
    parse_answer,
    set_f1,
)
from climb.export.qa import export_qa
from climb.store.prepare import prepare

DATASETS = ("medqa_usmle", "vital", "vqa_rad")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    """(store, export dir): the three text fixtures prepared and exported as QoQ-Med JSONL."""
    import importlib

    raw = tmp_path_factory.mktemp("answers-raw")
    store = tmp_path_factory.mktemp("answers-store")
    for name in DATASETS:
        fixture = importlib.import_module(f"tests.fixtures.{name}")
        config = getattr(fixture, "CONFIG", None)
        prepare(name, fixture.build(raw), store, workers=1, config=config, progress=False)
    out = tmp_path_factory.mktemp("answers-export")
    export_qa([store], out, "qoq")
    return store, out


def write_answers(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_export_asks_what_the_fixtures_hold(exported):
    _, out = exported
    test = [json.loads(line) for line in (out / "qoq" / "test.jsonl").read_text().splitlines()]
    gold = {r["id"]: r["answer"] for r in test}
    # the official MedQA test answers (4-option file: B, and E moved to D) and the VQA-RAD
    # closed yes/no questions of the images with official test questions (q2 is open)
    assert gold == {
        "medqa_usmle/test-00001/answer": "B",
        "medqa_usmle/test-00002/answer": "D",
        "vqa_rad/q1/closed_yes_no": "yes",
        "vqa_rad/q3/closed_yes_no": "no",
        "vqa_rad/q4/closed_yes_no": "no",
        "vqa_rad/q10/closed_yes_no": "yes",
    }


def test_scores_on_the_test_split_equal_hand_computed_values(exported, tmp_path):
    store, out = exported
    answers = write_answers(
        tmp_path / "model.jsonl",
        [
            {
                "id": "medqa_usmle/test-00001/answer",
                "response": "<think>resting tremor</think><answer>(B)</answer>",
            },  # right
            {"id": "medqa_usmle/test-00002/answer", "answer": "The answer is C."},  # wrong
            {"id": "vqa_rad/q1/closed_yes_no", "answer": "Yes."},  # right
            {"id": "vqa_rad/q3/closed_yes_no", "answer": "yes"},  # wrong
            {"id": "vqa_rad/q4/closed_yes_no", "answer": "I cannot tell from this image"},
            # vqa_rad/q10 is missing; one answer names no question of the export
            {"id": "vqa_rad/q999/closed_yes_no", "answer": "no"},
        ],
    )
    doc, scored = evaluate_answers(answers, out, "test", store=store, n_resamples=200)
    status = {s.question.id: s.status for s in scored}
    assert status["vqa_rad/q4/closed_yes_no"] == "unparseable"
    assert status["vqa_rad/q10/closed_yes_no"] == "missing"
    assert doc["answers"] == {
        "questions": 6,
        "answered": 4,
        "unparseable": 1,
        "missing": 1,
        "not_in_export": 1,
    }

    medqa = doc["tasks"]["medqa_usmle.answer"]
    assert medqa["type"] == "multiclass" and medqa["headline"] == "set_f1"
    # set F1 1 and 0; class B: tp 1 -> F1 1; class D: fn 1 -> F1 0; macro over {B, D}
    assert medqa["metrics"]["set_f1"]["value"] == pytest.approx(0.5)
    assert medqa["metrics"]["accuracy"]["value"] == pytest.approx(0.5)
    assert medqa["metrics"]["f1_macro"]["value"] == pytest.approx(0.5)
    assert medqa["bootstrap"]["class_set"] == ["B", "D"]

    vqa = doc["tasks"]["vqa_rad.closed_yes_no"]
    assert vqa["type"] == "binary"
    assert vqa["answers"] == {"questions": 4, "answered": 2, "unparseable": 1, "missing": 1}
    # yes: gold {q1, q10}, predicted {q1, q3} -> tp 1, fp 1, fn 1 -> 2/4; no: fn 2 -> 0
    assert vqa["metrics"]["set_f1"]["value"] == pytest.approx(0.25)
    assert vqa["metrics"]["accuracy"]["value"] == pytest.approx(0.25)
    assert vqa["metrics"]["parse_rate"]["value"] == pytest.approx(0.5)
    assert vqa["per_class"]["yes"]["f1"]["value"] == pytest.approx(0.5)
    assert vqa["per_class"]["no"]["f1"]["value"] == pytest.approx(0.0)
    assert vqa["metrics"]["f1_macro"]["value"] == pytest.approx(0.25)
    # patient-level units from the store: VQA-RAD groups by image (q1, q3, q4 share one)
    assert vqa["bootstrap"]["unit"] == "patient" and vqa["n_patients"] == 2
    lo, hi = vqa["metrics"]["set_f1"]["ci"]
    assert 0.0 <= lo <= 0.25 <= hi <= 1.0 and lo < hi
    assert "auroc_macro" in vqa["not_computed"] and "auroc_macro" not in vqa["metrics"]


def test_multilabel_answers_and_sample_units_without_a_store(exported, tmp_path):
    _, out = exported
    answers = write_answers(
        tmp_path / "vlm.jsonl",
        [
            {"id": "vital/v1/domain", "answer": "CT"},  # gold {ct}: exact
            {"id": "vital/v2/domain", "answer": "\\boxed{MRI and ct}"},  # gold {ct, mri}: exact
            {"id": "vital/v3/domain", "answer": "mri, histology"},  # gold {mri}: one extra
            {"id": "vital/v4/domain", "answer": "Histology; banana"},  # gold {histology}
        ],
    )
    doc, _ = evaluate_answers(answers, out, "train", n_resamples=0)
    vital = doc["tasks"]["vital.domain"]
    assert vital["type"] == "multilabel"
    # v3 and v4: tp 1, fp 1 -> P 1/2, R 1 -> F1 2/3 ("banana" names no option: a false positive)
    assert vital["metrics"]["set_f1"]["value"] == pytest.approx((1 + 1 + 2 / 3 + 2 / 3) / 4)
    assert vital["metrics"]["accuracy"]["value"] == pytest.approx(0.5)
    # ct: pred {v1, v2} = gold -> 1; mri: pred {v2, v3} = gold -> 1; histology: pred {v3, v4},
    # gold {v4} -> 2/3; chest_xray, gross and "none of these" have no positive: not in the set
    assert vital["bootstrap"]["class_set"] == ["ct", "mri", "histology"]
    assert vital["metrics"]["f1_macro"]["value"] == pytest.approx((1 + 1 + 2 / 3) / 3)
    assert vital["bootstrap"]["unit"].startswith("sample") and vital["n_patients"] == 4
    # the MedQA and VQA-RAD train questions got no answer: missing, scored 0
    assert doc["tasks"]["medqa_usmle.answer"]["answers"]["missing"] == 3
    assert doc["tasks"]["medqa_usmle.answer"]["metrics"]["set_f1"]["value"] == 0.0


@pytest.mark.parametrize(
    ("text", "expected", "unmatched"),
    [
        ("b", {"B"}, 0),
        ("B. Levodopa-carbidopa", {"B"}, 0),
        ("Levodopa carbidopa", {"B"}, 0),  # the option's text after its letter
        ("Answer: (A)", {"A"}, 0),
        ("<answer>A, C</answer>", {"A", "C"}, 0),
        ("\\boxed{\\text{x}} then \\boxed{D}", {"D"}, 0),  # the last box
        ("Z", set(), 0),
        ("", set(), 0),
    ],
)
def test_lettered_options_parse(text, expected, unmatched):
    q = Question(
        "d/s/answer",
        "d",
        "test",
        "answer",
        ("A", "B", "C", "D"),
        False,
        frozenset({"B"}),
        {"A": "Haloperidol", "B": "Levodopa-carbidopa", "C": "Propranolol", "D": "Donepezil"},
    )
    parsed = parse_answer(text, q)
    assert set(parsed.options) == expected and parsed.unmatched == unmatched


def test_set_f1_is_qoq_med_reward():
    q = Question(
        "d/s/t",
        "d",
        "test",
        "t",
        ("pleural effusion", "cardiomegaly", "nodule"),
        True,
        frozenset({"pleural effusion", "cardiomegaly"}),
    )
    parsed = parse_answer("Pleural_Effusion & nodule", q)
    # tp 1 (effusion), fp 1 (nodule), fn 1 (cardiomegaly): P = R = 1/2
    assert set_f1(parsed, q.gold) == pytest.approx(0.5)
    assert set_f1(parse_answer("nothing useful", q), q.gold) == 0.0


def test_bad_answer_files_name_the_line(exported, tmp_path):
    _, out = exported
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "answer": "x"}\n{"answer": "no id"}\n')
    with pytest.raises(AnswersError, match=r"bad.jsonl:2: no id field"):
        evaluate_answers(bad, out, "test", n_resamples=0)
    bad.write_text('{"id": "a", "answer": "x"}\n{"id": "a", "answer": "y"}\n')
    with pytest.raises(AnswersError, match=r"bad.jsonl:2: a second answer"):
        evaluate_answers(bad, out, "test", n_resamples=0)


def test_cli_writes_a_run_that_climb_report_reads(cli, exported, tmp_path):
    store, out = exported
    answers = write_answers(
        tmp_path / "model.jsonl",
        [
            {"id": "vqa_rad/q1/closed_yes_no", "answer": "yes"},
            {"id": "vqa_rad/q3/closed_yes_no", "answer": "no"},
        ],
    )
    result = cli(
        [
            "evaluate",
            "--answers",
            str(answers),
            "--export",
            str(out),
            "--store",
            str(store),
            "--out",
            str(tmp_path / "eval"),
            "--bootstrap",
            "50",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "unparseable" in result.output and "not computed" in result.output
    doc = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert doc["tasks"]["vqa_rad.closed_yes_no"]["metrics"]["accuracy"]["value"] == 0.5
    scored = [
        json.loads(x) for x in (tmp_path / "eval" / "answers-scored.jsonl").read_text().splitlines()
    ]
    assert {s["status"] for s in scored} == {"answered", "missing"}
    from climb.report.runs import load_run_info

    info = load_run_info(tmp_path / "eval")
    assert info.metrics is not None and info.regime == "answers"
    assert set(info.tasks) == set(doc["tasks"])
