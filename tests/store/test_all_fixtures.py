"""Every dataset fixture (tests/fixtures/<dataset>.py) through its adapter, `prepare` and
`audit`, then one collated batch through climb.load.

A fixture module may define ``CONFIG`` (adapter options passed to `prepare`). A patient that
an official split puts in two splits must be reported in the manifest
(``split.patient_conflicts``); any other patient overlap fails.
"""

from __future__ import annotations

import importlib
import warnings

import pytest
import torch

from climb.adapt.base import has_adapter
from climb.catalog import load_catalog
from climb.errors import CatalogError
from climb.load import Collator, StoreDataset
from climb.store.audit import audit
from climb.store.prepare import prepare
from tests.fixtures import available

BUILDERS = available()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_prepare_and_audit_fixture(name, tmp_path):
    try:
        entry = load_catalog().get(name)
    except CatalogError:
        pytest.skip(f"{name}: fixture builder without a catalog entry yet")
    if not has_adapter(entry):
        pytest.skip(f"{name}: fixture builder without an adapter yet")
    raw = BUILDERS[name](tmp_path / "raw")
    config = getattr(importlib.import_module(f"tests.fixtures.{name}"), "CONFIG", None)
    manifest = prepare(name, raw, tmp_path / "store", workers=1, config=config, progress=False)
    rows = sum(s["rows"] for s in manifest["shards"])
    assert rows > 0, f"{name}: no records prepared; quarantined: {manifest['quarantined']}"
    report = audit(tmp_path / "store", [name])
    reported = manifest["split"]["patient_conflicts"]
    unreported = [o for o in report.patient_overlaps if o["patient_id"] not in reported]
    assert not unreported, unreported
    assert not report.checksum_errors and not report.split_mismatches
    if report.cross_split_duplicates:  # fixtures often reuse one real recording
        warnings.warn(f"{name}: fixture has identical content across splits: "
                      f"{report.cross_split_duplicates[:2]}", stacklevel=1)
    split = next(s for s in ("train", "val", "test") if manifest["counts"][s]["samples"])
    ds = StoreDataset(tmp_path / "store", [name], split=split)
    batch = Collator(ds.tasks)([ds[i] for i in range(min(2, len(ds)))])
    assert batch["inputs"] and all(m.dtype == torch.bool for m in batch["input_mask"].values())
    assert set(batch["labels"]) == {t.key for t in ds.tasks if t.per_position or t.type in
                                    ("multilabel", "multiclass", "binary", "regression")}
