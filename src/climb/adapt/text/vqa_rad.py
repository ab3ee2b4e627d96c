"""vqa_rad: VQA-RAD, clinician-written questions about radiology images (Lau et al. 2018).

Layout (the OSF release): ``VQA_RAD Dataset Public.json`` (a list of question objects:
``qid, image_name, image_organ, answer, answer_type`` CLOSED/OPEN, ``question_type,
question, phrase_type`` freeform/para/test_freeform/test_para, ...) beside
``VQA_RAD Image Folder/<image_name>`` (JPEG). One record per question: inputs ``image``
(the standard ``uint8`` image of ``climb.adapt.imaging.decode_image``) and ``question``
(text); labels ``answer`` (the answer text, generation) and ``closed_yes_no`` (binary
no/yes for CLOSED questions answered yes or no, -1 otherwise).

Grouping and split: the image is the unit (``study_id``; no patient id is published). The
publisher's test set (phrase_type ``test_*``) is drawn per question, so one image can carry
training and test questions. Config ``split``: ``image`` (default) sends every question of
an image with any official test question to test, and the other images to train, a seeded
``val_fraction`` of them to val; ``official`` keeps the publisher's per-question split (the
manifest then shows images in two splits). ``items`` logs how many images the official
split puts in both.

The question text is checked for PHI (:func:`climb.harmonize.phi.check_text`); a hit
quarantines that question, naming the kind and the field only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import IMAGE_CONFIG, carve_val, decode_image, find_root, relative
from climb.errors import ClimbError, RecordError
from climb.harmonize.phi import check_text
from climb.record import Input, Record

from ._common import read_json, safe_relative

log = logging.getLogger(__name__)

JSON_NAME = "VQA_RAD Dataset Public.json"
IMAGE_FOLDER = "VQA_RAD Image Folder"
TEST_PHRASES = ("test_freeform", "test_para")
SPLIT_MODES = ("image", "official")
REQUIRED = ("qid", "image_name", "question", "answer", "answer_type", "phrase_type")


def official_split(phrase_type: str) -> str:
    """The publisher's split of one question: test for ``test_*`` phrase types, else train."""
    return "test" if str(phrase_type).strip().lower() in TEST_PHRASES else "train"


def closed_yes_no(answer_type: str, answer: str) -> int:
    """1 / 0 for a CLOSED question answered yes / no; -1 for any other question."""
    if str(answer_type).strip().upper() != "CLOSED":
        return -1
    return {"no": 0, "yes": 1}.get(str(answer).strip().lower().rstrip("."), -1)


class VqaRadAdapter(Adapter):
    name = "vqa_rad"
    default_config = {**IMAGE_CONFIG, "split": "image", "val_fraction": 0.1, "seed": 0}

    def _root(self, raw_dir: Path) -> Path:
        return find_root(Path(raw_dir), JSON_NAME)

    def items(self, raw_dir: Path) -> list[Item]:
        """One item per question (the JSON is small: each item carries its row)."""
        mode = str(self.config["split"])
        if mode not in SPLIT_MODES:
            raise ClimbError(f"vqa_rad: config split must be one of {SPLIT_MODES}, not {mode!r}")
        raw_dir = Path(raw_dir)
        root = self._root(raw_dir)
        json_source = relative(root / JSON_NAME, raw_dir)
        rows = read_json(root / JSON_NAME, json_source)
        if not isinstance(rows, list):
            raise RecordError(json_source, "expected a list of question objects")
        image_test: dict[str, bool] = {}
        image_splits: dict[str, set[str]] = {}
        items: list[Item] = []
        seen: set[str] = set()
        for index, row in enumerate(rows):
            source = f"{json_source}/{index}"
            missing = [k for k in REQUIRED if not isinstance(row, dict) or row.get(k) is None]
            qid = str(row.get("qid")) if isinstance(row, dict) else ""
            if missing or qid in seen:
                problem = f"missing fields {missing}" if missing else "duplicate qid"
                items.append(Item(source, f"row-{index}", {"error": problem}))
                continue
            seen.add(qid)
            image = str(row["image_name"]).strip()
            if not safe_relative(image):
                problem = "image_name leaves the image folder"
                items.append(Item(source, f"q{qid}", {"error": problem}))
                continue
            split = official_split(row["phrase_type"])
            image_test[image] = image_test.get(image, False) or split == "test"
            image_splits.setdefault(image, set()).add(split)
            info: dict[str, Any] = {
                "qid": qid,
                "image": relative(root / IMAGE_FOLDER / image, raw_dir),
                "image_name": image,
                "question": str(row["question"]),
                "answer": str(row["answer"]).strip(),
                "answer_type": str(row["answer_type"]).strip().upper(),
                "official_split": split,
            }
            items.append(Item(source=source, key=f"q{qid}", info=info))
        crossing = sum(len(s) > 1 for s in image_splits.values())
        if crossing:
            log.info(
                "vqa_rad: the official split puts %d of %d images in train and test",
                crossing,
                len(image_splits),
            )
        for item in items:
            if "error" in item.info:
                continue
            item.info["split"] = self._split(item.info, image_test[item.info["image_name"]])
        return items

    def _split(self, info: dict[str, Any], image_has_test: bool) -> str:
        if self.config["split"] == "official":
            return carve_val(
                info["official_split"],
                info["image_name"],
                float(self.config["val_fraction"]),
                int(self.config["seed"]),
            )
        if image_has_test:
            return "test"
        return carve_val(
            "train",
            info["image_name"],
            float(self.config["val_fraction"]),
            int(self.config["seed"]),
        )

    def item_files(self, raw_dir: Path, item: Item) -> list[Path]:
        """The JSON and the question's image (prepare's change detection)."""
        json_path = Path(raw_dir) / item.source.rsplit("/", 1)[0]
        files = [json_path]
        if "image" in item.info:
            files.append(Path(raw_dir) / item.info["image"])
        return files

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        if "error" in item.info:
            raise RecordError(item.source, item.info["error"])
        info = item.info
        check_text(item.source, {"question": info["question"], "answer": info["answer"]})
        image = decode_image(Path(raw_dir) / info["image"], info["image"], self.config)
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            study_id=info["image_name"],
            split=info["split"],
            inputs={"image": image, "question": Input(data=info["question"], encoding="text")},
            labels={
                "answer": info["answer"],
                "closed_yes_no": closed_yes_no(info["answer_type"], info["answer"]),
            },
            meta={"source_file": info["image"]},
        ).validate()


ADAPTER = VqaRadAdapter
