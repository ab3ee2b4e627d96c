"""demo_dicom_modality: labels from each file's own Modality tag, re-encodings grouped,
tiles from the imaging core, fixed split, PHI-free records, bundled bytes as provenance says."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pydicom
import pytest

from climb.adapt.base import get_adapter
from climb.demo_data import path
from climb.errors import RecordError
from climb.read.dicom_image import read_dicom_image
from climb.read.standardize import standardize_image
from tests.adapt.demo._provenance import assert_files_match_provenance

RAW = path("demo_dicom_modality")


@pytest.fixture(scope="module")
def adapter_items():
    adapter = get_adapter("demo_dicom_modality")
    return adapter, adapter.items(RAW)


def test_labels_are_the_files_modality_tags(adapter_items):
    _, items = adapter_items
    files = [p for p in RAW.rglob("*") if p.is_file() and p.name != "split.csv"]
    assert len(items) == len(files) == 16
    for item in items:
        assert (
            item.info["modality"]
            == pydicom.dcmread(RAW / item.source, stop_before_pixels=True).Modality
        )
    per_split = Counter((i.info["split"], i.info["modality"]) for i in items)
    for modality in ("CR", "CT", "MR", "US"):  # every class seen in train and unseen in test
        assert per_split["train", modality] and per_split["test", modality], modality


def test_reencodings_and_series_share_one_group_and_split(adapter_items):
    _, items = adapter_items
    by_source = {i.source: i for i in items}
    mr = [
        by_source[f"pydicom/MR_small{s}.dcm"]
        for s in ("", "_RLE", "_bigendian", "_jp2klossless", "_jpeg_ls_lossless")
    ]
    assert len({i.info["patient_id"] for i in mr}) == 1
    us = [by_source["pydicom-data/US1_J2KI.dcm"], by_source["pydicom-data/US1_J2KR.dcm"]]
    assert us[0].info["patient_id"] == us[1].info["patient_id"]
    groups: dict[str, set[str]] = {}
    for item in items:
        groups.setdefault(item.info["patient_id"], set()).add(item.info["split"])
    assert all(len(s) == 1 for s in groups.values())
    assert len(groups) == 11
    # val holds more than one class (CT, MR, US), from patients of its own
    assert {i.info["modality"] for i in items if i.info["split"] == "val"} == {"CT", "MR", "US"}
    # ids are hashes, never the header's PatientID / UID text
    for item in items:
        assert re.fullmatch(r"(patient|series)-[0-9a-f]{12}", item.info["patient_id"])


def test_tiles_come_from_the_imaging_core(adapter_items):
    adapter, items = adapter_items
    item = next(i for i in items if i.source == "pydicom-data/RG3_J2KI.dcm")
    records = list(adapter.load(RAW, item))
    size, tile, stride = (adapter.config[k] for k in ("size", "tile", "stride"))
    per_side = (size - tile) // stride + 1
    assert [r.sample_id for r in records] == [
        f"pydicom-data-RG3_J2KI-f0-t{t}" for t in range(per_side**2)
    ]
    expected = standardize_image(
        read_dicom_image(RAW / item.source), size=size, fit="crop", mode="L", resample="bilinear"
    )
    np.testing.assert_array_equal(records[-1].inputs["image"].data, expected[-tile:, -tile:])
    np.testing.assert_array_equal(
        records[1].inputs["image"].data, expected[:tile, stride : stride + tile]
    )
    classes = adapter.task_classes()["modality"]
    assert {classes[r.labels["modality"]] for r in records} == {"CR"}
    assert all(r.split == "test" and r.inputs["image"].data.shape == (tile, tile) for r in records)
    assert records[0].meta["notes"] == "transfer syntax JPEG2000"
    # colour ultrasound becomes grey tiles like the rest
    us = next(i for i in items if i.source == "pydicom-data/US1_J2KR.dcm")
    assert next(iter(adapter.load(RAW, us))).inputs["image"].data.ndim == 2


def test_records_carry_no_header_identifiers(adapter_items):
    adapter, items = adapter_items
    item = next(i for i in items if i.source == "pydicom-data/eCT_Supplemental.dcm")
    header = pydicom.dcmread(RAW / item.source, stop_before_pixels=True)
    text = repr([(r.patient_id, r.study_id, r.meta) for r in adapter.load(RAW, item)])
    for value in (
        header.PatientName,
        header.PatientID,
        header.SeriesInstanceUID,
        header.StudyInstanceUID,
    ):
        assert str(value) not in text


def test_split_table_faults_are_record_errors(tmp_path):
    adapter = get_adapter("demo_dicom_modality")
    raw = tmp_path / "raw"
    (raw / "pydicom").mkdir(parents=True)
    for name in ("MR_small.dcm", "MR_small_RLE.dcm"):
        (raw / "pydicom" / name).write_bytes((RAW / "pydicom" / name).read_bytes())
    with pytest.raises(RecordError, match="split table not found"):
        adapter.items(raw)
    (raw / "split.csv").write_text("group,split\npydicom/MR_small.dcm,train\n")
    with pytest.raises(RecordError, match=r"no split for pydicom/MR_small_RLE\.dcm"):
        adapter.items(raw)
    (raw / "split.csv").write_text(
        "group,split\npydicom/MR_small.dcm,train\npydicom/MR_small_RLE.dcm,test\n"
    )
    with pytest.raises(RecordError, match="one patient's files are in two splits"):
        adapter.items(raw)
    (raw / "split.csv").write_text("group,split\npydicom,train\n")
    (raw / "pydicom" / "broken.dcm").write_bytes(b"not a dicom file")
    with pytest.raises(RecordError, match=r"pydicom/broken\.dcm"):
        adapter.items(raw)


def test_bundled_files_match_provenance_sha256():
    assert_files_match_provenance(RAW, "sha256 of the bundled DICOM files")
