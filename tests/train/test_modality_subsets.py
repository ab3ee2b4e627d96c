"""The modality-combination study (`climb train CONFIG --modality-subsets`) and its report
section, on the bundled MIT-BIH beats (the beat's ECG window + its RR-interval features)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from climb.errors import ClimbError
from climb.evaluate.run import evaluate_run, write_json
from climb.report.runs import load_run_info
from climb.train.config import load_config
from climb.train.subsets import modality_subsets, read_study, subset_config
from tests.train.conftest import TINY_ECG, TINY_TAB, base_config


def test_every_nonempty_subset_once_smallest_first():
    assert modality_subsets(["tabular", "ecg"]) == [("ecg",), ("tabular",), ("ecg", "tabular")]
    three = modality_subsets(["c", "a", "b", "a"])
    assert len(three) == 7 == len(set(three))
    assert three[:3] == [("a",), ("b",), ("c",)] and three[-1] == ("a", "b", "c")
    assert [len(s) for s in three] == sorted(len(s) for s in three)
    assert modality_subsets(["ecg"]) == [("ecg",)]
    with pytest.raises(ClimbError, match="no inputs"):
        modality_subsets([])
    with pytest.raises(ClimbError, match="127 runs"):
        modality_subsets([f"in{i}" for i in range(7)])


def test_subset_config_keeps_the_fusion_over_the_subset_only(tmp_path):
    cfg = load_config(None, [], base=base_config(
        tmp_path / "store", tmp_path / "runs", run={"name": "study"},
        model={"encoders": {"ecg": TINY_ECG, "tabular": TINY_TAB},
               "fusion": {"type": "cross_attention", "dim": 16, "heads": 2, "query": "ecg"}},
        transforms={"ecg": [{"time_shift": {"max_fraction": 0.05}}]}))
    study = tmp_path / "runs" / "study"
    rr = subset_config(cfg, ("tabular",), study, "study")
    assert list(rr["model"]["encoders"]) == ["tabular"] and rr["data"]["inputs"] == ["tabular"]
    assert rr["model"]["fusion"] == {"type": "cross_attention", "dim": 16, "heads": 2}
    assert rr["transforms"] == {}
    assert (rr["run"]["dir"], rr["run"]["name"]) == (str(study), "study-tabular")
    both = subset_config(cfg, ("ecg", "tabular"), study, "study")
    assert both["model"]["fusion"]["query"] == "ecg" and list(both["transforms"]) == ["ecg"]
    assert cfg["model"]["encoders"].keys() == {"ecg", "tabular"}  # the input is not changed
    with pytest.raises(ClimbError, match="'eeg' has no encoder"):
        subset_config(cfg, ("eeg",), study, "study")


def _cells(markdown: str, title: str) -> list[list[str]]:
    """Rows of the Markdown table under ``## title``."""
    part = markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in part.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:]]


def test_study_trains_one_run_per_subset_and_the_report_reads_them_back(store, tmp_path, cli):
    cfg = base_config(store, tmp_path / "runs", run={"name": "beats"},
                      model={"encoders": {"ecg": TINY_ECG, "tabular": TINY_TAB},
                             "fusion": {"type": "cross_attention", "dim": 16, "heads": 2,
                                        "query": "ecg"}},
                      loss={"class_weights": "balanced"},
                      trainer={"limit_train_batches": 3, "limit_val_batches": 1,
                               "enable_model_summary": False})
    path = tmp_path / "beats.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = cli(["train", str(path), "--modality-subsets", "--bootstrap", "40"])
    assert result.exit_code == 0, result.output

    study = tmp_path / "runs" / "beats"
    document = read_study(study)
    assert [r["subset"] for r in document["runs"]] == [["ecg"], ["tabular"], ["ecg", "tabular"]]
    test_ids = []
    for entry in document["runs"]:
        run = study / f"beats-{'+'.join(entry['subset'])}"
        assert Path(entry["dir"]) == run
        config = yaml.safe_load((run / "config.yaml").read_text())
        assert sorted(config["model"]["encoders"]) == entry["subset"]
        assert config["model"]["fusion"]["type"] == "cross_attention"
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["modality_subset"] == entry["subset"] and metrics["split"] == "test"
        task = metrics["tasks"]["demo_mitbih_beats.beat"]
        auroc = task["metrics"]["auroc_macro"]
        assert auroc["ci"][0] <= auroc["value"] <= auroc["ci"][1]
        assert task["bootstrap"]["resamples"] == 40
        assert entry["tasks"]["demo_mitbih_beats.beat"]["value"] == auroc["value"]
        test_ids.append(sorted(pd.read_parquet(run / "predictions" / "test.parquet")
                               ["sample_id"]))
        assert entry["subset"][0] in result.output  # the console table
    assert test_ids[0] == test_ids[1] == test_ids[2]  # every subset on the same test samples

    report = tmp_path / "report"
    assert cli(["report", str(study), "--out", str(report), "--bootstrap", "40"]).exit_code == 0
    html = (report / "index.html").read_text()
    assert 'id="modality-subsets"' in html and 'src="modality_subsets.png"' in html
    with Image.open(report / "modality_subsets.png") as image:
        assert image.width > 400 and image.height > 200
    rows = _cells((report / "report.md").read_text(), "Modality combinations")
    assert [r[2] for r in rows] == ["ecg", "tabular", "ecg+tabular"]
    for row in rows:
        metrics = json.loads((study / row[4] / "metrics.json").read_text())
        task = metrics["tasks"]["demo_mitbih_beats.beat"]
        entry = task["metrics"]["auroc_macro"]
        assert row[6] == (f"{entry['value']:.3f} [{entry['ci'][0]:.3f}, "
                          f"{entry['ci'][1]:.3f}]")
        assert row[8] == f"{task['n_samples']} ({task['n_patients']})"

    # `climb evaluate` rewrites metrics.json without the subset: study.json still names it
    rr = study / "beats-tabular"
    write_json(rr / "metrics.json", evaluate_run(rr, "test", n_resamples=20))
    assert "modality_subset" not in json.loads((rr / "metrics.json").read_text())
    info = load_run_info(rr, "test")
    assert (info.modality_subset, info.study) == (["tabular"], "beats")
    assert load_run_info(tmp_path / "runs" / "beats" / "beats-ecg", "test").study == "beats"
