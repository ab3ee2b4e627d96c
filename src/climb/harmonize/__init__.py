"""Harmonized label vocabularies and per-dataset mapping tables, kept as data files.

- ``vocabularies/<name>.yaml``: ``{name, title, type, classes: [...], codes?: {class: [SNOMED]}}``
- ``mappings/<dataset>.yaml``: ``{dataset, tasks: {task: {vocabulary, map: {native: target}}}}``
  where ``target`` is a vocabulary class, a list of classes, or ``null`` (explicitly dropped).

A native label without an entry is an error (:class:`LabelMappingError`), never a guess.
Tasks without a vocabulary keep their native classes (identity mapping, still checked).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from climb.errors import CatalogError, LabelMappingError

UncertainPolicy = Literal["nan", "ones", "zeros"]

# A native label is quoted in an error only when it looks like a code (SNOMED-CT ids, SCP
# codes such as "NORM" or "1AVB", HAM10000's "mel", beat symbols such as "V" or "/"): one
# case, no spaces, at most 12 characters. Free text (a "Reason for
# admission", a "# Dx:" line) may hold a name or a date and is described, never copied.
_CODE_LIKE = re.compile(
    r"[0-9]{1,20}|[A-Z0-9_+\-/.()~|!\[\]'^*=?:]{1,12}|[a-z0-9_+\-/.]{1,12}"
)
_DATE_LIKE = re.compile(r".*\d{1,4}[-./]\d{1,2}[-./]\d{1,4}.*")


def describe_label(native: Any) -> str:
    """A label for an error message: quoted when code-like, else only its kind and length."""
    text = str(native)
    if _CODE_LIKE.fullmatch(text) and not _DATE_LIKE.fullmatch(text):
        return repr(text)
    return f"<free-text label, {len(text)} characters>"


def _data_dir(kind: str) -> Path:
    return Path(str(resources.files("climb.harmonize") / kind))


@dataclass(frozen=True)
class Vocabulary:
    name: str
    title: str
    type: str
    classes: tuple[str, ...]
    codes: Mapping[str, tuple[str, ...]]

    def index(self, cls: str) -> int:
        try:
            return self.classes.index(cls)
        except ValueError:
            raise LabelMappingError(
                f"vocabulary {self.name!r} has no class {cls!r}; classes: {list(self.classes)}"
            ) from None


@cache
def load_vocabulary(name: str) -> Vocabulary:
    """Load ``vocabularies/<name>.yaml``."""
    path = _data_dir("vocabularies") / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in _data_dir("vocabularies").glob("*.yaml"))
        raise CatalogError(f"unknown vocabulary {name!r}; known: {known}")
    data = yaml.safe_load(path.read_text())
    codes = {k: tuple(str(c) for c in v) for k, v in (data.get("codes") or {}).items()}
    return Vocabulary(
        name=data["name"],
        title=data.get("title", data["name"]),
        type=data.get("type", "multiclass"),
        classes=tuple(data["classes"]),
        codes=codes,
    )


def list_vocabularies() -> list[str]:
    return sorted(p.stem for p in _data_dir("vocabularies").glob("*.yaml"))


@cache
def load_mapping_file(dataset: str) -> dict[str, Any] | None:
    """The raw mapping table of a dataset, or None when it has none."""
    path = _data_dir("mappings") / f"{dataset}.yaml"
    if not path.exists():
        return None
    return yaml.safe_load(path.read_text())


class LabelMapper:
    """Maps one task's native labels into its harmonized class list.

    Build it with :meth:`for_task`. ``classes`` is the harmonized class list (the vocabulary's,
    or the native classes when the task has no vocabulary).
    """

    def __init__(
        self,
        dataset: str,
        task: str,
        task_type: str,
        classes: Iterable[str],
        table: Mapping[str, Any],
        uncertain_policy: UncertainPolicy = "nan",
    ):
        self.dataset = dataset
        self.task = task
        self.type = task_type
        self.classes = list(classes)
        self._index = {c: i for i, c in enumerate(self.classes)}
        self.table = dict(table)
        self.uncertain_policy = uncertain_policy
        for native, target in self.table.items():
            for t in self._targets_of(target):
                if t not in self._index:
                    raise CatalogError(
                        f"mapping {dataset}/{task}: {native!r} -> {t!r}, which is not a class "
                        f"of the harmonized vocabulary {self.classes}"
                    )

    @staticmethod
    def _targets_of(target: Any) -> list[str]:
        if target is None:
            return []
        if isinstance(target, list | tuple):
            return [str(t) for t in target]
        return [str(target)]

    @classmethod
    def for_task(cls, entry: Any, task_name: str, uncertain_policy: UncertainPolicy | None = None):
        """Mapper for ``entry``'s task ``task_name`` (entry: a catalog DatasetEntry).

        ``uncertain_policy`` given by the caller (e.g. a prepare config) wins over the mapping
        table's ``uncertain_policy``, which wins over the default ``nan``.
        """
        task = entry.task(task_name)
        mapping = load_mapping_file(entry.name) or {}
        spec = (mapping.get("tasks") or {}).get(task_name)
        if task.vocabulary is None:
            table = (spec or {}).get("map") or {c: c for c in task.classes}
            policy = uncertain_policy or "nan"
            return cls(entry.name, task_name, task.type, task.classes, table, policy)
        if spec is None:
            raise CatalogError(
                f"{entry.name}/{task_name} uses vocabulary {task.vocabulary!r} but "
                f"harmonize/mappings/{entry.name}.yaml has no table for it"
            )
        vocab = load_vocabulary(task.vocabulary)
        policy = uncertain_policy or spec.get("uncertain_policy", "nan")
        return cls(entry.name, task_name, task.type, vocab.classes, spec["map"], policy)

    def targets(self, native: Any) -> list[str]:
        """Harmonized classes for one native label ([] when explicitly dropped)."""
        key = str(native)
        if key not in self.table:
            raise LabelMappingError(
                f"{self.dataset}/{self.task}: native label {describe_label(key)} has no entry in "
                "the mapping "
                f"table (add it to harmonize/mappings/{self.dataset}.yaml, or map it to null)"
            )
        return self._targets_of(self.table[key])

    def multiclass(self, native: Any) -> int:
        """Index of the harmonized class; -1 for a missing or explicitly dropped label."""
        if native is None or (isinstance(native, float) and math.isnan(native)):
            return -1
        targets = self.targets(native)
        if not targets:
            return -1
        if len(targets) > 1:
            raise LabelMappingError(
                f"{self.dataset}/{self.task}: {describe_label(native)} maps to several classes "
                f"{targets} "
                "in a multiclass task"
            )
        return self._index[targets[0]]

    def multilabel_from_positives(self, positives: Iterable[Any]) -> np.ndarray:
        """Vector over the harmonized classes: 1 for mapped positives, 0 for the rest."""
        out = np.zeros(len(self.classes), dtype=np.float32)
        for native in positives:
            for t in self.targets(native):
                out[self._index[t]] = 1.0
        return out

    def multilabel_from_values(self, values: Mapping[Any, Any]) -> np.ndarray:
        """Vector from {native: 1 | 0 | -1 | NaN/None}; classes never mentioned stay NaN.

        ``-1`` (uncertain) follows the uncertain policy: NaN by default, or 1 / 0 for the
        ``ones`` / ``zeros`` policies; it is never silently 0. Several natives mapping to one
        class combine by maximum over the known values.
        """
        out = np.full(len(self.classes), np.nan, dtype=np.float32)
        for native, raw in values.items():
            value = _as_label_value(raw)
            if value == -1.0:
                value = {"nan": np.nan, "ones": 1.0, "zeros": 0.0}[self.uncertain_policy]
            for t in self.targets(native):
                i = self._index[t]
                if math.isnan(value):
                    continue
                out[i] = value if math.isnan(out[i]) else max(out[i], value)
        return out


def _as_label_value(raw: Any) -> float:
    if raw is None or raw == "":
        return float("nan")
    value = float(raw)
    if not (math.isnan(value) or value in (-1.0, 0.0, 1.0)):
        raise LabelMappingError(f"label value {describe_label(raw)} is not 1, 0, -1 or blank")
    return value


def coverage_problems(catalog: Iterable[Any]) -> list[str]:
    """Every cataloged native class of a vocabulary-mapped task must be in its mapping table."""
    problems: list[str] = []
    for entry in catalog:
        for task in entry.tasks:
            if task.vocabulary is None:
                continue
            try:
                mapper = LabelMapper.for_task(entry, task.name)
            except CatalogError as err:
                problems.append(str(err))
                continue
            missing = [c for c in task.classes if c not in mapper.table]
            if missing:
                problems.append(
                    f"{entry.name}/{task.name}: native classes without a mapping: {missing}"
                )
    return problems
