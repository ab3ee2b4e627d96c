"""Fixtures of the load tests: one store holding two prepared synthetic ECG datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store import synthetic

NAMES = ("synthetic_ecg", "synthetic_ecg_b")


@pytest.fixture(scope="session")
def two_store(tmp_path_factory) -> Path:
    """STORE/ with synthetic_ecg (24 records) and synthetic_ecg_b (12), small row groups."""
    from climb.store.prepare import prepare

    root = tmp_path_factory.mktemp("load")
    overlay = synthetic.write_overlay(root / "overlay.yaml", NAMES)
    store = root / "store"
    cfg = {"shard_rows": 5, "row_group_bytes": 12000, "split_ratios": "0.5,0.25,0.25"}
    prepare(NAMES[0], synthetic.build(root / "a", n=24, per_patient=1), store,
            catalog=overlay, workers=1, config=cfg, progress=False)
    prepare(NAMES[1], synthetic.build(root / "b", n=12, per_patient=1, seconds=1.0), store,
            catalog=overlay, workers=1, config=cfg, progress=False)
    return store
