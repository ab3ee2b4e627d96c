"""medqa_usmle: MedQA, English (USMLE) multiple-choice questions (Jin et al. 2021).

Layout (the publisher's ``data_clean``): ``data_clean/questions/US/{train,dev,test}.jsonl``
(5 options A-E) and ``data_clean/questions/US/4_options/phrases_no_exclude_{train,dev,test}
.jsonl`` (4 options A-D); one JSON object per line, ``{"question", "answer", "options":
{"A": ..., ...}, "answer_idx": "C", "meta_info", ...}``. Config ``options``: 4 (default,
the version most papers report) or 5.

One record per question, ``sample_id`` ``<file split>-<line:05d>`` (the files give no id):
input ``question``, the vignette followed by one ``<letter>. <option>`` line per option;
label ``answer`` (multiclass A..E) from ``answer_idx``, checked against the options and
against ``answer`` (the option's text). Official split: train / dev (-> val) / test.
Vignettes and options are checked for PHI (:func:`climb.harmonize.phi.check_text`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import find_root, relative
from climb.errors import ClimbError, RecordError
from climb.harmonize.phi import check_text
from climb.record import Input, Record

from ._common import read_jsonl

US = "questions/US"
FILES = {
    5: {s: f"{US}/{s}.jsonl" for s in ("train", "dev", "test")},
    4: {s: f"{US}/4_options/phrases_no_exclude_{s}.jsonl" for s in ("train", "dev", "test")},
}
SPLITS = {"train": "train", "dev": "val", "test": "test"}


def question_text(question: str, options: dict[str, str]) -> str:
    """The vignette and its lettered options, one ``A. ...`` line each, in letter order."""
    lines = [question.strip()] + [f"{k}. {str(options[k]).strip()}" for k in sorted(options)]
    return "\n".join(lines)


class MedQAAdapter(Adapter):
    name = "medqa_usmle"
    default_config = {"options": 4}

    def _files(self) -> dict[str, str]:
        count = int(self.config["options"])
        if count not in FILES:
            raise ClimbError(f"medqa_usmle: config options must be 4 or 5, not {count}")
        return FILES[count]

    def items(self, raw_dir: Path) -> list[Item]:
        """One item per question line; the files are small, each item carries its row."""
        raw_dir = Path(raw_dir)
        files = self._files()
        root = find_root(raw_dir, files["test"])
        items = []
        for file_split, rel in files.items():
            source = relative(root / rel, raw_dir)
            for number, row in read_jsonl(root / rel, source):
                key = f"{file_split}-{number:05d}"
                where = f"{source}/{number}"
                info: dict[str, Any] = {"split": SPLITS[file_split], "file": source}
                if row is None:
                    info["error"] = f"line {number} is not a JSON object"
                else:
                    info["row"] = {
                        k: row.get(k) for k in ("question", "options", "answer_idx", "answer")
                    }
                items.append(Item(source=where, key=key, info=info))
        return items

    def item_files(self, raw_dir: Path, item: Item) -> list[Path]:
        return [Path(raw_dir) / item.info["file"]]

    def label(self, row: dict[str, Any], source: str) -> int:
        """The class index of ``answer_idx``, checked against the options and the answer."""
        options = row.get("options")
        letter = str(row.get("answer_idx") or "").strip().upper()
        if not isinstance(options, dict) or not options:
            raise RecordError(source, "no options")
        classes = self.mapper("answer").classes
        if not set(options) <= set(classes):
            raise RecordError(source, f"option letters outside {classes}")
        if letter not in options:
            raise RecordError(source, "answer_idx is not one of the options")
        answer = row.get("answer")
        if (
            answer is not None
            and " ".join(str(answer).split()).lower()
            != " ".join(str(options[letter]).split()).lower()
        ):
            raise RecordError(source, "answer text differs from the option answer_idx names")
        return self.mapper("answer").multiclass(letter)

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        if "error" in item.info:
            raise RecordError(item.source, item.info["error"])
        row = item.info["row"]
        if not isinstance(row.get("question"), str) or not row["question"].strip():
            raise RecordError(item.source, "no question text")
        label = self.label(row, item.source)
        options = {str(k): str(v) for k, v in row["options"].items()}
        check_text(
            item.source,
            {"question": row["question"], **{f"options.{k}": v for k, v in options.items()}},
        )
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            split=item.info["split"],
            inputs={
                "question": Input(data=question_text(row["question"], options), encoding="text")
            },
            labels={"answer": label},
            meta={"source_file": item.info["file"]},
        ).validate()


ADAPTER = MedQAAdapter
