"""The adapter interface and registry.

An adapter has two steps, so that `prepare` can fan the expensive one out over a process pool
or a Ray cluster and quarantine one bad source without losing the rest:

1. ``items(raw_dir)`` walks the official layout and returns small, picklable
   :class:`Item` objects (a relative source path plus whatever label info the index files
   give). Cheap: no signal or pixel decoding.
2. ``load(raw_dir, item)`` decodes one item (through :mod:`climb.read`) and returns its
   records (one, or several: windows, beats, events). It raises
   :class:`climb.errors.RecordError` for a bad source.

The catalog entry's ``adapter`` field names the module under ``climb.adapt`` (for example
``ecg.ptbxl``); that module defines one ``Adapter`` subclass and assigns it to ``ADAPTER``.
Adding a dataset = catalog entry + adapter module + fixture + test; nothing else changes.
"""

from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from climb.catalog import DatasetEntry, load_catalog
from climb.errors import CatalogError
from climb.harmonize import LabelMapper
from climb.record import Record


@dataclass(frozen=True)
class Item:
    """One unit of work for `prepare`: a source (path relative to the raw root) + index info."""

    source: str
    key: str
    info: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class Adapter(ABC):
    """Base class of every dataset adapter.

    Subclasses set ``name`` (the catalog name) and implement :meth:`items` and :meth:`load`.
    ``config`` holds per-dataset preprocessing options (resampling rate, window length...);
    defaults are in ``default_config`` and are recorded, with their hash, in the manifest.
    """

    name: ClassVar[str]
    default_config: ClassVar[dict[str, Any]] = {}

    def __init__(self, entry: DatasetEntry | None = None, config: dict[str, Any] | None = None):
        self.entry = entry if entry is not None else load_catalog().get(self.name)
        self.config = {**self.default_config, **(config or {})}
        self._mappers: dict[str, LabelMapper] = {}

    def mapper(self, task: str) -> LabelMapper:
        """The label mapper of one of this dataset's tasks (cached)."""
        if task not in self._mappers:
            policy = self.config.get("uncertain_policy")  # None: the mapping table decides
            self._mappers[task] = LabelMapper.for_task(self.entry, task, policy)
        return self._mappers[task]

    def task_classes(self) -> dict[str, list[str]]:
        """Harmonized classes per task, in the order the label vectors use."""
        return {t.name: self.mapper(t.name).classes for t in self.entry.tasks}

    @abstractmethod
    def items(self, raw_dir: Path) -> list[Item]:
        """List the work items of the official layout under ``raw_dir`` (cheap)."""

    @abstractmethod
    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        """Decode one item into records; raise RecordError for a bad source."""

    def records(self, raw_dir: Path) -> Iterable[Record]:
        """All records, serially (convenience for tests and small datasets)."""
        raw_dir = Path(raw_dir)
        for item in self.items(raw_dir):
            yield from self.load(raw_dir, item)


def _adapter_module(entry: DatasetEntry) -> str:
    if not entry.adapter:
        raise CatalogError(f"dataset {entry.name!r} has no adapter yet")
    return f"climb.adapt.{entry.adapter}"


def has_adapter(entry: DatasetEntry) -> bool:
    """True when the entry names an adapter module that exists."""
    if not entry.adapter:
        return False
    try:
        return importlib.util.find_spec(_adapter_module(entry)) is not None
    except ModuleNotFoundError:  # the modality folder does not exist yet
        return False


def get_adapter(
    name: str | DatasetEntry, config: dict[str, Any] | None = None, catalog=None
) -> Adapter:
    """Instantiate the adapter of a catalog dataset."""
    entry = name if isinstance(name, DatasetEntry) else (catalog or load_catalog()).get(name)
    module = importlib.import_module(_adapter_module(entry))
    cls = getattr(module, "ADAPTER", None)
    if cls is None or not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise CatalogError(f"{module.__name__} must define ADAPTER = <Adapter subclass>")
    return cls(entry=entry, config=config)
