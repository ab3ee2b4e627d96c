"""Score a vision-language model's answers to a ``climb export qa`` export.

``climb evaluate --answers FILE.jsonl --export DIR [--out OUT] [--store STORE]``:

- ``DIR`` is a ``climb export qa`` output (``DIR/<format>/<split>.jsonl``, or the format
  folder itself): one question per line, with its ``id`` (``<dataset>/<key>/<task>``), the
  question text (which lists the answer options as ``Options: a; b; c.``) and the gold
  ``answer`` (one option, or several joined by ``", "`` for multilabel tasks).
- ``FILE.jsonl`` holds one JSON object per line: ``id`` (or ``question_id``) matching the
  export's ``id``, and the model's free text in ``answer`` or ``response``.

Parsing (:func:`parse_answer`): the text inside the last ``\\boxed{...}`` (QoQ-Med's
``medical_format`` prompt) or the last ``<answer>...</answer>`` (QoQ-Med's ``r1v_format``),
else the whole text; a leading ``answer:`` / ``the answer is`` is dropped; the rest is
matched case- and punctuation-insensitively against the listed options, whole or split at
``,`` ``;`` ``&`` and ``and`` (multilabel), accepting an option's letter where the options
are letters (``(B)``, ``B.``, ``B. <option text>``, or the option text after its letter in
the question). A part that matches no option counts as a false positive; an answer with no
part matching is *unparseable*, an empty prediction (counted and reported); a question
without an answer is *missing*, an empty prediction too (counted and reported).

Per question, set-F1 as QoQ-Med's reward computes it (``examples/reward_function/medical.py``,
``medical_compute_score`` / ``parse_conditions`` in github.com/DDVD233/QoQ_Med): true
positives = predicted options in the gold set, false positives = the other predicted parts,
false negatives = gold options not predicted; F1 = 2PR / (P + R), 0 when nothing is right.
Per (dataset, task): mean set-F1, exact-match accuracy, macro-F1 over the classes with
positives and negatives in the gold answers, and the parse rate, each with a patient-level
bootstrap CI (:mod:`climb.evaluate.bootstrap`; patient ids from ``--store``, the prepared
store the export came from; without it, the questions' samples are resampled and
``bootstrap.unit`` says so). AUROC / AUPRC / calibration are not computed: free-text answers
carry no probabilities (``not_computed`` in the document says so).

Writes ``OUT/metrics.json`` (the ``climb evaluate`` document shape, ``headline: set_f1``),
``OUT/tasks.json`` and ``OUT/config.yaml`` (so ``climb report OUT`` shows it) and
``OUT/answers-scored.jsonl`` (per question: id, status, parsed options, set-F1).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from climb.errors import ClimbError
from climb.evaluate import bootstrap as bs
from climb.evaluate.metrics import TaskArrays, binary_threshold_metrics, classes_defined_check

FORMATS = ("qoq", "llava")
ID_KEYS = ("id", "question_id")
TEXT_KEYS = ("answer", "response")
HEADLINE = "set_f1"
NOT_COMPUTED = {
    name: "free-text answers carry no probabilities"
    for name in ("auroc_macro", "auprc_macro", "ece")
}
_OPTIONS = re.compile(r"Options: (.*)\. Answer with (every|exactly)", re.DOTALL)
_LETTER_LINE = re.compile(r"^\s*\(?([A-Z])[.)]\s+(.+?)\s*$", re.MULTILINE)
_PREFIX = re.compile(r"^\s*(?:final answer|the answer is|answer)\b\s*(?:is\b)?\s*[:\-]?\s*", re.I)
_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b)\s*", re.I)
_NON_WORD = re.compile(r"[^0-9a-z+ ]+")


class AnswersError(ClimbError):
    """An answers file or an export does not have the shape described in this module."""


def normalize(text: str) -> str:
    """Lower case; ``_``, hyphens and punctuation (but ``+``) as spaces; spaces collapsed."""
    text = str(text).lower().replace("_", " ")
    return " ".join(_NON_WORD.sub(" ", text).split())


def extract_answer(text: str) -> str:
    """The content of the last ``\\boxed{...}`` or ``<answer>...</answer>``, else ``text``."""
    start = text.rfind("\\boxed{")
    if start >= 0:
        depth, i = 1, start + len("\\boxed{")
        begin = i
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        return text[begin : i - 1] if depth == 0 else text[begin:]
    tags = re.findall(r"<answer>(.*?)</answer>", text, flags=re.DOTALL | re.IGNORECASE)
    if tags:
        return tags[-1]
    return text


@dataclass(frozen=True)
class Question:
    """One exported question: its id, where it comes from, its options and gold answer."""

    id: str
    dataset: str
    split: str
    task: str
    options: tuple[str, ...]
    multilabel: bool
    gold: frozenset[str]
    letters: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        """The task key ``<dataset>.<task>``."""
        return f"{self.dataset}.{self.task}"

    @property
    def sample_key(self) -> str:
        """The sample part of the id (``<key>`` in ``<dataset>/<key>/<task>``)."""
        return self.id[len(self.dataset) + 1 : -(len(self.task) + 1)]


@dataclass(frozen=True)
class Parsed:
    """What one answer parsed into: the options named, the parts that name none."""

    options: frozenset[str]
    unmatched: int

    @property
    def parseable(self) -> bool:
        return bool(self.options)


def _lettered(options: Sequence[str]) -> bool:
    return all(len(o) == 1 and o.isalpha() for o in options)


def _match_part(part: str, question: Question, by_norm: dict[str, str]) -> str | None:
    norm = normalize(part)
    if not norm:
        return None
    if norm in by_norm:
        return by_norm[norm]
    if question.letters:
        head, _, rest = norm.partition(" ")
        if len(head) == 1 and head.upper() in question.options:
            letter = head.upper()
            if not rest or normalize(question.letters.get(letter, "")) == rest:
                return letter
        for letter, text in question.letters.items():
            if normalize(text) == norm:
                return letter
    return None


def parse_answer(text: str | None, question: Question) -> Parsed:
    """The options an answer names (see the module docstring); empty when none."""
    if not text or not str(text).strip():
        return Parsed(frozenset(), 0)
    body = _PREFIX.sub("", extract_answer(str(text)).strip())
    by_norm = {normalize(o): o for o in question.options}
    whole = _match_part(body, question, by_norm)
    if whole is not None:
        return Parsed(frozenset({whole}), 0)
    parts = [p for p in _SPLIT.split(body) if normalize(p)]
    found = [_match_part(p, question, by_norm) for p in parts]
    matched = frozenset(f for f in found if f is not None)
    if not matched:
        return Parsed(frozenset(), 0)
    return Parsed(matched, sum(f is None for f in found))


def set_f1(parsed: Parsed, gold: frozenset[str]) -> float:
    """QoQ-Med's set F1 (``medical_compute_score``): 0 when nothing predicted is right."""
    tp = len(parsed.options & gold)
    fp = len(parsed.options - gold) + parsed.unmatched
    fn = len(gold - parsed.options)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


# ---------------------------------------------------------------- reading


def export_format_dir(export: Path) -> Path:
    """The ``<format>`` folder of an export (``export`` itself when it is one)."""
    export = Path(export)
    if (export / "summary.json").is_file():
        return export
    found = [export / f for f in FORMATS if (export / f / "summary.json").is_file()]
    if not found:
        raise AnswersError(f"{export}: not a `climb export qa` output (no <format>/summary.json)")
    return found[0]


def _question_text(row: dict[str, Any]) -> str:
    if "problem" in row:
        return str(row["problem"])
    turns = row.get("conversations") or []
    return str(turns[0].get("value", "")) if turns else ""


def _gold_answer(row: dict[str, Any]) -> str:
    if "answer" in row:
        return str(row["answer"])
    turns = row.get("conversations") or []
    return str(turns[1].get("value", "")) if len(turns) > 1 else ""


def question_from_row(row: dict[str, Any], where: str) -> Question:
    """A :class:`Question` from one export line (``where`` names it in errors)."""
    try:
        qid, dataset, task, split = (str(row[k]) for k in ("id", "dataset", "task", "split"))
    except KeyError as err:
        raise AnswersError(f"{where}: export line without {err.args[0]!r}") from None
    text = _question_text(row)
    match = _OPTIONS.search(text)
    if match is None:
        raise AnswersError(f"{where}: question {qid} lists no options")
    options = tuple(o.strip() for o in match.group(1).split("; "))
    multilabel = match.group(2) == "every"
    letters = (
        {m.group(1): m.group(2) for m in _LETTER_LINE.finditer(text) if m.group(1) in options}
        if _lettered(options)
        else {}
    )
    gold_text = _gold_answer(row)
    gold = [g.strip() for g in gold_text.split(", ")] if multilabel else [gold_text.strip()]
    if gold_text.strip() in options:
        gold = [gold_text.strip()]
    if not gold or any(g not in options for g in gold):
        raise AnswersError(f"{where}: the gold answer of {qid} is not among its options")
    return Question(qid, dataset, split, task, options, multilabel, frozenset(gold), letters)


def read_export(export: Path, split: str) -> list[Question]:
    """The questions of one split of an export, in file order."""
    fmt_dir = export_format_dir(export)
    path = fmt_dir / f"{split}.jsonl"
    if not path.is_file():
        present = sorted(p.stem for p in fmt_dir.glob("*.jsonl"))
        raise AnswersError(f"{path}: no such split in the export (splits: {present})")
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise AnswersError(f"{path}:{number}: not JSON") from None
            questions.append(question_from_row(row, f"{path}:{number}"))
    return questions


def read_answers(path: Path) -> dict[str, str | None]:
    """``{id: answer text}`` from an answers JSONL (errors name the line, never its text)."""
    path = Path(path)
    if not path.is_file():
        raise AnswersError(f"{path}: not found")
    answers: dict[str, str | None] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise AnswersError(f"{path}:{number}: not a JSON object") from None
        if not isinstance(row, dict):
            raise AnswersError(f"{path}:{number}: not a JSON object")
        qid = next((row[k] for k in ID_KEYS if row.get(k) is not None), None)
        if qid is None:
            raise AnswersError(f"{path}:{number}: no id field ({' or '.join(ID_KEYS)})")
        if str(qid) in answers:
            raise AnswersError(f"{path}:{number}: a second answer to one question id")
        text = next((row[k] for k in TEXT_KEYS if row.get(k) is not None), None)
        answers[str(qid)] = None if text is None else str(text)
    return answers


def patient_units(store: Path | None, datasets: Iterable[str]) -> dict[str, str] | None:
    """``{"<dataset>/<key>": unit}`` from the prepared store the export came from: the
    patient id, else the study id (e.g. the image of VQA-RAD questions), else the sample."""
    if store is None:
        return None
    import pyarrow.parquet as pq

    from climb.export.qa import media_key
    from climb.store.reader import open_store

    wanted = set(datasets)
    units: dict[str, str] = {}
    for ds in open_store(store):
        if ds.name not in wanted:
            continue
        for split in sorted({s["split"] for s in ds.manifest["shards"]}):
            for shard in ds.shards(split):
                table = pq.read_table(shard, columns=["sample_id", "patient_id", "study_id"])
                for sid, pid, study in zip(
                    *(table.column(i).to_pylist() for i in range(3)), strict=True
                ):
                    unit = f"patient:{pid}" if pid else f"study:{study}" if study else f"s:{sid}"
                    units[f"{ds.name}/{media_key(ds.name, sid, pid)}"] = unit
    missing = wanted - {k.split("/", 1)[0] for k in units}
    if missing:
        raise AnswersError(f"{store}: holds no prepared dataset {sorted(missing)}")
    return units


# ---------------------------------------------------------------- scoring


@dataclass
class Scored:
    """One question's outcome."""

    question: Question
    status: str  # answered | unparseable | missing
    parsed: Parsed
    f1: float

    @property
    def exact(self) -> bool:
        return self.parsed.options == self.question.gold and self.parsed.unmatched == 0


def score_questions(questions: Sequence[Question], answers: dict[str, str | None]) -> list[Scored]:
    """Parse and score every question (missing and unparseable answers score 0)."""
    out = []
    for q in questions:
        if q.id not in answers or answers[q.id] is None or not str(answers[q.id]).strip():
            out.append(Scored(q, "missing", Parsed(frozenset(), 0), 0.0))
            continue
        parsed = parse_answer(answers[q.id], q)
        status = "answered" if parsed.parseable else "unparseable"
        out.append(Scored(q, status, parsed, set_f1(parsed, q.gold)))
    return out


def _task_type(questions: Sequence[Question]) -> str:
    first = questions[0]
    if first.multilabel:
        return "multilabel"
    return "binary" if len(first.options) == 2 else "multiclass"


def task_document(
    scored: Sequence[Scored],
    units: np.ndarray,
    unit_name: str,
    n_resamples: int = bs.DEFAULT_RESAMPLES,
    seed: int = bs.DEFAULT_SEED,
) -> dict[str, Any]:
    """The metrics.json entry of one (dataset, task): point values and bootstrap CIs."""
    questions = [s.question for s in scored]
    options = list(questions[0].options)
    index = {o: i for i, o in enumerate(options)}
    gold = np.zeros((len(scored), len(options)))
    pred = np.zeros((len(scored), len(options)), dtype=bool)
    for row, s in enumerate(scored):
        for o in s.question.gold:
            gold[row, index[o]] = 1.0
        for o in s.parsed.options:
            pred[row, index[o]] = True
    f1 = np.array([s.f1 for s in scored])
    exact = np.array([s.exact for s in scored], dtype=np.float64)
    parsed = np.array([s.status == "answered" for s in scored], dtype=np.float64)
    arrays = TaskArrays(
        key=questions[0].key,
        type="multilabel",
        classes=options,
        y=gold,
        s=gold,
        sample_id=np.array([q.id for q in questions]),
        patient_id=units,
    )
    fixed = [c for c in range(len(options)) if 0 < gold[:, c].sum() < len(gold)]

    def statistic(W: np.ndarray) -> dict[str, np.ndarray]:
        total = W.sum(1)
        per_class = np.full((W.shape[0], len(options)), np.nan)
        for c in range(len(options)):
            per_class[:, c] = binary_threshold_metrics(gold[:, c], pred[:, c], W)["f1"]
        macro = np.nanmean(per_class[:, fixed], axis=1) if fixed else np.full(len(W), np.nan)
        return {
            "set_f1": W @ f1 / total,
            "accuracy": W @ exact / total,
            "f1_macro": macro,
            "parse_rate": W @ parsed / total,
            "class:f1": per_class,
        }

    point = statistic(np.ones((1, len(scored))))
    dist: dict[str, np.ndarray] = {}
    info: dict[str, Any] = {"redrawn": 0, "complete": True}
    if n_resamples > 0:
        dist, info = bs.bootstrap_with_redraws(
            statistic, units, n_resamples, seed, accept=classes_defined_check(arrays, fixed)
        )
    none = np.full(0, np.nan)
    counts = Counter(s.status for s in scored)
    return {
        "task": questions[0].key,
        "type": _task_type(questions),
        "headline": HEADLINE,
        "n_samples": len(scored),
        "n_patients": len(np.unique(units)),
        "bootstrap": {
            "unit": unit_name,
            "resamples": n_resamples,
            "seed": seed,
            "level": 0.95,
            "class_set": [options[c] for c in fixed],
            "redrawn": int(info["redrawn"]),
            "max_redraws": bs.MAX_REDRAW_FACTOR * n_resamples,
            "complete": bool(info["complete"]),
        },
        "classes_defined": {"defined": len(fixed), "of": len(options)},
        "metrics": {
            name: bs.summarize(float(point[name][0]), dist.get(name, none))
            for name in ("set_f1", "accuracy", "f1_macro", "parse_rate")
        },
        "per_class": {
            option: {
                "f1": bs.summarize(
                    float(point["class:f1"][0, c]),
                    dist["class:f1"][:, c] if "class:f1" in dist else none,
                )
            }
            for c, option in enumerate(options)
        },
        "not_computed": dict(NOT_COMPUTED),
        "answers": {
            "questions": len(scored),
            "answered": counts["answered"],
            "unparseable": counts["unparseable"],
            "missing": counts["missing"],
        },
        "groups": {},
        "worst_group": None,
        "min_group_size": None,
        "small_groups": [],
    }


def evaluate_answers(
    answers_path: Path,
    export: Path,
    split: str = "test",
    store: Path | None = None,
    n_resamples: int = bs.DEFAULT_RESAMPLES,
    seed: int = bs.DEFAULT_SEED,
) -> tuple[dict[str, Any], list[Scored]]:
    """Score ``answers_path`` against the ``split`` questions of ``export``: the metrics.json
    document and the per-question outcomes."""
    questions = read_export(Path(export), split)
    if not questions:
        raise AnswersError(f"{export}: the {split} split has no questions")
    answers = read_answers(Path(answers_path))
    scored = score_questions(questions, answers)
    asked = {q.id for q in questions}
    units_by_key = patient_units(store, {q.dataset for q in questions})
    tasks: dict[str, Any] = {}
    by_task: dict[str, list[Scored]] = {}
    for s in scored:
        by_task.setdefault(s.question.key, []).append(s)
    for key in sorted(by_task):
        part = by_task[key]
        if units_by_key is None:
            units = np.array([f"s:{s.question.dataset}/{s.question.sample_key}" for s in part])
            unit_name = "sample (no --store: patient ids unknown)"
        else:
            try:
                units = np.array(
                    [units_by_key[f"{s.question.dataset}/{s.question.sample_key}"] for s in part]
                )
            except KeyError as err:
                raise AnswersError(
                    f"{store}: no sample for exported question key {err.args[0]!r} (is it the "
                    "store the export was made from?)"
                ) from None
            unit_name = "patient"
        tasks[key] = task_document(part, units, unit_name, n_resamples, seed)
    document = {
        "run": Path(answers_path).stem,
        "regime": "answers",
        "split": split,
        "source": {
            "answers": str(answers_path),
            "export": str(export),
            "format": export_format_dir(Path(export)).name,
            "store": None if store is None else str(store),
        },
        "answers": {
            "questions": len(scored),
            "answered": sum(s.status == "answered" for s in scored),
            "unparseable": sum(s.status == "unparseable" for s in scored),
            "missing": sum(s.status == "missing" for s in scored),
            "not_in_export": sum(1 for a in answers if a not in asked),
        },
        "tasks": tasks,
    }
    return document, scored


def write_outputs(out: Path, document: dict[str, Any], scored: Sequence[Scored]) -> Path:
    """``OUT/metrics.json``, ``OUT/tasks.json``, ``OUT/config.yaml`` and
    ``OUT/answers-scored.jsonl``; returns the metrics path."""
    import yaml

    from climb.evaluate.run import write_json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = []
    for key, task in document["tasks"].items():
        first = next(s.question for s in scored if s.question.key == key)
        tasks.append(
            {
                "key": key,
                "dataset": first.dataset,
                "task": first.task,
                "type": task["type"],
                "classes": list(first.options),
            }
        )
    (out / "tasks.json").write_text(json.dumps(tasks, indent=2) + "\n")
    config = {"run": {"name": document["run"]}, "regime": "answers", **document["source"]}
    (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=True))
    lines = [
        json.dumps(
            {
                "id": s.question.id,
                "status": s.status,
                "parsed": sorted(s.parsed.options),
                "unmatched_parts": s.parsed.unmatched,
                "set_f1": round(s.f1, 6),
            }
        )
        for s in scored
    ]
    (out / "answers-scored.jsonl").write_text("".join(line + "\n" for line in lines))
    return write_json(out / "metrics.json", document)
