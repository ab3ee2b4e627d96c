"""Shared test fixtures: where the real sample data lives, a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


REAL_DATA = REPO / "tests" / "data"


def real_data_dir() -> Path:
    """The real sample files the tests use, inside the checkout (`tests/data/`, see its
    PROVENANCE.md): a clone of the repository alone has everything its tests read.

    The layout is that of the project's sample-data folder (``wfdb/``, ``eeg-uea/``,
    ``connectomes-mouse/``, ``iu-xray-reports/``, ``nih-chestxray14/``); files that the demo
    also bundles are links into ``src/climb/demo_data`` rather than second copies."""
    return REAL_DATA



@pytest.fixture(scope="session")
def real_data() -> Path:
    path = real_data_dir()
    if not path.exists():
        pytest.fail(f"real sample data not found at {path}: the checkout is incomplete")
    return path



@pytest.fixture(scope="session", autouse=True)
def _fixture_sized_datasets():
    """Fixtures are tiny copies of real datasets, so `prepare`'s check of the records against
    the catalog's counts is off for the whole session (``CLIMB_COUNTS_CHECK=off``, inherited
    by subprocesses; module- and session-scoped stores too) except in tests marked
    ``counts_check``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLIMB_COUNTS_CHECK", "off")
        yield


@pytest.fixture(autouse=True)
def _counts_check_marker(request, monkeypatch):
    if request.node.get_closest_marker("counts_check") is not None:
        monkeypatch.delenv("CLIMB_COUNTS_CHECK", raising=False)


@pytest.fixture()
def cli():
    """Invoke the climb CLI in-process: cli(["list", "--json"]) -> click Result."""
    from typer.testing import CliRunner

    from climb.cli import app

    runner = CliRunner()

    def invoke(args: list[str], **kwargs):
        return runner.invoke(app, args, catch_exceptions=False, **kwargs)

    return invoke
