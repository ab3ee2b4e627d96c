"""Catalog schema validation, overlay merging, close-match errors and the catalog CLI."""

from __future__ import annotations

import json

import pytest
import yaml

from climb.catalog import load_catalog, validate_entry
from climb.errors import CatalogError


def _minimal(**over):
    entry = {
        "name": "toy",
        "title": "Toy dataset",
        "modality": "ecg",
        "domain": "cardiology",
        "tasks": [{"name": "rhythm", "type": "binary", "classes": ["normal", "abnormal"]}],
        "samples": {"total": 10},
        "size_gb": 0.001,
        "access": {"tier": "open", "gate": "none, public download"},
        "license": "CC-BY-4.0",
        "homepage": "https://example.org/toy",
        "citation": "@misc{toy, title={Toy}}",
        "split": {"official": False, "definition": "none; patient-level 80/10/10"},
        "patient_ids": {"available": True, "field": "patient"},
    }
    entry.update(over)
    return entry


def test_minimal_entry_is_valid():
    entry = validate_entry(_minimal(), "inline")
    assert entry.modalities == ["ecg"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"modality": "xray"}, "modality"),
        ({"access": {"tier": "public", "gate": "x y z"}}, "access.tier"),
        ({"tasks": [{"name": "t", "type": "binary", "classes": ["a"]}]}, "tasks.0"),
        ({"samples": {"total": -1}}, "samples.total"),
        ({"sources": [{"url": "https://x/y", "path": "../escape"}]}, "sources.0.path"),
        ({"sources": [{"url": "https://x/y", "path": "a", "sha256": "xyz"}]}, "sources.0.sha256"),
        ({"licence": "typo"}, "licence"),
    ],
)
def test_bad_entry_error_names_the_field(override, field):
    with pytest.raises(CatalogError) as err:
        validate_entry(_minimal(**override), "my-overlay.yaml")
    message = str(err.value)
    assert "my-overlay.yaml" in message
    assert "'toy'" in message
    assert f"field '{field}" in message


def test_overlay_replaces_only_given_fields_and_adds_entries(tmp_path):
    base = load_catalog(use_env=False)
    original = base.get("ptbxl")
    overlay = tmp_path / "mirror.yaml"
    overlay.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "ptbxl",
                    "sources": [
                        {"url": "http://127.0.0.1:9/x.zip", "path": "x.zip", "extract": True}
                    ],
                },
                _minimal(name="hospital_ecg"),
            ]
        )
    )
    merged = load_catalog(overlay, use_env=False)
    assert len(merged) == len(base) + 1
    ptbxl = merged.get("ptbxl")
    assert [s.url for s in ptbxl.sources] == ["http://127.0.0.1:9/x.zip"]
    assert ptbxl.tasks == original.tasks  # untouched fields kept
    assert merged.get("hospital_ecg").title == "Toy dataset"


def test_overlay_from_environment(tmp_path, monkeypatch):
    overlay = tmp_path / "env.yaml"
    overlay.write_text(yaml.safe_dump({"datasets": [_minimal(name="env_only")]}))
    monkeypatch.setenv("CLIMB_CATALOG", str(overlay))
    assert "env_only" in load_catalog()
    assert "env_only" not in load_catalog(use_env=False)


def test_bad_overlay_names_the_file(tmp_path):
    overlay = tmp_path / "broken.yaml"
    overlay.write_text(yaml.safe_dump([{"name": "ptbxl", "size_gb": "big"}]))
    with pytest.raises(CatalogError, match=r"(?s)broken.yaml.*size_gb"):
        load_catalog(overlay, use_env=False)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(CatalogError, match=r"did you mean: ptbxl"):
        load_catalog(use_env=False).get("ptb-xlx")


def test_cli_list_json_matches_catalog_totals(cli, monkeypatch):
    monkeypatch.delenv("CLIMB_CATALOG", raising=False)
    result = cli(["list", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    catalog = load_catalog(use_env=False)
    assert {d["name"] for d in payload["datasets"]} == set(catalog.entries)
    assert payload["totals"]["datasets"] == len(catalog)
    assert payload["totals"]["samples"] == sum(e.samples.total for e in catalog)
    required = {"name", "title", "modality", "domain", "tasks", "samples", "size_gb", "access",
                "license", "homepage", "citation", "sources", "split", "patient_ids",
                "has_adapter"}
    for entry in payload["datasets"]:
        assert required <= set(entry), entry["name"]


def test_cli_list_json_shows_overlay(cli, tmp_path):
    overlay = tmp_path / "o.yaml"
    overlay.write_text(yaml.safe_dump([_minimal(name="zz_private")]))
    result = cli(["list", "--json", "--catalog", str(overlay)])
    names = [d["name"] for d in json.loads(result.output)["datasets"]]
    assert "zz_private" in names


def test_cli_info_unknown_name(cli):
    from typer.testing import CliRunner

    from climb.cli import app

    result = CliRunner().invoke(app, ["info", "ptbx"])
    assert isinstance(result.exception, CatalogError)
    assert "ptbxl" in str(result.exception)


def test_cli_info_shows_access_steps(cli):
    result = cli(["info", "ptbxl"])
    assert result.exit_code == 0
    assert "PhysioNet" in result.output
    assert "strat_fold" in result.output


def test_cli_list_filters(cli):
    result = cli(["list", "--modality", "ecg", "--json"])
    mods = {m for d in json.loads(result.output)["datasets"] for m in d["modalities"]}
    assert mods == {"ecg"} or "ecg" in mods


def test_caller_uncertain_policy_overrides_mapping_table():
    from climb.harmonize import LabelMapper

    entry = load_catalog(use_env=False).get("chexpert")
    task = entry.tasks[0]
    native = task.classes[0]
    default = LabelMapper.for_task(entry, task.name)
    ones = LabelMapper.for_task(entry, task.name, uncertain_policy="ones")
    i = default.classes.index(default.targets(native)[0])
    assert default.multilabel_from_values({native: -1})[i] != default.multilabel_from_values(
        {native: -1}
    )[i]  # NaN under the table's default policy
    assert ones.multilabel_from_values({native: -1})[i] == 1.0


def test_yaml_syntax_error_names_position_but_not_the_line(tmp_path):
    overlay = tmp_path / "mirror.yaml"
    overlay.write_text(
        "- name: ptbxl\n  sources:\n    - url: https://h.example/x.zip?token=SECRET123: [\n"
    )
    with pytest.raises(CatalogError) as err:
        load_catalog(overlay, use_env=False)
    assert "mirror.yaml" in str(err.value)
    assert "line" in str(err.value)
    assert "SECRET123" not in str(err.value)
