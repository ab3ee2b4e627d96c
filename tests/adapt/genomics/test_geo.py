"""GEO adapter on its fixture: one record per GSM, labels, patients, meta, bad input."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from tests.fixtures import geo as fixture


@pytest.fixture()
def raw(tmp_path):
    return fixture.build(tmp_path)


def test_records(raw):
    adapter = get_adapter("geo", config=fixture.CONFIG)
    records = list(adapter.records(raw))
    assert [r.sample_id for r in records] == fixture.GSMS
    classes = adapter.task_classes()["case_control"]
    want = [classes.index({"normal": "control", "tumor": "case"}[t]) if t != "unknown" else -1
            for t in fixture.TISSUE]  # fmt: skip
    assert [r.labels["case_control"] for r in records] == want
    assert [r.patient_id for r in records] == [f"GSE900001-{p}" for p in fixture.PATIENT]
    np.testing.assert_allclose(
        np.stack([r.inputs["expression"].data for r in records], axis=1), fixture.values()
    )
    assert records[0].meta["sex"] == "female" and records[0].meta["age_bucket"] == "60-69"
    assert records[0].meta["device"] == "GPL570"


def test_series_without_config_is_quarantined(raw):
    adapter = get_adapter("geo")
    (item,) = adapter.items(raw)
    with pytest.raises(RecordError, match="no entry in the adapter config"):
        list(adapter.load(raw, item))


def test_truncated_series_matrix(raw):
    path = raw / "GSE900001_series_matrix.txt.gz"
    text = fixture.text()
    with gzip.open(path, "wt") as handle:
        handle.write(text[: text.index("!series_matrix_table_end")])
    adapter = get_adapter("geo", config=fixture.CONFIG)
    with pytest.raises(RecordError, match="truncated") as err:
        list(adapter.records(raw))
    assert "GSE900001_series_matrix.txt.gz" in str(err.value)
