"""NIH ChestX-ray14 adapter: every row of the real Data_Entry_2017_v2020.csv parsed and
counted against pandas, the fixture's rows harmonized by hand, official lists, both image
folder layouts, an image in neither list quarantined."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climb.adapt.base import get_adapter
from climb.store.prepare import prepare
from tests.adapt.cxr._labels import CXR14, known
from tests.conftest import real_data_dir
from tests.fixtures import nih_chestxray14 as fixture

REAL_TABLE = real_data_dir() / "nih-chestxray14" / "Data_Entry_2017_v2020.csv.gz"
# cxr14 class -> the NIH findings that are evidence of it (written here, not read from YAML)
EVIDENCE = {"No Finding": {"No Finding"}, "Cardiomegaly": {"Cardiomegaly"},
            "Lung Opacity": {"Infiltration"}, "Lung Lesion": {"Mass", "Nodule"},
            "Edema": {"Edema"}, "Consolidation": {"Consolidation"}, "Pneumonia": {"Pneumonia"},
            "Atelectasis": {"Atelectasis"}, "Pneumothorax": {"Pneumothorax"},
            "Pleural Effusion": {"Effusion"}, "Pleural Other": {"Pleural_Thickening"}}
# Per-finding image counts of the NIH README (README_CHESTXRAY.pdf, v2020 table)
PUBLISHED = {"No Finding": 60_361, "Infiltration": 19_894, "Effusion": 13_317,
             "Atelectasis": 11_559, "Nodule": 6_331, "Mass": 5_782, "Pneumothorax": 5_302,
             "Consolidation": 4_667, "Pleural_Thickening": 3_385, "Cardiomegaly": 2_776,
             "Emphysema": 2_516, "Edema": 2_303, "Fibrosis": 1_686, "Pneumonia": 1_431,
             "Hernia": 227}
UNLABELLED = {"Enlarged Cardiomediastinum", "Fracture", "Support Devices"}


def below(key: str, fraction: float = 0.1, seed: int = 0) -> bool:
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("nih"))


def test_every_row_of_the_real_table_parsed_and_counted(tmp_path):
    table = pd.read_csv(REAL_TABLE, dtype=str)
    assert len(table) == 112_120
    test_patients = {p for p in table["Patient ID"] if int(p) % 5 == 0}
    is_test = table["Patient ID"].isin(test_patients)
    shutil.copy(REAL_TABLE, tmp_path / REAL_TABLE.name)
    (tmp_path / "test_list.txt").write_text("\n".join(table["Image Index"][is_test]) + "\n")
    (tmp_path / "train_val_list.txt").write_text("\n".join(table["Image Index"][~is_test]))

    adapter = get_adapter("nih_chestxray14")
    items = adapter.items(tmp_path)
    assert len(items) == len(table) and len({i.key for i in items}) == len(table)

    native = Counter(f for item in items for f in item.info["findings"])
    expected = table["Finding Labels"].str.split("|").explode().value_counts()
    assert native == dict(expected.items()) == PUBLISHED

    vectors = np.stack([adapter.labels(item)["findings"] for item in items])
    sets = table["Finding Labels"].str.split("|").map(set)
    for cls in CXR14:
        column = vectors[:, CXR14.index(cls)]
        if cls in UNLABELLED:
            assert np.isnan(column).all(), cls
            continue
        assert not np.isnan(column).any(), cls
        assert int(column.sum()) == int(sets.map(lambda s, c=cls: bool(s & EVIDENCE[c])).sum())

    patients = table["Patient ID"].unique()
    assert len(patients) == 30_805 == len({i.info["patient_id"] for i in items})
    splits: dict[str, set[str]] = {}
    for item in items:
        splits.setdefault(item.info["patient_id"], set()).add(item.info["split"])
    assert all(len(s) == 1 for s in splits.values())
    expected_split = {p: "test" if p in test_patients else "val" if below(f"val:{p}") else
                      "train" for p in patients}
    assert {p: s.pop() for p, s in splits.items()} == expected_split


def test_fixture_rows_harmonized_by_hand(raw):
    records = {r.sample_id: r for r in get_adapter("nih_chestxray14").records(raw)}
    zeros = dict.fromkeys(EVIDENCE, 0.0)
    assert known(records["00000001_002"].labels["findings"]) == {  # Cardiomegaly|Effusion
        **zeros, "Cardiomegaly": 1.0, "Pleural Effusion": 1.0}
    assert known(records["00000001_001"].labels["findings"]) == {  # Cardiomegaly|Emphysema
        **zeros, "Cardiomegaly": 1.0}
    assert known(records["00000003_001"].labels["findings"]) == zeros  # Hernia: dropped
    assert known(records["00000004_000"].labels["findings"]) == {  # Mass|Nodule
        **zeros, "Lung Lesion": 1.0}
    assert known(records["00000002_000"].labels["findings"]) == {**zeros, "No Finding": 1.0}
    rec = records["00000004_000"]
    assert (rec.patient_id, rec.split) == ("4", "test")
    assert rec.meta == {"view": "AP", "sex": "male", "age_bucket": "80-89",
                        "source_file": "images_002/images/00000004_000.png"}
    assert {r.split for r in records.values() if r.patient_id == "3"} == {"val"}
    assert {r.split for r in records.values() if r.patient_id in ("1", "2", "12")} == {"train"}


def test_flat_images_folder_and_an_unlisted_image(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    (copy / "images").mkdir()
    for path in sorted(copy.glob("images_*/images/*.png")):
        path.rename(copy / "images" / path.name)
    listed = (copy / "train_val_list.txt").read_text().replace("00000012_000.png\n", "")
    (copy / "train_val_list.txt").write_text(listed)
    manifest = prepare("nih_chestxray14", copy, tmp_path / "store", workers=1, progress=False)
    assert [(q["source"], q["error"]) for q in manifest["quarantined"]] == [
        ("images/00000012_000.png", "images/00000012_000.png: image is in neither "
         "train_val_list.txt nor test_list.txt")]
    assert sum(c["samples"] for c in manifest["counts"].values()) == len(fixture.IMAGES) - 1
