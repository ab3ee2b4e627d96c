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

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "dataset": self.dataset, "task": self.task, "type": self.type,
                "classes": list(self.classes)}


def task_specs_from_manifest(manifest: dict) -> list[TaskSpec]:
    """The TaskSpecs of one manifest, in its task order."""
    ds = manifest["dataset"]
    return [
        TaskSpec(f"{ds}.{t['name']}", ds, t["name"], t["type"], list(t.get("classes") or []))
        for t in manifest["tasks"]
    ]


def load_task_specs(store: str | Path, names: Sequence[str] | None = None) -> list[TaskSpec]:
    """TaskSpecs of the given prepared datasets of ``store`` (all when ``names`` is None)."""
    specs: list[TaskSpec] = []
    for d in dataset_dirs(store, names):
        specs += task_specs_from_manifest(read_manifest(d))
    return specs
