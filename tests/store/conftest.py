"""Fixtures of the store tests: the synthetic WFDB dataset and its catalog overlay."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store import synthetic


@pytest.fixture(scope="session")
def overlay(tmp_path_factory) -> Path:
    return synthetic.write_overlay(tmp_path_factory.mktemp("catalog") / "overlay.yaml")


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> Path:
    """24 WFDB records (8 patients), one of them (rec0005) truncated."""
    return synthetic.build(tmp_path_factory.mktemp("synthetic"), corrupt=("rec0005",))


@pytest.fixture(scope="session")
def store(tmp_path_factory, raw, overlay) -> Path:
    """A store prepared once per session (small shards so that there are several)."""
    from climb.store.prepare import prepare

    out = tmp_path_factory.mktemp("store")
    prepare(synthetic.NAME, raw, out, catalog=overlay, workers=1,
            config={"shard_rows": 4}, progress=False)
    return out
