"""Task descriptions read from store manifests (``climb.load.TaskSpec``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from climb.store.manifest import dataset_dirs, read_manifest


@dataclass(frozen=True)
class TaskSpec:
    """One task of one dataset; ``key`` = f"{dataset}.{task}" names it in batches."""

    key: str
    dataset: str
    task: str
    type: str
    classes: list[str] = field(default_factory=list, hash=False)
    level: str = "sample"  # sample | token | node: one label per sample or per position

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def per_position(self) -> bool:
        """A ``level: token`` (per residue) or ``level: node`` (per graph node) task."""
        return self.level in POSITION_LEVELS

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"key": self.key, "dataset": self.dataset, "task": self.task,
                                  "type": self.type, "classes": list(self.classes)}
        if self.level != "sample":  # RUN/tasks.json names the level of per-position tasks
            out["level"] = self.level
        return out


POSITION_LEVELS = ("token", "node")


def catalog_level(dataset: str, task: str) -> str:
    """The catalog's ``level`` of a task (stores prepared before manifests carried it);
    ``sample`` for a dataset or task the catalog does not know."""
    from climb.catalog import load_catalog
    from climb.errors import CatalogError

    try:
        entry = load_catalog().get(dataset)
    except CatalogError:
        return "sample"
    return next((str(t.level or "sample") for t in entry.tasks if t.name == task), "sample")


def task_specs_from_manifest(manifest: dict) -> list[TaskSpec]:
    """The TaskSpecs of one manifest, in its task order."""
    ds = manifest["dataset"]
    return [
        TaskSpec(f"{ds}.{t['name']}", ds, t["name"], t["type"], list(t.get("classes") or []),
                 t.get("level") or catalog_level(ds, t["name"]))
        for t in manifest["tasks"]
    ]


def load_task_specs(store: str | Path, names: Sequence[str] | None = None) -> list[TaskSpec]:
    """TaskSpecs of the given prepared datasets of ``store`` (all when ``names`` is None)."""
    specs: list[TaskSpec] = []
    for d in dataset_dirs(store, names):
        specs += task_specs_from_manifest(read_manifest(d))
    return specs
