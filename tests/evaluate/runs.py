"""Build run directories in the contract format (docs/interfaces.md) for evaluate/report tests.

The run directory is the interface between training and evaluation, so writing one with
pandas/pyarrow is a faithful fixture: it is exactly what `climb train` leaves behind.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

TASKS = [
    {
        "key": "ptbxl.superclass",
        "dataset": "ptbxl",
        "task": "superclass",
        "type": "multilabel",
        "classes": ["NORM", "MI", "STTC", "CD", "HYP"],
    },
    {
        "key": "chestx.finding",
        "dataset": "chestx",
        "task": "finding",
        "type": "multiclass",
        "classes": ["normal", "pneumonia", "effusion"],
    },
    {
        "key": "chestx.sex",
        "dataset": "chestx",
        "task": "sex",
        "type": "binary",
        "classes": ["female", "male"],
    },
    {"key": "echo.ef", "dataset": "echo", "task": "ef", "type": "regression", "classes": []},
]
SITES = ["site_a", "site_b", "site_c"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def make_predictions(
    split: str,
    n_patients: int = 60,
    per_patient: int = 2,
    skill: float = 1.0,
    seed: int = 0,
    tasks: list[dict] | None = None,
    label_seed: int = 123,
) -> pd.DataFrame:
    """Predictions rows for every task. Labels depend only on ``label_seed`` (identical across
    runs, as on a shared test set); scores depend on ``seed`` and ``skill``."""
    tasks = tasks or TASKS
    rows = []
    for spec in tasks:
        # per-task streams: a task's labels are the same whichever other tasks a run has
        task_code = zlib.crc32(spec["key"].encode())
        split_code = {"train": 0, "val": 1, "test": 2}.get(split, 3)
        lab = np.random.default_rng([label_seed, split_code, task_code])
        rng = np.random.default_rng([seed, split_code, task_code])
        n = n_patients * per_patient
        patient = np.repeat([f"{spec['dataset']}-p{i:03d}" for i in range(n_patients)], per_patient)
        sample = [f"{spec['dataset']}-{split}-s{i:04d}" for i in range(n)]
        site = np.repeat(lab.choice(SITES, n_patients), per_patient)
        sex = np.repeat(lab.choice(["female", "male"], n_patients), per_patient)
        age = np.repeat(lab.choice(["40-49", "50-59", "60-69"], n_patients), per_patient)
        c = len(spec["classes"])
        if spec["type"] == "multilabel":
            y = (lab.random((n, c)) < 0.3).astype(np.float32)
            y[lab.random((n, c)) < 0.1] = np.nan
            logits = skill * np.nan_to_num(y * 2 - 1) + rng.normal(size=(n, c))
            labels, scores = list(y), list(_sigmoid(logits).astype(np.float32))
        elif spec["type"] in ("multiclass", "binary"):
            y = lab.integers(0, c, n)
            logits = rng.normal(size=(n, c))
            logits[np.arange(n), y] += skill
            labels = [np.array([v], np.float32) for v in y]
            scores = list(_softmax(logits).astype(np.float32))
        else:
            y = lab.normal(55, 10, n)
            pred = y + rng.normal(0, 10 / max(skill, 0.1), n)
            labels = [np.array([v], np.float32) for v in y]
            scores = [np.array([v], np.float32) for v in pred]
        for i in range(n):
            rows.append(
                {
                    "sample_id": sample[i],
                    "patient_id": patient[i],
                    "dataset": spec["dataset"],
                    "task": spec["key"],
                    "split": split,
                    "label": labels[i].astype(np.float32),
                    "scores": scores[i].astype(np.float32),
                    "meta": json.dumps({"site": site[i], "sex": sex[i], "age_bucket": age[i]}),
                }
            )
    return pd.DataFrame(rows)


def make_run(
    root: Path,
    name: str,
    regime: str = "single",
    tasks: list[dict] | None = None,
    skill: float = 1.0,
    seed: int = 0,
    extra_config: dict | None = None,
    splits: tuple[str, ...] = ("val", "test"),
    n_patients: int = 60,
) -> Path:
    """Write RUN/config.yaml, RUN/tasks.json and RUN/predictions/{split}.parquet."""
    run = Path(root) / name
    (run / "predictions").mkdir(parents=True, exist_ok=True)
    tasks = tasks or TASKS
    # the shape of climb.train.config: run.name, regime, model.fusion.type, fewshot.k
    config = {"regime": regime, "seed": seed, "run": {"name": name}, **(extra_config or {})}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "tasks.json").write_text(json.dumps(tasks))
    for split in splits:
        frame = make_predictions(split, n_patients=n_patients, skill=skill, seed=seed, tasks=tasks)
        frame.to_parquet(run / "predictions" / f"{split}.parquet", index=False)
    return run
