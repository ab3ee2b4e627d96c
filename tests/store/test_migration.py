"""Store schema_version 1 -> 2: a version 1 store (raw float32 signals, no ``config.signal``)
still loads with identical values; ``prepare`` into it re-prepares it as version 2 (never
"already prepared"); a version this climb does not know is refused with what to do."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from climb.errors import ClimbError
from climb.load import StoreDataset
from climb.store.manifest import SCHEMA_VERSION, read_manifest
from climb.store.reader import iter_rows, open_store
from tests.store.signal_stores import prepare_ptbxl, ptbxl_stores

SPLITS = ["train", "val", "test"]


def _prepare(raw: Path, store: Path, config: dict | None = None) -> Path:
    return prepare_ptbxl(raw, store, config) / "ptbxl"


def _as_version_1(ds_dir: Path) -> None:
    """Rewrite a store's manifest as climb wrote it before version 2."""
    path = ds_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 1
    manifest["config"].pop("signal", None)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _encodings(ds_dir: Path) -> set[str | None]:
    manifest = json.loads((ds_dir / "manifest.json").read_text())
    out: set[str | None] = set()
    for shard in manifest["shards"]:
        table = pq.read_table(ds_dir / shard["path"], columns=["input.ecg.attrs"])
        out |= {json.loads(a).get("encoding") for a in table.column(0).to_pylist()}
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    built = ptbxl_stores(tmp_path_factory)
    v1 = tmp_path_factory.mktemp("migration_v1") / "ptbxl"
    shutil.copytree(built["plain"] / "ptbxl", v1)  # raw float32 payloads, as v1 wrote them
    _as_version_1(v1)
    return {"raw": built["raw"], "v1": v1, "v2": built["auto"] / "ptbxl"}


def _ecg(store_dir: Path) -> dict[str, np.ndarray]:
    ds = StoreDataset(store_dir.parent, [store_dir.name], split=SPLITS)
    return {ds[i]["sample_id"]: ds[i]["inputs"]["ecg"] for i in range(len(ds))}


def test_a_version_1_store_loads_with_identical_values(stores):
    assert read_manifest(stores["v1"])["schema_version"] == 1
    assert _encodings(stores["v1"]) == {None}  # raw float32, as version 1 wrote them
    assert _encodings(stores["v2"]) == {"digital"}
    old, new = _ecg(stores["v1"]), _ecg(stores["v2"])
    assert old.keys() == new.keys() and len(old) == 10
    for key, value in old.items():
        assert value.dtype == np.float32
        assert np.array_equal(value.view(np.uint32), new[key].view(np.uint32))
    rows = list(iter_rows(open_store(stores["v1"].parent, ["ptbxl"])[0]))
    for row in rows:  # the reader path too
        assert np.array_equal(
            row["inputs"]["ecg"].view(np.uint32), new[row["sample_id"]].view(np.uint32)
        )


def test_prepare_into_a_version_1_store_re_prepares_it(stores, tmp_path, caplog):
    store = tmp_path / "store"
    shutil.copytree(stores["v2"], store / "ptbxl")
    _as_version_1(store / "ptbxl")  # same config and sources: only the version differs
    with caplog.at_level(logging.WARNING):
        ds_dir = _prepare(stores["raw"], store)
    assert "re-preparing it as version 2" in caplog.text
    manifest = read_manifest(ds_dir)
    assert manifest["schema_version"] == SCHEMA_VERSION == 2
    assert manifest["config"]["signal"] == {"codec": "auto"}
    assert _encodings(ds_dir) == {"digital"}
    caplog.clear()
    with caplog.at_level(logging.INFO):
        _prepare(stores["raw"], store)  # now current: nothing to do
    assert "already prepared" in caplog.text


@pytest.mark.parametrize(
    ("version", "hint"), [(3, "upgrade climb"), (0, "re-prepare it"), (None, "re-prepare it")]
)
def test_an_unknown_version_is_refused_with_what_to_do(stores, tmp_path, version, hint):
    ds_dir = tmp_path / "ptbxl"
    shutil.copytree(stores["v1"], ds_dir)
    path = ds_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = version
    path.write_text(json.dumps(manifest))
    with pytest.raises(ClimbError, match=hint):
        read_manifest(ds_dir)
