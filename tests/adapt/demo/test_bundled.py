"""Every bundled set: catalog entry, data folder, provenance, fixture, records valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.demo_data import names, path
from climb.errors import CatalogError, RecordError
from tests.fixtures import available

BUNDLED = sorted(e.name for e in load_catalog() if e.access.tier == "bundled")


def test_catalog_and_data_agree():
    assert names() == BUNDLED
    assert len(BUNDLED) == 9
    provenance = (Path(path("demo_mitbih_beats")).parent / "PROVENANCE.md").read_text()
    for name in BUNDLED:
        entry = load_catalog().get(name)
        assert entry.benchmark == ["climb-demo"] and entry.sources == []
        assert has_adapter(entry), name
        assert name in provenance
        assert path(name).is_dir()
    with pytest.raises(CatalogError, match="no bundled data set"):
        path("demo_nothing")


def test_package_data_is_small():
    root = Path(path("demo_mitbih_beats")).parent
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert total < 19 * 1024 * 1024


@pytest.mark.parametrize("name", BUNDLED)
def test_fixture_builds_and_first_item_loads(name, tmp_path):
    raw = available()[name](tmp_path)
    adapter = get_adapter(name)
    items = adapter.items(raw)
    record = next(iter(adapter.load(raw, items[0])))
    record.validate()
    tasks = {t.name for t in adapter.entry.tasks}
    assert set(record.labels) == tasks
    assert record.patient_id


def test_missing_files_raise_record_error(tmp_path):
    for name in ("demo_mitbih_beats", "demo_ptb_ecg", "demo_eeg_eyes", "demo_mouse_connectomes",
                 "demo_iu_xray_reports", "demo_breast_cancer", "demo_dicom_modality",
                 "demo_volume_video"):  # fmt: skip
        with pytest.raises(RecordError) as err:
            get_adapter(name).items(tmp_path)
        assert str(tmp_path) in str(err.value)
