"""A set of run directories covering every report section (used by the report tests).

Predictions are written in the run contract format; robustness.json comes from real sweeps of
the toy torch model in tests/evaluate/toy_model.py.
"""

from __future__ import annotations

from pathlib import Path

import torch

from climb.evaluate import robustness as rb
from climb.evaluate.run import evaluate_run, load_task_arrays, task_arrays, write_json
from climb.evaluate.shift import shift_entry, shift_path
from tests.evaluate.runs import TASKS, make_predictions, make_run
from tests.evaluate.toy_model import TASK, ToyModel, make_batches, predict


def toy_robustness(w_signal: float, w_image: float, seed: int = 0) -> dict:
    """robustness.json of a toy model with the given branch weights (2 corruptions per input)."""
    model = ToyModel()
    with torch.no_grad():
        model.w_signal.fill_(w_signal)
        model.w_image.fill_(w_image)
    batches = make_batches(n_batches=2)
    tasks = {TASK["key"]: TASK}

    def predict_fn(bs):
        return predict(model, bs)

    sweeps = [
        rb.robustness_sweep(predict_fn, batches, name, corr, tasks=tasks, seed=seed)
        for name, corr in (("ecg", "white_noise"), ("ecg", "lead_dropout"), ("image", "contrast"))
    ]
    drop = rb.modality_drop(predict_fn, batches, lambda f: rb.headline_scores(f, tasks))
    return {"split": "test", "seed": seed, "sweeps": sweeps, "modality_drop": drop}


def shift_document(run: Path, dataset: str = "otherecg", n_resamples: int = 100) -> dict:
    """shift-<dataset>.json of a ptbxl.superclass run from the real shift comparison: the run's
    test predictions against predictions on a second, label-shifted set (another seed, lower
    skill) that lacks the HYP class."""
    spec = TASKS[0]
    in_dist = load_task_arrays(run, "test")[spec["key"]]
    frame = make_predictions("test", skill=0.4, seed=5, tasks=[spec], label_seed=99)
    out_dist = task_arrays(frame, spec)
    other_classes = [c for c in spec["classes"] if c != "HYP"]
    out_dist.y[:, spec["classes"].index("HYP")] = float("nan")
    entry = shift_entry(
        in_dist,
        out_dist,
        f"{dataset}.superclass",
        other_classes,
        "ptbxl_superclass",
        load_task_arrays(run, "val")[spec["key"]],
        n_resamples,
    )
    return {
        "run": run.name,
        "dataset": dataset,
        "split": "test",
        "ood_splits": ["train", "val", "test"],
        "tasks": {spec["key"]: entry},
    }


def build_runs(root: Path, n_resamples: int = 200, evaluate: bool = True) -> list[Path]:
    """Single-task runs per task, two multitask runs (early, late fusion), few-shot k=1/8/32."""
    runs = []
    for t in TASKS:
        runs.append(
            make_run(
                root,
                f"single-{t['dataset']}-{t['task']}",
                "single",
                tasks=[t],
                skill=0.8,
                seed=1,
                extra_config={"model": {"fusion": {"type": "none"}, "encoders": {"ecg": {}}}},
            )
        )
    for name, fusion, skill, seed in (
        ("multitask-early", "early", 1.1, 2),
        ("multitask-late", "late", 0.9, 3),
    ):
        runs.append(
            make_run(
                root,
                name,
                "multitask",
                skill=skill,
                seed=seed,
                extra_config={
                    "model": {"fusion": {"type": fusion}, "encoders": {"ecg": {}, "image": {}}}
                },
            )
        )
    for k, skill in ((1, 0.2), (8, 0.6), (32, 1.0)):
        runs.append(
            make_run(
                root,
                f"fewshot-k{k}",
                "fewshot",
                tasks=[TASKS[0]],
                skill=skill,
                seed=k,
                extra_config={"fewshot": {"k": k}},
            )
        )
    write_json(root / "multitask-early" / "robustness.json", toy_robustness(8.0, 4.0))
    write_json(root / "multitask-late" / "robustness.json", toy_robustness(4.0, 7.0))
    shifted = root / "single-ptbxl-superclass"
    write_json(shift_path(shifted, "otherecg"), shift_document(shifted))
    if evaluate:
        for run in runs:
            write_json(run / "metrics.json", evaluate_run(run, n_resamples=n_resamples))
    return runs
