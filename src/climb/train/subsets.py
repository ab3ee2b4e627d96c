"""The modality-combination study: one training run per non-empty subset of a model's inputs.

``climb train CONFIG --modality-subsets`` trains the config's model on every non-empty subset
of its inputs (``data.inputs``, else the encoder names), e.g. ``{ecg}``, ``{tabular}`` and
``{ecg, tabular}``, each as its own run directory under one study directory::

    run.dir / run.name /                       the study (run.name defaults to the config stem)
        study.json                             inputs, subsets, split, one summary row per run
        <run.name>-ecg/                        an ordinary run: config.yaml (resolved, with the
        <run.name>-ecg+tabular/ ...            subset's encoders only), checkpoints, predictions,
                                               metrics.json (+ "modality_subset")

Every subset keeps the same fusion type and settings, built over the subset's encoders only:
a single-input subset is the same fusion module with one input (every fusion of
:mod:`climb.models.fusion` accepts one; a ``cross_attention`` query outside the subset falls
back to the subset's first input). Each run is evaluated on the same test split with the
patient-level bootstrap CI of :func:`climb.evaluate.run.evaluate_run`.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from climb.errors import ClimbError

log = logging.getLogger(__name__)

STUDY_FILE = "study.json"
STUDY_KIND = "modality_subsets"
MAX_INPUTS = 6  # 63 runs; beyond that the study is not something to start by accident


def modality_subsets(inputs: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset of ``inputs``, smallest first, names sorted within a subset."""
    names = sorted(set(inputs))
    if not names:
        raise ClimbError("modality subsets: the model has no inputs")
    if len(names) > MAX_INPUTS:
        raise ClimbError(f"modality subsets: {len(names)} inputs would need "
                         f"{2 ** len(names) - 1} runs (at most {MAX_INPUTS} inputs)")
    return [c for size in range(1, len(names) + 1) for c in itertools.combinations(names, size)]


def subset_label(subset: Sequence[str]) -> str:
    """``ecg+tabular``: the subset as it appears in run names, tables and plots."""
    return "+".join(subset)


def model_inputs(cfg: dict[str, Any]) -> list[str]:
    """The inputs the config's model reads (``data.inputs``, else its encoders)."""
    return sorted(cfg["data"]["inputs"] or cfg["model"]["encoders"])


def subset_config(cfg: dict[str, Any], subset: Sequence[str], study_dir: Path,
                  study_name: str) -> dict[str, Any]:
    """``cfg`` restricted to ``subset``: its encoders and transforms only, the same fusion
    (a ``query`` outside the subset dropped), run ``study_dir / <study>-<subset>``."""
    missing = sorted(set(subset) - set(cfg["model"]["encoders"]))
    if missing:
        raise ClimbError(f"modality subsets: input {missing[0]!r} has no encoder in "
                         "model.encoders")
    out = copy.deepcopy(cfg)
    out["model"]["encoders"] = {n: out["model"]["encoders"][n] for n in subset}
    out["data"]["inputs"] = list(subset)
    out["transforms"] = {n: t for n, t in (out.get("transforms") or {}).items() if n in subset}
    fusion = out["model"].get("fusion") or {"type": "none"}
    if fusion.get("query") is not None and fusion["query"] not in subset:
        fusion = {k: v for k, v in fusion.items() if k != "query"}
    out["model"]["fusion"] = fusion
    out["run"]["dir"] = str(study_dir)
    out["run"]["name"] = f"{study_name}-{subset_label(subset)}"
    return out


def run_modality_subsets(cfg: dict[str, Any], n_resamples: int = 1000, seed: int = 0,
                         split: str | None = None) -> dict[str, Any]:
    """Train and evaluate one run per input subset of the resolved config ``cfg``.

    Returns the study document (also written to ``STUDY/study.json``): ``{kind, study, dir,
    inputs, split, bootstrap: {resamples, seed}, runs: [{subset, run, dir, tasks}]}`` where
    ``tasks`` maps each task to its headline metric, value, CI, unit and counts."""
    from climb.evaluate.run import evaluate_run, write_json
    from climb.train.config import validate
    from climb.train.runner import run

    if cfg["regime"] not in ("single", "multitask"):
        raise ClimbError(f"modality subsets: regime {cfg['regime']!r} is not supported "
                         "(single or multitask)")
    split = split or cfg["data"]["test_split"]
    if split not in (cfg["run"]["predict"] or []):
        raise ClimbError(f"modality subsets: split {split!r} is not in run.predict")
    study_name = cfg["run"]["name"] or cfg["regime"]
    study_dir = Path(cfg["run"]["dir"]) / study_name
    inputs = model_inputs(cfg)
    subsets = modality_subsets(inputs)
    study_dir.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "kind": STUDY_KIND, "study": study_name, "dir": str(study_dir), "inputs": inputs,
        "fusion": (cfg["model"].get("fusion") or {}).get("type", "none"), "split": split,
        "bootstrap": {"resamples": n_resamples, "seed": seed}, "runs": [],
    }
    for subset in subsets:
        sub = validate(subset_config(cfg, subset, study_dir, study_name))
        run_path = study_dir / sub["run"]["name"]
        log.info("modality subset %s -> %s", subset_label(subset), run_path)
        trained = run(sub)
        if not trained:  # a non-zero DDP rank: rank 0 evaluates and writes
            continue
        evaluation = evaluate_run(run_path, split=split, n_resamples=n_resamples, seed=seed)
        evaluation["modality_subset"] = list(subset)
        evaluation["study"] = {"kind": STUDY_KIND, "name": study_name, "inputs": inputs}
        evaluation["training"] = {k: trained.get(k) for k in
                                  ("checkpoint", "monitor", "epochs", "global_step",
                                   "best_score")}
        write_json(run_path / "metrics.json", evaluation)
        document["runs"].append({"subset": list(subset), "run": sub["run"]["name"],
                                 "dir": str(run_path), "tasks": headline_summary(evaluation)})
        write_json(study_dir / STUDY_FILE, document)
    return document


def headline_summary(evaluation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per task of a metrics.json document: its headline metric, value, 95% CI, CI unit and
    sample / patient counts."""
    from climb.evaluate.metrics import HEADLINE

    out = {}
    for key, task in (evaluation.get("tasks") or {}).items():
        metric = task.get("headline") or HEADLINE[task["type"]]
        entry = (task.get("metrics") or {}).get(metric) or {}
        out[key] = {"metric": metric, "value": entry.get("value"),
                    "ci": entry.get("ci") or [None, None],
                    "unit": (task.get("bootstrap") or {}).get("unit", "patient"),
                    "n": task.get("n_samples"), "patients": task.get("n_patients")}
    return out


def read_study(study_dir: str | Path) -> dict[str, Any]:
    """``STUDY/study.json`` of a modality-subset study."""
    path = Path(study_dir) / STUDY_FILE
    if not path.exists():
        raise ClimbError(f"{path}: not a modality-subset study (no {STUDY_FILE})")
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ClimbError(f"{path}: invalid JSON ({err})") from None
    if document.get("kind") != STUDY_KIND:
        raise ClimbError(f"{path}: kind {document.get('kind')!r} is not {STUDY_KIND!r}")
    return document


def study_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (subset, task) of a study document: subset label, task, metric, value,
    CI, CI unit, n, patients."""
    return [{"subset": subset_label(r["subset"]), "run": r["run"], "task": key, **entry}
            for r in document["runs"] for key, entry in sorted(r["tasks"].items())]


def study_table(document: dict[str, Any]):
    """A Rich table of the study: subset, task, headline metric with its 95% CI, n (a task or
    CI unit shared by every row goes to the title / caption)."""
    from rich.table import Table

    rows = study_rows(document)
    tasks = sorted({r["task"] for r in rows})
    units = sorted({str(r["unit"]) for r in rows})
    title = (f"modality subsets: {document['study']} ({document['fusion']} fusion), "
             f"{document['split']} split" + (f", {tasks[0]}" if len(tasks) == 1 else ""))
    caption = f"95% bootstrap CI over {units[0]}" if len(units) == 1 else "95% bootstrap CI"
    table = Table(title=title, caption=caption)
    table.add_column("subset", no_wrap=True)
    if len(tasks) > 1:
        table.add_column("task", overflow="fold")
    table.add_column("metric", no_wrap=True)
    table.add_column("value [95% CI]", justify="right", no_wrap=True)
    if len(units) > 1:
        table.add_column("CI unit", overflow="fold")
    table.add_column("n (patients)", justify="right", no_wrap=True)
    for r in rows:
        lo, hi = r["ci"]
        ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
        value = "n/a" if r["value"] is None else f"{r['value']:.3f}{ci}"
        cells = [r["subset"], *([r["task"]] if len(tasks) > 1 else []), r["metric"], value,
                 *([str(r["unit"])] if len(units) > 1 else []), f"{r['n']} ({r['patients']})"]
        table.add_row(*cells)
    return table
