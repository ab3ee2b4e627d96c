"""`climb prepare` in-process (Typer's CliRunner) for the adapter tests, every text a run
leaves (its output, its log records, each file of the store with Parquet rows decoded), and
the split table it writes."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from climb.cli import app


def config_args(config: dict[str, Any]) -> list[str]:
    """``--config key=value`` pairs (values as JSON, which the CLI parses as YAML)."""
    out: list[str] = []
    for key, value in config.items():
        out += ["--config", f"{key}={json.dumps(value)}"]
    return out


def every_output(store: Path) -> str:
    """All text of a store: manifests, indexes, journals, and every Parquet row."""
    texts = []
    for path in sorted(p for p in store.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            for row in pq.read_table(path).to_pylist():
                texts.append(json.dumps(row, default=repr))
                texts.extend(v.decode("latin-1") for v in row.values() if isinstance(v, bytes))
        else:
            texts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(texts)


def prepare_cli(
    name: str, raw: Path, out: Path, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> tuple[dict[str, Any], str]:
    """Run ``climb -v prepare NAME`` -> (manifest, every text the run left)."""
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(
        app,
        [
            "-v",
            "prepare",
            name,
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--workers",
            "1",
            *config_args(config),
        ],
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    manifest = json.loads((out / name / "manifest.json").read_text())
    return manifest, "\n".join([result.output, caplog.text, every_output(out)])


def split_rows(out: Path, name: str) -> list[dict[str, str]]:
    """The rows of the store's ``splits.csv`` (sample_id, split, ...)."""
    with open(out / name / "splits.csv", newline="") as f:
        return list(csv.DictReader(f))
