"""Cross-dataset shift: a tiny PTB-XL run (climb_ecg7 space) scored on Georgia and CPSC 2018.

The three fixtures build the official layouts (tests/fixtures/), `prepare` harmonizes each
into the 7-class ``climb_ecg7`` vocabulary, and a one-epoch xresnet1d is trained on PTB-XL's
``climb7`` task. The out-of-distribution numbers are checked against scikit-learn on scores
that ``climb.train.api.predict`` computes separately.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from climb.errors import ClimbError
from climb.evaluate.run import load_task_arrays
from climb.evaluate.shift import shift_evaluate
from tests.train.conftest import TINY_ECG, base_config, train

DATASETS = ("ptbxl", "georgia", "cpsc2018")
CLIMB7 = ["NORM", "CD", "HYP", "MI", "STTC", "AFIB-AFL", "Other"]


@pytest.fixture(scope="module")
def shift_run(tmp_path_factory) -> tuple[Path, Path]:
    import importlib

    from climb.store.prepare import prepare

    root = tmp_path_factory.mktemp("shift")
    store = root / "store"
    for name in DATASETS:
        module = importlib.import_module(f"tests.fixtures.{name}")
        raw = module.build(root / "raw" / name)
        config = getattr(module, "CONFIG", None)
        prepare(name, raw, store, workers=1, config=config, progress=False)
    cfg = base_config(
        store,
        root / "runs",
        data={"datasets": ["ptbxl"], "tasks": ["ptbxl.climb7"], "batch_size": 4},
        model={"encoders": {"ecg": {**TINY_ECG, "in_channels": 12}}},
    )
    train(cfg)
    (run,) = [p.parent for p in (root / "runs").rglob("tasks.json")]
    return run, store


def _ood_reference(run: Path, store: Path, dataset: str, splits: list[str]):
    """(sample_id -> scores of the run's head, sample_id -> labels) via climb.train.api."""
    from torch.utils.data import DataLoader

    from climb.load import Collator, StoreDataset
    from climb.load.tasks import TaskSpec
    from climb.train import api

    model, tasks, _ = api.load_run(run)
    data = StoreDataset(store, [dataset], split=splits)
    head = TaskSpec(tasks[0].key, dataset, "climb7", "multilabel", list(tasks[0].classes))
    frame = api.predict(
        model, DataLoader(data, batch_size=3, collate_fn=Collator(data.tasks)), [head]
    )
    scores = dict(zip(frame["sample_id"], frame["scores"], strict=True))
    labels = {}
    for i in range(len(data)):
        row = data[i]
        labels[row["sample_id"]] = np.asarray(row["labels"][f"{dataset}.climb7"], float)
    return scores, labels


def _macro_auroc(y: np.ndarray, s: np.ndarray) -> float:
    return float(np.mean([roc_auc_score(y[:, c], s[:, c]) for c in range(y.shape[1])]))


def test_shift_on_georgia_via_cli(shift_run, cli):
    run, store = shift_run
    result = cli(
        ["evaluate", str(run), "--dataset", "georgia", "--store", str(store), "--bootstrap", "200"],
        env={"COLUMNS": "220"},
    )
    assert result.exit_code == 0, result.output
    assert "georgia.climb7" in result.output and "classes not compared" in result.output
    doc = json.loads((run / "shift-georgia.json").read_text())
    assert doc["dataset"] == "georgia" and doc["ood_splits"] == ["train", "val", "test"]
    task = doc["tasks"]["ptbxl.climb7"]
    assert task["ood_task"] == "georgia.climb7" and task["vocabulary"] == "climb_ecg7"
    compared = task["classes_compared"]
    excluded = {e["class"]: e["reason"] for e in task["classes_excluded"]}
    assert sorted(compared + list(excluded)) == sorted(CLIMB7) and compared
    # every exclusion is true of the data: Georgia's manifest counts, the run's test labels
    manifest = json.loads((store / "georgia" / "manifest.json").read_text())
    counts = {
        c: sum(manifest["counts"][s]["labels"]["climb7"][c] for s in manifest["counts"])
        for c in CLIMB7
    }
    n_georgia = sum(manifest["counts"][s]["samples"] for s in manifest["counts"])
    for c in CLIMB7:
        if counts[c] == 0:
            assert excluded[c] == "no positives in georgia"
        elif counts[c] == n_georgia:
            assert excluded[c] == "no negatives in georgia"
    in_dist = load_task_arrays(run, "test")["ptbxl.climb7"]
    cols = [CLIMB7.index(c) for c in compared]
    for c in compared:
        column = in_dist.y[:, CLIMB7.index(c)]
        assert 0 < np.nansum(column) < np.sum(~np.isnan(column))
    # the numbers: scikit-learn on the run's own test predictions and on api.predict scores
    ind = task["in_distribution"]["metrics"]["auroc_macro"]
    assert ind["value"] == pytest.approx(_macro_auroc(in_dist.y[:, cols], in_dist.s[:, cols]))
    scores, labels = _ood_reference(run, store, "georgia", ["train", "val", "test"])
    ids = sorted(labels)
    y = np.stack([labels[i] for i in ids])[:, [CLIMB7.index(c) for c in compared]]
    s = np.stack([scores[i] for i in ids])[:, cols]
    ood = task["out_of_distribution"]
    assert ood["n_samples"] == n_georgia == len(ids)
    assert ood["metrics"]["auroc_macro"]["value"] == pytest.approx(_macro_auroc(y, s), abs=1e-6)
    lo, hi = ood["metrics"]["auroc_macro"]["ci"]
    assert lo <= ood["metrics"]["auroc_macro"]["value"] <= hi
    assert ood["bootstrap"]["class_set"] == compared and ood["bootstrap"]["unit"] == "patient"
    gap = task["gap"]
    assert gap["metric"] == "auroc_macro"
    assert gap["value"] == pytest.approx(ood["metrics"]["auroc_macro"]["value"] - ind["value"])
    assert task["thresholds"]["source"] == "youden on run's val"


def test_shift_on_cpsc_one_split_and_report(shift_run, cli, tmp_path):
    run, store = shift_run
    doc = shift_evaluate(run, "cpsc2018", store=str(store), ood_splits=("train",), n_resamples=100)
    task = doc["tasks"]["ptbxl.climb7"]
    manifest = json.loads((store / "cpsc2018" / "manifest.json").read_text())
    assert task["out_of_distribution"]["n_samples"] == manifest["counts"]["train"]["samples"]
    assert "AFIB-AFL" not in [
        e["class"] for e in task["classes_excluded"] if "cpsc2018" in e["reason"]
    ]  # CPSC 2018 has AF records
    # `climb report` shows the shift file written by `climb evaluate --dataset`
    assert (
        cli(
            [
                "evaluate",
                str(run),
                "--dataset",
                "georgia",
                "--store",
                str(store),
                "--bootstrap",
                "50",
            ]
        ).exit_code
        == 0
    )
    out = tmp_path / "site"
    result = cli(["report", str(run), "--out", str(out), "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    text = (out / "report.md").read_text()
    georgia = json.loads((run / "shift-georgia.json").read_text())["tasks"]["ptbxl.climb7"]
    gap = georgia["gap"]
    assert "## Cross-dataset shift" in text and "georgia.climb7" in text
    assert f"{gap['value']:.3f} [{gap['ci'][0]:.3f}, {gap['ci'][1]:.3f}]" in text
    assert "AFIB-AFL: no positives in georgia" in text


def test_shift_refuses_what_is_not_a_shift(shift_run):
    run, store = shift_run
    with pytest.raises(ClimbError, match="trained on it"):
        shift_evaluate(run, "ptbxl", store=str(store), n_resamples=10)
    with pytest.raises(ClimbError, match="not a dataset name"):
        shift_evaluate(run, "../ptbxl", store=str(store), n_resamples=10)
    with pytest.raises(ClimbError, match="not prepared"):
        shift_evaluate(run, "tuab", store=str(store), n_resamples=10)


def test_single_label_classes_are_matched_by_name():
    from types import SimpleNamespace

    from climb.evaluate.metrics import TaskArrays
    from climb.evaluate.shift import _to_run_classes, shift_entry

    task = SimpleNamespace(key="a.t", type="multiclass", classes=["a", "b", "c"])
    mapped = _to_run_classes(np.array([0, 1, -1, 2]), ["b", "x", "a"], task, "other")
    assert np.array_equal(mapped, [1, np.nan, np.nan, 0], equal_nan=True)

    rng = np.random.default_rng(0)

    def arrays(n, n_classes):
        y = rng.integers(0, n_classes, n)
        s = rng.dirichlet(np.ones(3), n)
        s[np.arange(n), y] += 0.5
        s = s / s.sum(1, keepdims=True)
        ids = np.array([f"s{i}" for i in range(n)])
        return TaskArrays("a.t", "multiclass", ["a", "b", "c"], y, s, ids, ids, [{}] * n)

    in_dist, out_dist = arrays(90, 3), arrays(60, 2)  # the other dataset has no class c
    entry = shift_entry(in_dist, out_dist, "other.t", ["a", "b"], "v", None, 100)
    assert entry["classes_compared"] == ["a", "b"]
    assert entry["classes_excluded"] == [{"class": "c", "reason": "not a class of other"}]
    # both sides become binary a-vs-b tasks on renormalized scores (class-c samples dropped)
    ood = entry["out_of_distribution"]
    expected = roc_auc_score(out_dist.y, out_dist.s[:, 1] / out_dist.s[:, :2].sum(1))
    assert ood["metrics"]["auroc"]["value"] == pytest.approx(expected)
    assert entry["in_distribution"]["n_samples"] == int(np.sum(in_dist.y < 2))
