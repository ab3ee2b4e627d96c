"""CI smoke test of `climb demo --fast`: the whole flow on the bundled real data."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_demo_fast_end_to_end(tmp_path):
    from rich.console import Console

    from climb.demo import run_demo
    from climb.store.audit import audit

    out = tmp_path / "demo"
    console = Console(record=True, width=200)
    summary = run_demo(out, fast=True, console=console)
    printed = console.export_text()

    # Every bundled set was prepared and the store is leak-free.
    assert set(summary["datasets"]) == {p.name for p in (out / "store").iterdir() if p.is_dir()}
    assert audit(out / "store").ok

    # Every run was trained and evaluated; the report exists with its plots.
    runs = [out / "runs" / r.split("/")[-1] for r in summary["runs"]]
    for run in runs:
        assert (run / "metrics.json").exists(), run
        assert (run / "predictions" / "test.parquet").exists(), run
    assert (out / "runs" / "fusion_late" / "robustness.json").exists()
    index = out / "report" / "index.html"
    html = index.read_text()
    for section in ("Multitask", "Few-shot", "Fusion", "Robustness", "Subgroup"):
        assert section.lower() in html.lower(), section
    assert list((out / "report").glob("*.png"))
    # The bundled DICOM sets (2D tiles; volumes + clips): prepared with their fixed patient
    # splits and the catalog's counts, trained, evaluated, and in the report's imaging section.
    from climb.catalog import load_catalog

    for name, run, patients in (
        ("demo_dicom_modality", "single_dicom_modality", (4, 3, 4)),
        ("demo_volume_video", "single_volume_video", (3, 1, 3)),
    ):
        entry = load_catalog().get(name)
        expected = ", ".join(
            f"{split} {getattr(entry.samples, split)} ({n} patients)"
            for split, n in zip(("train", "val", "test"), patients, strict=True)
        )
        assert summary["datasets"][name] == expected
        assert run in html and f"{name}.modality" in html
        assert any(r["run"] == run for r in summary["headline"])
    assert "Imaging: DICOM tiles, volumes and clips" in html
    assert 'src="imaging.png"' in html and (out / "report" / "imaging.png").stat().st_size

    # The headline numbers are read back from the runs' metrics files, and they are in the page.
    assert summary["headline"]
    for row in summary["headline"]:
        document = json.loads((out / "runs" / row["run"] / "metrics.json").read_text())
        assert document["tasks"][row["task"]]["metrics"][row["metric"]]["value"] == row["value"]
    html_numbers = set(__import__("re").findall(r"\d\.\d{3}", html))
    assert {f"{r['value']:.3f}" for r in summary["headline"]} <= html_numbers

    # It says what is real, what is synthetic, and where the report is.
    assert "Real data" in printed and "Synthetic" in printed
    assert str(index) in printed.replace("\n", "")


def test_imaging_section_counts_test_predictions(tmp_path):
    """The report's imaging section: confusion counts and accuracy from predictions/test."""
    import pandas as pd

    from climb.demo import imaging_section

    run = tmp_path / "runs" / "single_volume_video"
    (run / "predictions").mkdir(parents=True)
    key = "demo_volume_video.modality"
    labels = [0, 1, 2, 2]
    scores = [[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]
    pd.DataFrame({"sample_id": list("abcd"), "task": key, "label": [[float(v)] for v in labels],
                  "scores": scores}).to_parquet(run / "predictions" / "test.parquet")  # fmt: skip
    metrics = {
        "tasks": {
            key: {
                "n_samples": 4,
                "n_patients": 3,
                "headline": "auroc_macro",
                "bootstrap": {"class_set": ["CT", "MR", "US"]},
                "metrics": {"auroc_macro": {"value": 0.75, "ci": [0.5, 1.0]}},
            }
        }
    }
    (run / "metrics.json").write_text(json.dumps(metrics))
    report = tmp_path / "report"
    report.mkdir()
    section = imaging_section([run, tmp_path / "runs" / "missing"], report)
    (row,) = section.table.rows
    assert row[:5] == ["single_volume_video", key, "4 (3)", "CT 1, MR 1, US 2", "0.500"]
    assert row[6].startswith("0.750") and section.figure == "imaging.png"
    assert (report / "imaging.png").stat().st_size > 0
    assert imaging_section([tmp_path / "runs" / "missing"], report) is None
