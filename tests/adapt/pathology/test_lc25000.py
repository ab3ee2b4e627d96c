"""LC25000 adapter on the publisher-layout fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.adapt._photo_checks import hashed_split, quarantined, standard_rgb, stored_splits
from tests.fixtures import lc25000 as fixture

CATALOG_ORDER = ["lung_aca", "lung_n", "lung_scc", "colon_aca", "colon_n"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("lc"))


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("lc25000"))


def test_tissue_follows_the_class_folder(raw):
    records = {r.sample_id: r for r in get_adapter("lc25000").records(raw)}
    tiles = sorted((raw / "lung_colon_image_set").glob("*/*/*.jpeg"))
    assert len(records) == len(tiles) == len(fixture.CLASSES) * fixture.PER_CLASS
    for path in tiles:
        rec = records[f"{path.parent.name}-{path.stem}"]
        assert rec.labels == {"tissue": CATALOG_ORDER.index(path.parent.name)}
        assert rec.meta == {"source_file": path.relative_to(raw).as_posix()}
    path = raw / "lung_colon_image_set/colon_image_sets/colon_n/colonn2.jpeg"
    got = records["colon_n-colonn2"].inputs["image"].data
    assert got.shape == (224, 224, 3) and np.abs(got.astype(int) - standard_rgb(path)).max() <= 1


def test_tile_split_and_bad_tiles_quarantined(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    base = copy / "lung_colon_image_set" / "lung_image_sets"
    truncated = base / "lung_scc" / "lungscc1.jpeg"
    truncated.write_bytes(truncated.read_bytes()[:250])
    (base / "lung_other").mkdir()
    shutil.copy(base / "lung_n" / "lungn1.jpeg", base / "lung_other" / "lungo1.jpeg")

    manifest = prepare("lc25000", copy, tmp_path / "store", workers=1, progress=False,
                       config={"split_ratios": "0.75,0.1,0.15"})
    errors = quarantined(manifest)
    prefix = "lung_colon_image_set/lung_image_sets/"
    assert set(errors) == {prefix + "lung_scc/lungscc1.jpeg", prefix + "lung_other/lungo1.jpeg"}
    assert "cannot decode image" in errors[prefix + "lung_scc/lungscc1.jpeg"]
    assert "no entry in the mapping" in errors[prefix + "lung_other/lungo1.jpeg"]
    splits = stored_splits(tmp_path / "store", "lc25000")
    assert len(splits) == len(fixture.CLASSES) * fixture.PER_CLASS - 1
    for sid, (_, split) in splits.items():
        assert split == hashed_split(f"sample:{sid}", ratios=(0.75, 0.1, 0.15))
