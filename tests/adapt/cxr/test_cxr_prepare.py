"""The four chest X-ray findings adapters through `prepare` on their fixtures: official
splits hold, no patient is in two splits, and bad input (a label row whose image is missing,
a truncated image) is quarantined with a reason while the rest is prepared."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.fixtures import available

DATASETS = ["mimic_cxr", "chexpert", "nih_chestxray14", "vindr_cxr"]


@pytest.fixture(scope="module")
def raws(tmp_path_factory) -> dict[str, Path]:
    builders = available()
    return {name: builders[name](tmp_path_factory.mktemp(name)) for name in DATASETS}


def test_catalog_entries_name_their_adapters():
    catalog = load_catalog(use_env=False)
    for name in DATASETS:
        entry = catalog.get(name)
        assert has_adapter(entry) and entry.adapter == f"cxr.{name}"
        assert entry.task("findings").vocabulary == "cxr14"


@pytest.mark.parametrize("name", DATASETS)
def test_missing_and_truncated_images_are_quarantined_the_rest_prepared(raws, name, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(raws[name], raw)
    items = get_adapter(name).items(raw)
    missing, truncated = items[0].source, items[1].source
    (raw / missing).unlink()
    data = (raw / truncated).read_bytes()
    (raw / truncated).write_bytes(data[: len(data) // 3])

    manifest = prepare(name, raw, tmp_path / "store", workers=1, progress=False)
    # listed again: a missing NIH image is looked for at images/<Image Index>
    missing = next(i.source for i in get_adapter(name).items(raw) if i.key == items[0].key)
    reasons = {q["source"]: q["error"] for q in manifest["quarantined"]}
    assert set(reasons) == {missing, truncated}
    assert "not found" in reasons[missing] and missing in reasons[missing]
    assert truncated in reasons[truncated] and len(reasons[truncated]) > len(truncated) + 5
    with open(tmp_path / "store" / name / "splits.csv", newline="") as f:
        prepared = {row["sample_id"] for row in csv.DictReader(f)}
    assert prepared == {item.key for item in items[2:]}


@pytest.mark.parametrize("name", DATASETS)
def test_adapter_splits_are_used_and_no_patient_is_in_two(raws, name, tmp_path):
    adapter = get_adapter(name)
    expected = {item.key: item.info["split"] for item in adapter.items(raws[name])}
    manifest = prepare(name, raws[name], tmp_path / "store", workers=1, progress=False)
    assert manifest["quarantined"] == []
    with open(tmp_path / "store" / name / "splits.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {row["sample_id"]: row["split"] for row in rows} == expected
    assert {"train", "val", "test"} <= set(expected.values())
    splits_of: dict[str, set[str]] = {}
    for record in adapter.records(raws[name]):
        splits_of.setdefault(record.patient_id, set()).add(record.split)
    assert splits_of and all(len(s) == 1 for s in splits_of.values())
    assert manifest["split"]["patient_conflicts"] in ([], {})
    json.dumps(manifest)  # plain JSON all the way
