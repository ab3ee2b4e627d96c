"""vital: BioMed-VITAL clinician-preference-aligned visual instructions (Cui et al. 2024).

Layout: ``BioMed-VITAL-instructions-<N>K.json`` (config ``file``; default the 210K release),
a list of ``{id, image, domain, conversations: [{from: "human"|"gpt", value}, ...]}``, and
the PMC figures, downloaded separately, under ``images/<image>`` (config ``images``).

One record per conversation: input ``text`` holds the turns before the last response
(``User: ...`` / ``Assistant: ...`` lines, ``<image>`` tokens removed), label
``instruction_following`` the last response (generation), label ``domain`` (multilabel) the
figure's domain through ``harmonize/mappings/vital.yaml`` (a name such as ``CXR``, or
LLaVA-Med's ``{chest_xray: true, ...}`` flags; absent = unknown). Input ``image`` when the
figure is on disk; otherwise the record keeps its text and ``meta.notes`` says the image is
not downloaded. The figure (``study_id``) is the grouping unit: 98/1/1 train/val/test by a
seeded hash of its path (config ``seed``), so its several conversations share a split.

The conversation text is generated from article figures and captions, which no publisher
de-identified: every turn is checked for PHI (:func:`climb.harmonize.phi.check_text`) and a
hit quarantines the conversation, naming the kind and the turn only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import IMAGE_CONFIG, decode_image
from climb.errors import LabelMappingError, RecordError
from climb.harmonize.phi import check_text
from climb.record import Input, Record
from climb.split import SplitConfig, hashed_split

from ._common import read_json, safe_relative

DEFAULT_FILE = "BioMed-VITAL-instructions-210K.json"
RATIOS = (0.98, 0.01, 0.01)
ROLES = {"human": "User", "gpt": "Assistant"}


def render_turns(turns: list[dict[str, Any]]) -> tuple[str, str]:
    """(context text, last response) of a conversation: the turns before the last ``gpt``
    turn as ``User:`` / ``Assistant:`` lines, and that turn's text."""
    last = max((i for i, t in enumerate(turns) if t.get("from") == "gpt"), default=None)
    if last is None:
        raise ValueError("no response turn")
    lines = []
    for turn in turns[:last]:
        role = ROLES.get(str(turn.get("from")))
        if role is None:
            raise ValueError("a turn that is neither human nor gpt")
        text = str(turn.get("value") or "").replace("<image>", "").strip()
        lines.append(f"{role}: {text}")
    if not lines:
        raise ValueError("no instruction before the response")
    return "\n".join(lines), str(turns[last].get("value") or "").strip()


def domain_natives(domain: Any) -> list[str] | None:
    """The native domain names of one conversation (None when the field is absent)."""
    if domain is None:
        return None
    if isinstance(domain, dict):
        return sorted(str(k).strip().lower() for k, v in domain.items() if v)
    return [str(domain).strip().lower()]


class VitalAdapter(Adapter):
    name = "vital"
    default_config = {**IMAGE_CONFIG, "file": DEFAULT_FILE, "images": "images", "seed": 0}

    def items(self, raw_dir: Path) -> list[Item]:
        """One item per conversation; each carries its turns (the JSON is read once)."""
        name = str(self.config["file"])
        rows = read_json(Path(raw_dir) / name, name)
        if not isinstance(rows, list):
            raise RecordError(name, "expected a list of conversation objects")
        split_config = SplitConfig(seed=int(self.config["seed"]), ratios=RATIOS)
        items = []
        seen: set[str] = set()
        for index, row in enumerate(rows):
            source = f"{name}/{index}"
            ok = isinstance(row, dict) and row.get("id") is not None
            ok = ok and isinstance(row.get("conversations"), list)
            key = str(row["id"]) if ok else f"row-{index}"
            if not ok or key in seen:
                problem = "duplicate id" if ok else "missing id or conversations"
                items.append(Item(source, f"row-{index}", {"error": problem}))
                continue
            seen.add(key)
            image = str(row.get("image") or "").strip()
            if image and not safe_relative(image):
                items.append(Item(source, key, {"error": "image path leaves the images folder"}))
                continue
            group = image or key
            items.append(
                Item(
                    source=source,
                    key=key,
                    info={
                        "image": image,
                        "domain": domain_natives(row.get("domain")),
                        "turns": row["conversations"],
                        "split": hashed_split(group, split_config),
                    },
                )
            )
        return items

    def _image_path(self, raw_dir: Path, image: str) -> Path:
        return Path(raw_dir) / str(self.config["images"]) / image

    def item_files(self, raw_dir: Path, item: Item) -> list[Path]:
        """The JSON and, when downloaded, the conversation's figure."""
        files = [Path(raw_dir) / str(self.config["file"])]
        image = item.info.get("image")
        if image and self._image_path(raw_dir, image).is_file():
            files.append(self._image_path(raw_dir, image))
        return files

    def domain_label(self, natives: list[str] | None, source: str) -> np.ndarray:
        mapper = self.mapper("domain")
        if natives is None:
            return np.full(len(mapper.classes), np.nan, dtype=np.float32)
        try:
            return mapper.multilabel_from_positives(natives)
        except LabelMappingError as err:
            raise RecordError(source, str(err)) from None

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        if "error" in item.info:
            raise RecordError(item.source, item.info["error"])
        info = item.info
        try:
            context, response = render_turns(info["turns"])
        except (ValueError, AttributeError, TypeError) as err:
            msg = str(err) if isinstance(err, ValueError) else "malformed turns"
            raise RecordError(item.source, f"conversation: {msg}") from None
        check_text(
            item.source,
            {f"conversations[{i}]": str(t.get("value") or "") for i, t in enumerate(info["turns"])},
        )
        inputs = {"text": Input(data=context, encoding="text")}
        meta: dict[str, Any] = {}
        image = info["image"]
        if image:
            rel = f"{self.config['images']}/{image}"
            meta["source_file"] = rel
            if self._image_path(raw_dir, image).is_file():
                inputs["image"] = decode_image(self._image_path(raw_dir, image), rel, self.config)
            else:
                meta["notes"] = "image not downloaded"
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            study_id=image or None,
            split=info["split"],
            inputs=inputs,
            labels={
                "instruction_following": response,
                "domain": self.domain_label(info["domain"], item.source),
            },
            meta=meta,
        ).validate()


ADAPTER = VitalAdapter
