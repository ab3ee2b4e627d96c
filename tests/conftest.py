"""Shared test fixtures: where the real sample data lives, a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """`../shared/data` beside the checkout (override with $CLIMB_SHARED_DATA)."""
    env = os.environ.get("CLIMB_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.exists():
        pytest.fail(f"real sample data not found at {path} (set CLIMB_SHARED_DATA)")
    return path


@pytest.fixture()
def cli():
    """Invoke the climb CLI in-process: cli(["list", "--json"]) -> click Result."""
    from typer.testing import CliRunner

    from climb.cli import app

    runner = CliRunner()

    def invoke(args: list[str], **kwargs):
        return runner.invoke(app, args, catch_exceptions=False, **kwargs)

    return invoke
