"""`climb report`: HTML structure and Markdown from run files; a screenshot when chromium exists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from climb.evaluate.run import evaluate_run, to_json
from climb.report.html import write_report
from climb.report.runs import load_run_info
from tests.evaluate.runs import TASKS, make_run
from tests.report.build import build_runs


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.imgs, self.tables, self.text, self.scripts, self.links = [], [], 0, [], 0, []
        self._stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "img":
            self.imgs.append(a["src"])
        if tag == "table":
            self.tables += 1
        if tag == "script":
            self.scripts += 1
        if tag == "link":
            self.links.append(a.get("href"))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    runs = build_runs(root, n_resamples=100)
    out = tmp_path_factory.mktemp("report")
    infos = [load_run_info(r, n_resamples=100) for r in runs]
    index = write_report(infos, out, n_resamples=200, seed=0)
    return root, out, index


def test_html_structure(report):
    _, out, index = report
    page = _Page()
    page.feed(index.read_text())
    for section in (
        "runs",
        "delta",
        "fewshot",
        "fusion",
        "robustness",
        "modality-drop",
        "subgroups",
        "shift",
    ):
        assert section in page.ids
    assert sorted(page.imgs) == ["delta.png", "fewshot.png", "fusion.png", "robustness.png"]
    for img in page.imgs:  # real PNGs beside the page
        assert (out / img).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.scripts == 0 and page.links == []  # self-contained, no external resources
    assert page.tables == 8
    assert "no data" not in " ".join(page.text)


def test_numbers_come_from_run_files(report):
    root, out, index = report
    text = index.read_text()
    md = (out / "report.md").read_text()
    # the headline metric of every run and task appears as written in its metrics.json
    for run in root.iterdir():
        doc = json.loads((run / "metrics.json").read_text())
        for task in doc["tasks"].values():
            entry = task["metrics"][task["headline"]]
            lo, hi = entry["ci"]
            cell = f"{entry['value']:.3f} [{lo:.3f}, {hi:.3f}]"
            assert cell in text and cell in md
    # few-shot rows for k = 1, 8, 32; fusion methods; robustness from robustness.json
    assert re.search(r"<td[^>]*>fewshot-k32</td>", text)
    for fusion in ("early", "late", "none"):
        assert f"<td>{fusion}</td>" in text
    rob = json.loads((root / "multitask-early" / "robustness.json").read_text())
    sweep = rob["sweeps"][0]
    rr = next(iter(sweep["relative_robustness"].values()))
    assert f"{rr:.3f}" in text
    # the delta table: 2 multitask runs x 4 tasks, each with a CI and a p-value
    assert md.count("| single-") >= 8
    assert "paired bootstrap over patients (200 resamples, seed 0" in text
    # subgroups: each group's value with its CI and sizes, as in metrics.json
    doc = json.loads((root / "multitask-early" / "metrics.json").read_text())
    site = doc["tasks"]["ptbxl.superclass"]["groups"]["site"]["site_a"]
    m = site["metrics"]["auroc_macro"]
    cell = f"site_a {m['value']:.3f} [{m['ci'][0]:.3f}, {m['ci'][1]:.3f}] "
    assert f"{cell}({site['n']}/{site['n_patients']})" in md
    # the shift table: in/out-of-distribution and gap as in shift-otherecg.json
    shift = json.loads((root / "single-ptbxl-superclass" / "shift-otherecg.json").read_text())
    entry = shift["tasks"]["ptbxl.superclass"]
    for value in (entry["gap"], entry["out_of_distribution"]["metrics"]["auroc_macro"]):
        assert f"{value['value']:.3f} [{value['ci'][0]:.3f}, {value['ci'][1]:.3f}]" in md
    assert "HYP: not a class of otherecg" in md
    assert entry["classes_compared"] == ["NORM", "MI", "STTC", "CD"]


def test_empty_sections_say_so(tmp_path):
    run = make_run(tmp_path, "lonely", regime="single", tasks=[TASKS[3]])
    info = load_run_info(run, n_resamples=50)
    index = write_report([info], tmp_path / "out", n_resamples=50)
    text = index.read_text()
    assert "needs at least one multitask and one single-task run" in text
    assert "no run with regime &#x27;fewshot&#x27;" in text
    assert "needs runs with at least two fusion methods" in text
    assert "no run has robustness.json" in text
    assert "metrics computed from predictions/test.parquet" in text  # no metrics.json yet
    assert not list((tmp_path / "out").glob("*.png"))
    assert (tmp_path / "out" / "report.md").exists()


def test_small_groups_listed_not_ranked(tmp_path):
    """20 patients: every site and age group is under 30 samples, so none is ranked."""
    run = make_run(tmp_path, "small", regime="single", tasks=[TASKS[2]], n_patients=20)
    (run / "metrics.json").write_text(to_json(evaluate_run(run, n_resamples=50)))
    task = json.loads((run / "metrics.json").read_text())["tasks"]["chestx.sex"]
    small = {(g["attribute"], g["group"]): g["n"] for g in task["small_groups"]}
    assert task["worst_group"] is None and ("site", "site_a") in small
    md = (write_report([load_run_info(run)], tmp_path / "out", n_resamples=50).parent
          / "report.md").read_text()
    row = next(line for line in md.splitlines() if "| site |" in line)
    assert f"site_a ({small[('site', 'site_a')]})" in row.split("|")[-3]
    assert "among groups of at least 30 samples" in md


def test_report_cli(tmp_path, cli, report):
    root, _, _ = report
    runs = sorted(str(p) for p in root.iterdir())
    result = cli(["report", *runs, "--out", str(tmp_path / "site"), "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "report.md").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_screenshot_renders(report, tmp_path):
    from PIL import Image

    _, _, index = report
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2400",
            index.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 2400)
    # the page rendered content (text, tables, figures), not a blank or error page
    pixels = list(image.getdata())
    dark = sum(p < 128 for p in pixels) / len(pixels)
    assert 0.01 < dark < 0.5
    assert Path(index.parent / "fewshot.png").exists()


def test_delta_pairs_only_single_task_runs_without_extra_inputs(tmp_path):
    """A fusion model with an extra input is not the single-task baseline of a multitask run."""
    from climb.report.runs import load_run_info
    from climb.report.tables import delta_table
    from tests.evaluate.runs import TASKS, make_run

    task = [TASKS[0]]
    mt = make_run(tmp_path, "mt", "multitask", tasks=task, seed=2, extra_config={
        "model": {"fusion": {"type": "late"}, "encoders": {"ecg": {}, "eeg": {}}}})
    uni = make_run(tmp_path, "uni", "single", tasks=task, seed=1, extra_config={
        "model": {"fusion": {"type": "none"}, "encoders": {"ecg": {}}}})
    fusion = make_run(tmp_path, "fusion", "single", tasks=task, seed=3, extra_config={
        "model": {"fusion": {"type": "early"}, "encoders": {"ecg": {}, "tabular": {}}}})
    runs = [load_run_info(r, "test", 50, 0) for r in (mt, uni, fusion)]
    table = delta_table(runs, n_resamples=50)
    assert [row[3] for row in table.rows] == ["uni"]  # the fusion run is not paired
