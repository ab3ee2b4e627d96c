"""`climb prepare` from the command line: bundled sets need no --raw, others do."""

from __future__ import annotations

import json

import pytest

from climb.errors import ClimbError


def test_prepare_bundled_set_without_raw_then_audit(cli, tmp_path):
    store = tmp_path / "store"
    result = cli(["prepare", "demo_breast_cancer", "--out", str(store), "--workers", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((store / "demo_breast_cancer" / "manifest.json").read_text())
    assert sum(c["samples"] for c in manifest["counts"].values()) == 569
    audit = cli(["audit", str(store)])
    assert audit.exit_code == 0, audit.output


def test_prepare_non_bundled_set_requires_raw(tmp_path):
    from climb.store.commands import bundled_raw_dir

    with pytest.raises(ClimbError, match="--raw DIR is required"):
        bundled_raw_dir("ptbxl")
