"""demo_iu_xray_reports: text input and MeSH-derived labels, checked on the raw XML."""

from __future__ import annotations

import tarfile
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from climb.adapt.base import get_adapter
from climb.demo_data import path
from climb.errors import LabelMappingError


@pytest.fixture(scope="module")
def adapter_items():
    adapter = get_adapter("demo_iu_xray_reports")
    return adapter, adapter.items(path("demo_iu_xray_reports"))


def test_counts_and_one_report(adapter_items):
    adapter, items = adapter_items
    raw = path("demo_iu_xray_reports")
    with tarfile.open(raw / "NLMCXR_reports.tgz") as tar:
        xml = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    assert len(xml) == 3955
    with_text = 0
    for blob in xml.values():
        root = ET.fromstring(blob)
        secs = {a.get("Label"): (a.text or "").strip() for a in root.iter("AbstractText")}
        with_text += bool(secs.get("FINDINGS") or secs.get("IMPRESSION"))
    assert len(items) == with_text
    (rec,) = adapter.load(raw, next(i for i in items if i.key == "CXR1"))
    assert rec.patient_id == "iu-CXR1" and rec.split is None
    assert rec.inputs["text"].encoding == "text"
    assert "There is no evidence of pneumothorax." in rec.inputs["text"].data
    assert "Normal chest x-XXXX." in rec.inputs["text"].data
    classes = adapter.task_classes()["findings"]
    assert rec.labels["findings"].tolist() == [float(c == "normal") for c in classes]


def test_labels_of_all_reports(adapter_items):
    adapter, items = adapter_items
    raw = path("demo_iu_xray_reports")
    records = [r for item in items for r in adapter.load(raw, item)]
    labels = np.stack([r.labels["findings"] for r in records])
    classes = adapter.task_classes()["findings"]
    assert labels.shape == (len(items), 8)
    # independent count: reports whose MeSH terms start with "Cardiomegaly"
    cardiomegaly = sum(
        any(h.lower().startswith("cardiomegaly") for h in i.info["headings"]) for i in items
    )
    assert np.nansum(labels[:, classes.index("cardiomegaly")]) == cardiomegaly
    unknown = [i for i in items if i.info["headings"] == ["no indexing"]]
    assert np.isnan(labels).all(axis=1).sum() == len(unknown) > 0
    assert len({r.sample_id for r in records}) == len(records)


def test_unmapped_heading_is_an_error(adapter_items):
    adapter, _ = adapter_items
    with pytest.raises(LabelMappingError, match="no entry in the mapping table"):
        adapter.labels(["a heading nobody mapped"])
