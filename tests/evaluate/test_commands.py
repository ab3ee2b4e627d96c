"""`climb evaluate RUN_DIR` on a run directory in the contract format."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from climb.errors import ClimbError
from climb.evaluate.run import evaluate_run
from tests.evaluate.runs import make_run


def test_evaluate_writes_metrics_json(tmp_path, cli):
    run = make_run(tmp_path, "mt", regime="multitask")
    result = cli(
        ["evaluate", str(run), "--bootstrap", "200", "--seed", "3"], env={"COLUMNS": "220"}
    )
    assert result.exit_code == 0, result.output
    assert "ptbxl.superclass" in result.output and "auroc_macro" in result.output
    doc = json.loads((run / "metrics.json").read_text())
    assert doc["run"] == "mt" and doc["regime"] == "multitask" and doc["split"] == "test"
    assert set(doc["tasks"]) == {"ptbxl.superclass", "chestx.finding", "chestx.sex", "echo.ef"}
    ml = doc["tasks"]["ptbxl.superclass"]
    # the point estimate is the one scikit-learn gives on the parquet file
    frame = pd.read_parquet(run / "predictions" / "test.parquet")
    rows = frame[frame["task"] == "ptbxl.superclass"]
    y, s = np.stack(rows["label"]), np.stack(rows["scores"])
    expected = np.mean(
        [roc_auc_score(y[~np.isnan(y[:, c]), c], s[~np.isnan(y[:, c]), c]) for c in range(5)]
    )
    assert ml["metrics"]["auroc_macro"]["value"] == pytest.approx(expected)
    lo, hi = ml["metrics"]["auroc_macro"]["ci"]
    assert lo < expected < hi and ml["metrics"]["auroc_macro"]["n_boot"] == 200
    assert ml["thresholds"]["source"] == "youden on val" and len(ml["thresholds"]["values"]) == 5
    assert ml["n_patients"] == 60 and ml["n_samples"] == 120
    assert set(ml["groups"]) == {"site", "sex", "age_bucket", "dataset"}
    assert set(ml["groups"]["site"]) == {"site_a", "site_b", "site_c"}
    assert ml["worst_group"]["metric"] == "auroc_macro"
    values = [
        g["metrics"]["auroc_macro"]["value"]
        for a in ("site", "sex", "age_bucket")
        for g in ml["groups"][a].values()
    ]
    assert ml["worst_group"]["value"] == min(values)
    # every group carries a patient-bootstrap CI around its value, and its sizes
    for a in ("site", "sex", "age_bucket"):
        for g in ml["groups"][a].values():
            lo, hi = g["metrics"]["auroc_macro"]["ci"]
            assert lo <= g["metrics"]["auroc_macro"]["value"] <= hi
            assert g["bootstrap"]["unit"] == "patient" and g["n"] == 2 * g["n_patients"]
    assert (
        ml["worst_group"]["ci"]
        == ml["groups"][ml["worst_group"]["attribute"]][ml["worst_group"]["group"]]["metrics"][
            "auroc_macro"
        ]["ci"]
    )
    reg = doc["tasks"]["echo.ef"]
    assert reg["metrics"]["mae"]["value"] > 0 and "per_class" not in reg
    maes = [
        g["metrics"]["mae"]["value"]
        for a in ("site", "sex", "age_bucket")
        for g in reg["groups"][a].values()
    ]
    assert reg["worst_group"]["value"] == max(maes)
    # the console table names the CI unit of each task, not a blanket "patient-bootstrap"
    assert "patient-bootstrap" not in result.output and "CI unit" in result.output
    assert doc["tasks"]["chestx.sex"]["thresholds"]["source"] == "youden on val"
    assert doc["tasks"]["chestx.finding"]["thresholds"]["source"] == "fixed 0.5"


def test_undefined_class_is_null_in_json(tmp_path, cli):
    run = make_run(tmp_path, "r", splits=("test",))
    path = run / "predictions" / "test.parquet"
    frame = pd.read_parquet(path)
    ml = frame["task"] == "ptbxl.superclass"
    labels = list(frame["label"])
    for i in np.flatnonzero(ml.to_numpy()):
        labels[i] = np.r_[labels[i][:1], np.float32(0), labels[i][2:]].astype(np.float32)
    frame["label"] = labels  # class MI: no positives
    frame.to_parquet(path, index=False)
    assert cli(["evaluate", str(run), "--bootstrap", "50"]).exit_code == 0
    text = (run / "metrics.json").read_text()
    assert "NaN" not in text
    task = json.loads(text)["tasks"]["ptbxl.superclass"]
    assert task["per_class"]["MI"]["auroc"] == {"value": None, "ci": [None, None], "n_boot": 0}
    lo, hi = task["per_class"]["NORM"]["auroc"]["ci"]
    assert lo < task["per_class"]["NORM"]["auroc"]["value"] < hi
    assert task["bootstrap"]["class_set"] == ["NORM", "STTC", "CD", "HYP"]
    assert task["classes_defined"] == {"defined": 4, "of": 5}
    assert task["thresholds"]["source"] == "fixed 0.5"  # no val predictions


def test_evaluate_errors_are_clear(tmp_path):
    with pytest.raises(ClimbError, match=r"tasks\.json: not found"):
        evaluate_run(tmp_path)
    run = make_run(tmp_path, "r", splits=("val",))
    with pytest.raises(ClimbError, match=r"test.parquet: no predictions"):
        evaluate_run(run)
    frame = pd.read_parquet(run / "predictions" / "val.parquet").drop(columns=["scores"])
    frame.to_parquet(run / "predictions" / "test.parquet")
    with pytest.raises(ClimbError, match=r"missing columns \['scores'\]"):
        evaluate_run(run)
