"""Read what the report needs from run directories: config, tasks, metrics.json, robustness.json.

Runs are identified by their config.yaml (the shape of ``climb.train.config``): ``regime``
(single | multitask | fewshot | probe | finetune), ``run.name`` (or ``name``), ``fewshot.k``,
``model.fusion.type`` and ``model.encoders`` (its keys are the model's inputs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from climb.evaluate.run import RunError, evaluate_run, read_config, read_tasks, run_name


@dataclass
class RunInfo:
    """One run directory as the report sees it."""

    path: Path
    name: str
    regime: str | None
    config: dict[str, Any]
    tasks: dict[str, dict]
    metrics: dict[str, Any] | None = None
    robustness: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def fewshot_k(self) -> int | None:
        fs = self.config.get("fewshot")
        k = fs.get("k") if isinstance(fs, dict) else self.config.get("k")
        return int(k) if k is not None and self.regime == "fewshot" else None

    @property
    def init(self) -> str:
        """"pretrained" when the run starts from a checkpoint (init.checkpoint), else "scratch"."""
        init = self.config.get("init")
        return "pretrained" if isinstance(init, dict) and init.get("checkpoint") else "scratch"

    @property
    def fusion(self) -> str | None:
        model = self.config.get("model")
        fusion = model.get("fusion") if isinstance(model, dict) else None
        if isinstance(fusion, dict):
            return fusion.get("type")
        return fusion if isinstance(fusion, str) else None

    @property
    def inputs(self) -> list[str]:
        model = self.config.get("model")
        encoders = model.get("encoders") if isinstance(model, dict) else None
        return sorted(encoders) if isinstance(encoders, dict) else []

    @property
    def modality_subset(self) -> list[str] | None:
        """The inputs of a modality-subset study run (``climb train --modality-subsets``):
        its metrics.json ``modality_subset``, else its study's ``study.json``; None for any
        other run."""
        subset = (self.metrics or {}).get("modality_subset")
        if isinstance(subset, list):
            return [str(s) for s in subset]
        study = self.path.parent / "study.json"
        if not study.exists():
            return None
        try:
            document = json.loads(study.read_text())
        except json.JSONDecodeError:
            return None
        for run in document.get("runs", []) if isinstance(document, dict) else []:
            if isinstance(run, dict) and Path(str(run.get("dir", ""))).name == self.path.name:
                return [str(s) for s in run.get("subset") or []]
        return None

    @property
    def study(self) -> str | None:
        """The name of the modality-subset study this run belongs to (None for other runs)."""
        if self.modality_subset is None:
            return None
        study = (self.metrics or {}).get("study")
        return str(study["name"]) if isinstance(study, dict) and study.get("name") else (
            self.path.parent.name)

    def task_metrics(self, key: str) -> dict[str, Any] | None:
        if not self.metrics:
            return None
        return self.metrics.get("tasks", {}).get(key)


def load_run_info(
    run_dir: str | Path, split: str = "test", n_resamples: int = 1000, seed: int = 0
) -> RunInfo:
    """Read one run. When RUN/metrics.json lacks the full evaluation (CIs) of ``split``, the
    run is evaluated with climb.evaluate (metrics are never computed by the report itself)."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"{path}: not a directory")
    config = read_config(path)
    info = RunInfo(
        path=path,
        name=run_name(config, path),
        regime=config.get("regime"),
        config=config,
        tasks=read_tasks(path),
    )
    metrics_path = path / "metrics.json"
    if metrics_path.exists():
        try:
            document = json.loads(metrics_path.read_text())
        except json.JSONDecodeError as err:
            raise RunError(f"{metrics_path}: invalid JSON ({err})") from err
        if isinstance(document, dict) and document.get("split") == split and "tasks" in document:
            info.metrics = document
    if info.metrics is None:
        if (path / "predictions" / f"{split}.parquet").exists():
            info.metrics = evaluate_run(path, split=split, n_resamples=n_resamples, seed=seed)
            info.notes.append(
                f"metrics computed from predictions/{split}.parquet (no full metrics.json yet)"
            )
        else:
            info.notes.append(f"no metrics.json and no predictions/{split}.parquet")
    robustness_path = path / "robustness.json"
    if robustness_path.exists():
        try:
            info.robustness = json.loads(robustness_path.read_text())
        except json.JSONDecodeError as err:
            raise RunError(f"{robustness_path}: invalid JSON ({err})") from err
    return info


def expand_studies(run_dirs: list[Path]) -> list[Path]:
    """Run directories, with a modality-subset study directory (``study.json``, from
    ``climb train --modality-subsets``) replaced by its runs."""
    out: list[Path] = []
    for run_dir in run_dirs:
        study = Path(run_dir) / "study.json"
        if not study.exists() or (Path(run_dir) / "config.yaml").exists():
            out.append(Path(run_dir))
            continue
        try:
            document = json.loads(study.read_text())
        except json.JSONDecodeError as err:
            raise RunError(f"{study}: invalid JSON ({err})") from err
        out += [Path(run_dir) / Path(str(r["dir"])).name for r in document.get("runs", [])]
    return out
