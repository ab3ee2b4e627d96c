"""LNDb adapter on the challenge-layout fixture (real CT_small pixels in MetaImage)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climb.adapt.base import get_adapter
from tests.adapt._prepare import prepare_cli
from tests.fixtures import lndb as fixture


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("lndb"))


def expected(raw: Path) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Texture vectors and splits per scan, from the CSVs read here."""
    base = raw / "LNDb"
    gt = pd.read_csv(base / "trainNodules_gt.csv")
    folds = pd.read_csv(base / "trainFolds.csv")
    split_of_fold = {"Fold0": "train", "Fold1": "train", "Fold2": "val", "Fold3": "test"}
    labels, splits = {}, {}
    for column in folds.columns:
        for lndb_id in folds[column].dropna().astype(int):
            name = f"LNDb-{lndb_id:04d}"
            splits[name] = split_of_fold[column]
            texts = gt[(gt.LNDbID == lndb_id) & (gt.Nodule == 1)].Text
            vector = [0.0, 0.0, 0.0]
            for t in texts:  # ground glass < 7/3 <= part solid < 11/3 <= solid
                vector[0 if t * 3 < 7 - 1e-9 else 1 if t * 3 < 11 - 1e-9 else 2] = 1.0
            labels[name] = vector
    return labels, splits


def test_texture_classes_and_official_folds(raw):
    adapter = get_adapter("lndb", fixture.CONFIG)
    labels, splits = expected(raw)
    items = adapter.items(raw)
    assert [i.key for i in items] == sorted(labels)  # LNDb-0007 (no fold) is not listed
    for item in items:
        if item.key == f"LNDb-{fixture.TRUNCATED:04d}":
            continue
        (rec,) = adapter.load(raw, item)
        assert rec.labels["nodule_texture"].tolist() == labels[item.key], item.key
        assert rec.split == splits[item.key] and rec.patient_id == item.key
        vol = rec.inputs["volume"]
        assert vol.shape == (4, 32, 32) and vol.dtype == "int16" and vol.units == "HU"
        assert np.asarray(vol.data).min() < -500 < np.asarray(vol.data).max()
    assert labels["LNDb-0004"] == [0.0, 1.0, 1.0]  # 7/3 and 11/3 on the bin edges
    assert labels["LNDb-0003"] == labels["LNDb-0005"] == [0.0, 0.0, 0.0]


def test_nodule_masks_are_the_union_of_the_radiologists(raw):
    items = {i.key: i for i in get_adapter("lndb").items(raw)}
    (rec,) = get_adapter("lndb", {"spacing": None, "shape": None}).load(raw, items["LNDb-0002"])
    masks = fixture.rad_masks(2)
    union = (masks[1] > 0) | (masks[2] > 0)
    # the files are LPS (x left, y back); the reader returns RAS+, so rows and columns flip
    assert np.array_equal(rec.labels["nodule_segmentation"], union[:, ::-1, ::-1])
    assert union[2:5].any() and not union[:2].any() and not union[5:].any()
    (rec,) = get_adapter("lndb", fixture.CONFIG).load(raw, items["LNDb-0002"])
    assert rec.labels["nodule_segmentation"].shape == (4, 32, 32)
    assert rec.labels["nodule_segmentation"].any()
    (rec,) = get_adapter("lndb", fixture.CONFIG).load(raw, items["LNDb-0003"])
    assert rec.labels["nodule_segmentation"] is None


def test_other_folds_can_be_held_out(raw):
    adapter = get_adapter("lndb", {**fixture.CONFIG, "test_fold": 0, "val_fold": 1})
    assert [adapter.split(f) for f in range(4)] == ["test", "val", "train", "train"]


def test_prepare_quarantines_the_truncated_raw(raw, tmp_path, caplog):
    manifest, _ = prepare_cli("lndb", raw, tmp_path / "store", fixture.CONFIG, caplog)
    (bad,) = manifest["quarantined"]
    assert bad["source"] == "LNDb/data1/LNDb-0006.mhd" and "truncated" in bad["error"]
    counts = manifest["counts"]
    assert {s: counts[s]["samples"] for s in ("train", "val", "test")} == {
        "train": 3,
        "val": 1,
        "test": 1,
    }
