"""demo_volume_video: labels from each file's own Modality tag, volumes vs clips from the
headers, volumes / clips through the 3D and video cores, patient-grouped fixed split,
PHI-free records, bundled bytes as PROVENANCE.md says."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest

from climb.adapt.base import get_adapter
from climb.demo_data import path
from climb.errors import RecordError
from climb.read.dicom_cine import read_dicom_cine
from climb.read.standardize_volume import standardize_clip
from tests.adapt.demo._provenance import assert_files_match_provenance

RAW = path("demo_volume_video")


@pytest.fixture(scope="module")
def adapter_items():
    adapter = get_adapter("demo_volume_video")
    return adapter, {i.source: i for i in adapter.items(RAW)}


def _files() -> list[Path]:
    return sorted(p for p in RAW.rglob("*") if p.is_file() and p.name != "split.csv")


def test_labels_are_the_files_modality_tags(adapter_items):
    _, items = adapter_items
    listed = [f for i in items.values() for f in i.info["files"]]
    assert sorted(listed) == sorted(p.relative_to(RAW).as_posix() for p in _files())
    for item in items.values():
        tags = {pydicom.dcmread(RAW / f, stop_before_pixels=True).Modality
                for f in item.info["files"]}  # fmt: skip
        assert tags == {item.info["modality"]}, item.source
    per_split = Counter((i.info["split"], i.info["modality"]) for i in items.values())
    for modality in ("CT", "MR", "US"):  # every class in train and in test
        assert per_split["train", modality] and per_split["test", modality], modality


def test_volumes_and_clips_follow_the_headers(adapter_items):
    _, items = adapter_items
    kinds = {source: i.info["kind"] for source, i in items.items()}
    # a series of single-frame slices is one volume
    assert kinds["pcir/patientB-study1/CT5N"] == kinds["nibabel"] == "volume"
    assert items["pcir/patientB-study1/CT5N"].info["files"] == [
        f"pcir/patientB-study1/CT5N/{n}" for n in ("2062", "2392", "2693", "3023", "3353")
    ]
    # a multi-frame file is a cine when it states its frame timing, else slices
    cine = pydicom.dcmread(RAW / "pydicom/examples_ybr_color.dcm", stop_before_pixels=True)
    mr = pydicom.dcmread(RAW / "pydicom-data/emri_small.dcm", stop_before_pixels=True)
    assert int(cine.NumberOfFrames) == 30 and float(cine.FrameTime) > 0
    assert int(mr.NumberOfFrames) == 10 and "FrameTime" not in mr
    assert kinds["pydicom/examples_ybr_color.dcm"] == "clip"
    assert kinds["pydicom-data/emri_small.dcm"] == "volume"
    # a still alone in its series is a one-frame clip
    assert kinds["pydicom-data/US1_J2KI.dcm"] == kinds["pydicom/ExplVR_BigEnd.dcm"] == "clip"


def test_records_come_from_the_3d_and_video_cores(adapter_items):
    adapter, items = adapter_items
    classes = adapter.task_classes()["modality"]
    clips = list(adapter.load(RAW, items["pydicom/examples_ybr_color.dcm"]))
    assert [r.sample_id for r in clips] == [f"pydicom-examples_ybr_color-c{n}" for n in range(6)]
    cine = read_dicom_cine(RAW / "pydicom/examples_ybr_color.dcm")
    expected = standardize_clip(cine, frames=8, size=64, policy="strided", stride=1, start=8,
                                mode="L")  # fmt: skip
    np.testing.assert_array_equal(clips[2].inputs["video"].data, expected)
    assert expected.shape == (8, 64, 64, 1) and expected.dtype == np.uint8
    assert {classes[r.labels["modality"]] for r in clips} == {"US"}
    (volume,) = adapter.load(RAW, items["pcir/patientB-study1/CT5N"])
    data = volume.inputs["volume"].data
    assert data.shape == (8, 64, 64) and data.dtype == np.uint8
    assert classes[volume.labels["modality"]] == "CT" and volume.split == "train"
    # five real slices centred in eight, the pad slices at the volume's floor (0)
    assert (data[[0, 7]] == 0).all() and (data[1:6].max(axis=(1, 2)) > 0).all()
    assert data.min() == 0 and data.max() == 255


def test_patients_are_grouped_and_hashed(adapter_items):
    adapter, items = adapter_items
    groups: dict[str, set[str]] = {}
    for item in items.values():
        groups.setdefault(item.info["patient_id"], set()).add(item.info["split"])
        assert re.fullmatch(r"(patient|series)-[0-9a-f]{12}", item.info["patient_id"])
    assert all(len(s) == 1 for s in groups.values())
    assert len(groups) == 7
    pcir = {i.info["patient_id"] for s, i in items.items() if s.startswith("pcir/")}
    assert len(pcir) == 1  # both pcir studies are one patient
    item = items["pcir/patientB-study1/CT5N"]
    header = pydicom.dcmread(RAW / item.info["files"][0], stop_before_pixels=True)
    text = repr([(r.patient_id, r.study_id, r.meta) for r in adapter.load(RAW, item)])
    for value in (header.PatientName, header.PatientID, header.SeriesInstanceUID):
        assert str(value) not in text


def test_split_table_faults_are_record_errors(tmp_path):
    adapter = get_adapter("demo_volume_video")
    raw = tmp_path / "raw" / "pcir" / "CT5N"
    raw.mkdir(parents=True)
    for f in sorted((RAW / "pcir/patientB-study1/CT5N").iterdir())[:4]:
        (raw / f.name).write_bytes(f.read_bytes())
    root = tmp_path / "raw"
    with pytest.raises(RecordError, match="split table not found"):
        adapter.items(root)
    (root / "split.csv").write_text("group,split\npcir/CT5N/2062,train\n")
    with pytest.raises(RecordError, match="no split for"):
        adapter.items(root)
    (root / "split.csv").write_text("group,split\npcir/CT5N/2062,train\npcir,test\n")
    with pytest.raises(RecordError, match="a series in two splits"):
        adapter.items(root)
    (root / "split.csv").write_text("group,split\npcir,train\n")
    (item,) = adapter.items(root)
    (root / "pcir/CT5N/2693").unlink()  # a slice gone: the core refuses the gap by name
    with pytest.raises(RecordError) as err:
        list(adapter.load(root, item))
    assert err.value.path == "pcir/CT5N" and "slice" in err.value.problem


def test_bundled_files_match_provenance_sha256():
    assert_files_match_provenance(RAW, "sha256 of the bundled volume/video files")
