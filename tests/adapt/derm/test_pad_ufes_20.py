"""PAD-UFES-20 adapter on the Mendeley-layout fixture (images in the packed part zips)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.adapt._photo_checks import hashed_split, quarantined, standard_rgb, stored_splits
from tests.fixtures import pad_ufes_20 as fixture

# diagnostic -> dermatology5 index (melanoma, nevus, basal_cell_carcinoma,
# actinic_keratosis_scc, benign_keratosis): ACK and SCC share one class.
EXPECTED_CLASS = {"MEL": 0, "NEV": 1, "BCC": 2, "ACK": 3, "SCC": 3, "SEK": 4}


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("pad"))


def member(k: int, lesion: tuple) -> str:
    part = k % 3 + 1
    return f"images/imgs_part_{part}.zip/imgs_part_{part}/{fixture.img_id(lesion)}"


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("pad_ufes_20"))


def test_labels_patients_and_meta_follow_metadata_csv(raw):
    records = {r.sample_id: r for r in get_adapter("pad_ufes_20").records(raw)}
    assert len(records) == len(fixture.LESIONS)
    for k, lesion in enumerate(fixture.LESIONS):
        patient, lesion_id, age, gender, diagnostic, *_ = lesion
        rec = records[fixture.img_id(lesion).removesuffix(".png")]
        assert rec.labels == {"diagnosis": EXPECTED_CLASS[diagnostic]}
        assert rec.patient_id == patient and rec.study_id == f"{patient}_{lesion_id}"
        assert rec.meta.get("sex") == (gender.lower() or None)
        low = int(age) // 10 * 10
        assert rec.meta["age_bucket"] == ("90+" if low >= 90 else f"{low}-{low + 9}")
        assert rec.meta["source_file"] == member(k, lesion)
        assert set(rec.meta) <= {"sex", "age_bucket", "source_file"}
    with zipfile.ZipFile(raw / "images" / "imgs_part_1.zip") as zf:
        expected = standard_rgb(zf.read("imgs_part_1/PAT_1516_1765_530.png"))
    got = records["PAT_1516_1765_530"].inputs["image"].data
    assert got.shape == (224, 224, 3) and np.abs(got.astype(int) - expected).max() <= 1


def test_patient_split_and_bad_rows_quarantined(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    part = copy / "images" / "imgs_part_2.zip"
    with zipfile.ZipFile(raw / "images" / "imgs_part_2.zip") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(part, "w") as zf:  # unpacked part 2 with one file lost, one truncated
        for name, data in members.items():
            if name.endswith("PAT_46_881_939.png"):
                zf.writestr(name, data[:150])
            elif not name.endswith("PAT_1545_1867_157.png"):
                zf.writestr(name, data)
    table = copy / "metadata.csv"
    table.write_text(table.read_text().replace(",SEK,", ",XYZ,", 1))

    manifest = prepare("pad_ufes_20", copy, tmp_path / "store", workers=1, progress=False)
    errors = quarantined(manifest)
    bad = {"PAT_46_881_939": "cannot decode image", "PAT_1545_1867_157": "not found",
           "PAT_684_1302_1224": "no entry in the mapping"}
    assert {Path(s).stem: e for s, e in errors.items()}.keys() == bad.keys()
    for source, error in errors.items():
        assert bad[Path(source).stem] in error
    splits = stored_splits(tmp_path / "store", "pad_ufes_20")
    assert len(splits) == len(fixture.LESIONS) - 3
    for sid, (patient, split) in splits.items():
        assert sid.startswith(patient + "_") and split == hashed_split(f"patient:{patient}")
