"""HAM10000 adapter on the Dataverse-layout fixture (packed image zips, .tab metadata)."""

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
from tests.fixtures import ham10000 as fixture

# dx code -> dermatology5 index (melanoma, nevus, basal_cell_carcinoma, actinic_keratosis_scc,
# benign_keratosis), written out here from the publisher's code list; df / vasc have no class.
EXPECTED_CLASS = {"mel": 0, "nv": 1, "bcc": 2, "akiec": 3, "bkl": 4, "df": -1, "vasc": -1}


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("ham"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("ham10000").records(raw)}


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("ham10000"))


def test_labels_lesions_and_meta_follow_the_metadata_table(records):
    assert len(records) == len(fixture.ROWS)
    for lesion, image, dx, _, age, sex, _, site in fixture.ROWS:
        rec = records[image]
        assert rec.labels == {"diagnosis": EXPECTED_CLASS[dx]}
        assert rec.study_id == lesion and rec.patient_id is None and rec.split is None
        assert rec.meta.get("sex") == (sex if sex in ("male", "female") else None)
        low = int(float(age)) // 10 * 10 if age else None
        decade = None if low is None else "90+" if low >= 90 else f"{low}-{low + 9}"
        assert rec.meta.get("age_bucket") == decade
        assert rec.meta["site"] == site
        assert "localization" not in rec.meta and "dx_type" not in rec.meta


def test_images_are_read_from_the_packed_zips(raw, records):
    for number, (_, image, *_) in enumerate(fixture.ROWS, start=1):
        archive = f"HAM10000_images_part_{1 if number <= fixture.PART_1 else 2}.zip"
        assert records[image].meta["source_file"] == f"{archive}/{image}.jpg"
    with zipfile.ZipFile(raw / "HAM10000_images_part_2.zip") as zf:
        expected = standard_rgb(zf.read("ISIC_0029068.jpg"))
    got = records["ISIC_0029068"].inputs["image"].data
    assert got.shape == (224, 224, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_unpacked_kaggle_layout_gives_the_same_records(raw, records, tmp_path):
    kaggle = tmp_path / "kaggle"
    kaggle.mkdir()
    for part in (1, 2):
        with zipfile.ZipFile(raw / f"HAM10000_images_part_{part}.zip") as zf:
            zf.extractall(kaggle / f"HAM10000_images_part_{part}")
    table = (raw / "HAM10000_metadata.tab").read_text().replace('"', "").replace("\t", ",")
    (kaggle / "HAM10000_metadata.csv").write_text(table)
    unpacked = {r.sample_id: r for r in get_adapter("ham10000").records(kaggle)}
    assert set(unpacked) == set(records)
    for sid, rec in unpacked.items():
        assert rec.labels == records[sid].labels and rec.study_id == records[sid].study_id
        np.testing.assert_array_equal(rec.inputs["image"].data, records[sid].inputs["image"].data)
        assert rec.meta["source_file"].startswith("HAM10000_images_part_")


def test_split_groups_by_lesion_and_bad_rows_are_quarantined(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    with zipfile.ZipFile(raw / "HAM10000_images_part_2.zip") as src, \
            zipfile.ZipFile(copy / "HAM10000_images_part_2.zip", "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "ISIC_0025209.jpg":
                data = data[:300]  # truncated JPEG
            if name != "ISIC_0031753.jpg":  # missing image
                dst.writestr(name, data)
    table = copy / "HAM10000_metadata.tab"
    table.write_text(table.read_text().replace('"bkl"', '"zzz"'))  # a code the table lacks

    manifest = prepare("ham10000", copy, tmp_path / "store", workers=1, progress=False)
    errors = quarantined(manifest)
    assert set(errors) == {"HAM10000_images_part_2.zip/ISIC_0025209.jpg",
                           "HAM10000_images_part_1/ISIC_0031753.jpg",
                           "HAM10000_images_part_1.zip/ISIC_0027419.jpg"}
    assert "cannot decode image" in errors["HAM10000_images_part_2.zip/ISIC_0025209.jpg"]
    assert "not found" in errors["HAM10000_images_part_1/ISIC_0031753.jpg"]
    assert "no entry in the mapping" in errors["HAM10000_images_part_1.zip/ISIC_0027419.jpg"]

    splits = stored_splits(tmp_path / "store", "ham10000")
    lesion_of = {row[1]: row[0] for row in fixture.ROWS}
    assert len(splits) == len(fixture.ROWS) - 3
    by_lesion: dict[str, set[str]] = {}
    for sid, (_, split) in splits.items():
        assert split == hashed_split(f"study:{lesion_of[sid]}")
        by_lesion.setdefault(lesion_of[sid], set()).add(split)
    assert all(len(s) == 1 for s in by_lesion.values())
    assert max(sum(1 for s in splits if lesion_of[s] == lesion) for lesion in by_lesion) == 3
