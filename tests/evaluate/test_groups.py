"""Subgroups carry patient-bootstrap CIs and sizes; the worst group is never a tiny group."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from climb.evaluate.metrics import TaskArrays
from climb.evaluate.run import evaluate_task

# site: (patients, samples per patient, skill); the 2-patient site is predicted at chance
SITES = {"big": (40, 2, 2.0), "mid": (20, 2, 1.0), "tiny": (2, 2, 0.0)}


def site_task(seed: int = 0) -> TaskArrays:
    rng = np.random.default_rng(seed)
    y, s, pid, meta = [], [], [], []
    for site, (patients, per, skill) in SITES.items():
        for p in range(patients):
            for _ in range(per):
                label = int(rng.random() < 0.5) if site != "tiny" else len(y) % 2
                p1 = 1 / (1 + np.exp(-(skill * (2 * label - 1) + rng.normal())))
                if site == "tiny":
                    p1 = 0.9 - 0.8 * label  # every tiny-site sample is ranked the wrong way
                y.append(label)
                s.append([1 - p1, p1])
                pid.append(f"{site}-{p}")
                meta.append({"site": site})
    n = len(y)
    return TaskArrays(
        "d.t",
        "binary",
        ["neg", "pos"],
        np.array(y),
        np.array(s),
        np.array([f"s{i}" for i in range(n)]),
        np.array(pid),
        meta,
    )


def test_group_cis_sizes_and_worst_group_threshold():
    task = site_task()
    out = evaluate_task(task, n_resamples=300, seed=0)
    sites = out["groups"]["site"]
    assert {k: (v["n"], v["n_patients"]) for k, v in sites.items()} == {
        "big": (80, 40),
        "mid": (40, 20),
        "tiny": (4, 2),
    }
    for entry in sites.values():
        m = entry["metrics"]["auroc"]
        assert m["ci"][0] <= m["value"] <= m["ci"][1] and entry["bootstrap"]["unit"] == "patient"
    assert sites["tiny"]["metrics"]["auroc"]["value"] == 0.0  # the lowest point estimate
    width = {k: np.subtract(*v["metrics"]["auroc"]["ci"][::-1]) for k, v in sites.items()}
    assert width["mid"] > width["big"]
    # the default min_group_size (30) keeps the 4-sample site out, and says so
    worst = out["worst_group"]
    assert (worst["group"], worst["min_group_size"]) == ("mid", 30)
    assert worst["value"] == sites["mid"]["metrics"]["auroc"]["value"]
    assert worst["ci"] == sites["mid"]["metrics"]["auroc"]["ci"] and worst["n_patients"] == 20
    assert out["small_groups"] == [{"attribute": "site", "group": "tiny", "n": 4, "n_patients": 2}]
    # a lower threshold lets it be named
    low = evaluate_task(task, n_resamples=50, seed=0, min_group_size=4)
    assert low["worst_group"]["group"] == "tiny" and low["small_groups"] == []
    # nothing qualifies: no worst group rather than a noisy one
    none = evaluate_task(task, n_resamples=0, min_group_size=1000)
    assert none["worst_group"] is None and len(none["small_groups"]) == 3


def test_min_group_size_option(tmp_path, cli):
    task = site_task()
    run = tmp_path / "sites"
    (run / "predictions").mkdir(parents=True)
    spec = {"key": "d.t", "dataset": "d", "task": "t", "type": "binary", "classes": task.classes}
    (run / "tasks.json").write_text(json.dumps([spec]))
    pd.DataFrame(
        {
            "sample_id": task.sample_id,
            "patient_id": task.patient_id,
            "dataset": "d",
            "task": "d.t",
            "split": "test",
            "label": [np.array([v], np.float32) for v in task.y],
            "scores": list(task.s.astype(np.float32)),
            "meta": [json.dumps(m) for m in task.meta],
        }
    ).to_parquet(run / "predictions" / "test.parquet", index=False)
    result = cli(["evaluate", str(run), "--bootstrap", "100"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    doc = json.loads((run / "metrics.json").read_text())["tasks"]["d.t"]
    assert doc["worst_group"]["group"] == "mid" and doc["min_group_size"] == 30
    assert "groups under 30 samples, not ranked: site=tiny (4)" in result.output
    result = cli(["evaluate", str(run), "--bootstrap", "100", "--min-group-size", "3"])
    assert result.exit_code == 0, result.output
    doc = json.loads((run / "metrics.json").read_text())["tasks"]["d.t"]
    assert doc["worst_group"]["group"] == "tiny" and doc["min_group_size"] == 3
