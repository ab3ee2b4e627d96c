"""The Ray engine runs the same per-chunk work and writes the same store as the local one."""

from __future__ import annotations

import json

import pytest

from climb.store.prepare import prepare
from tests.store import synthetic

NAME = synthetic.NAME


@pytest.mark.slow
def test_ray_engine_matches_local(tmp_path, raw, overlay, store):
    pytest.importorskip("ray")
    m = prepare(NAME, raw, tmp_path, catalog=overlay, engine="ray", workers=2, chunk_items=6,
                config={"shard_rows": 4}, progress=False)
    local = json.loads((store / NAME / "manifest.json").read_text())
    assert [s["sha256"] for s in m["shards"]] == [s["sha256"] for s in local["shards"]]
    assert (tmp_path / NAME / "manifest.json").read_bytes() == (
        store / NAME / "manifest.json"
    ).read_bytes()
    assert len(m["quarantined"]) == 1


def test_local_pool_matches_inline(tmp_path, raw, overlay, store):
    m = prepare(NAME, raw, tmp_path, catalog=overlay, engine="local", workers=2, chunk_items=4,
                config={"shard_rows": 4}, progress=False)
    local = json.loads((store / NAME / "manifest.json").read_text())
    assert m["shards"] == local["shards"]


def test_unknown_engine(tmp_path, raw, overlay):
    from climb.errors import ClimbError

    with pytest.raises(ClimbError, match="unknown engine"):
        prepare(NAME, raw, tmp_path, catalog=overlay, engine="spark", workers=2,
                progress=False)
