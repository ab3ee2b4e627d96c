"""`climb list` fits the terminal (one line per dataset) and counts harmonized classes;
`climb info` says how each source is verified."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from climb.catalog import load_catalog
from climb.catalog.commands import render_list, task_label


@pytest.fixture()
def catalog(monkeypatch):
    monkeypatch.delenv("CLIMB_CATALOG", raising=False)
    return load_catalog(use_env=False)


def _rows(text: str, names: list[str]) -> dict[str, list[str]]:
    """The lines of a rendered list, by the dataset name each starts with."""
    lines = text.splitlines()
    return {n: [ln for ln in lines if ln.split(" ", 1)[0].rstrip("*") == n] for n in names}


@pytest.mark.parametrize("width", [80, 120, 200])
def test_list_has_one_line_per_dataset_at_any_width(catalog, width):
    entries = list(catalog)
    out = io.StringIO()
    render_list(entries, Console(file=out, width=width, color_system=None))
    text = out.getvalue()
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= width
    rows = _rows(text, [e.name for e in entries])
    assert all(len(found) == 1 for found in rows.values()), {
        n: f for n, f in rows.items() if len(f) != 1
    }
    # nothing but the title, header, rule, rows, totals and caption: no wrapped continuation
    assert len(lines) <= len(entries) + 8
    assert f"{len(entries)} datasets" in text


def test_list_cli_at_80_columns(cli, monkeypatch, catalog):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli(["list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    rows = _rows(result.output, [e.name for e in catalog])
    assert all(len(found) == 1 for found in rows.values())
    assert "climb7 (multilabel, 7; 54 native)" in rows["chapman_shaoxing"][0]
    assert "chapman_shaoxing*" in result.output  # the adapter marker of the narrow layout


def test_task_column_counts_harmonized_classes(catalog):
    chapman = catalog.get("chapman_shaoxing").task("climb7")
    assert len(chapman.classes) == 54
    assert task_label(chapman) == "climb7 (multilabel, 7; 54 native)"
    ptbxl = catalog.get("ptbxl")
    assert task_label(ptbxl.task("superclass")) == "superclass (multilabel, 5)"
    cpsc = catalog.get("cpsc2018").task("climb7")
    assert task_label(cpsc) == f"climb7 (multilabel, 7; {len(cpsc.classes)} native)"
    out = io.StringIO()
    render_list([ptbxl], Console(file=out, width=200, color_system=None))
    assert "superclass (multilabel, 5), climb7 (multilabel, 7; 71 native)" in out.getvalue()


def test_info_names_the_checksum_source_of_every_source(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one line per source, whatever the terminal
    result = cli(["info", "mimic_cxr"])
    assert result.exit_code == 0
    assert result.output.count("publisher-verified: PhysioNet SHA256SUMS.txt") == 4
    assert "[physionet]" in result.output
    assert "climb_ecg7 (7 classes); 54 native classes" in cli(["info", "chapman_shaoxing"]).output
    pcam = cli(["info", "pcam"]).output
    assert "publisher-verified: Zenodo record 2546921" in pcam
    hugadb = cli(["info", "hugadb"]).output
    assert "trust on first use" in hugadb
    data = json.loads(cli(["info", "ptbxl", "--json"]).output)
    assert data["source_checks"] == [
        "archive unverified (recorded on first download); --subset records "
        "publisher-verified: PhysioNet SHA256SUMS.txt"
    ]
