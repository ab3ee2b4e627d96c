"""PatchCamelyon adapter on the publisher-layout fixture (HDF5 x/y pairs + meta CSVs)."""

from __future__ import annotations

import gzip
import io
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.errors import RecordError
from climb.store.prepare import prepare
from tests.adapt._photo_checks import quarantined, standard_rgb, stored_splits
from tests.fixtures import pcam as fixture

STORE_SPLIT = {"train": "train", "valid": "val", "test": "test"}


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("pcam"))


def _y_file(raw: Path, split: str) -> np.ndarray:
    with h5py.File(raw / f"{fixture.PREFIX}{split}_y.h5", "r") as h5:
        return h5["y"][()].reshape(-1)


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("pcam"))


def test_labels_splits_slides_and_pixels_follow_the_files(raw):
    records = {r.sample_id: r for r in get_adapter("pcam").records(raw)}
    assert len(records) == sum(fixture.COUNTS.values())
    for split, n in fixture.COUNTS.items():
        y = _y_file(raw, split)
        patches = fixture.patches(split)
        for i in range(n):
            rec = records[f"{STORE_SPLIT[split]}-{i:06d}"]
            assert rec.labels == {"metastasis": int(y[i])}
            assert rec.split == STORE_SPLIT[split]
            slides = fixture.SLIDES[split]
            assert rec.patient_id == slides[i % len(slides)]
            got = rec.inputs["image"].data
            assert got.shape == (224, 224, 3) and got.dtype == np.uint8
            assert np.abs(got.astype(int) - standard_rgb(_png(patches[i]))).max() <= 1
    assert set(np.unique([r.labels["metastasis"] for r in records.values()])) == {0, 1}


def test_listing_reads_no_pixels(raw, monkeypatch):
    adapter = get_adapter("pcam")
    monkeypatch.setattr(
        "climb.adapt.pathology.pcam.standardize_image",
        lambda *a, **k: pytest.fail("items() decoded a patch"),
    )
    items = adapter.items(raw)
    assert [i.key for i in items[:2]] == ["train-000000", "train-000001"]
    assert len(items) == sum(fixture.COUNTS.values())


def test_gzipped_files_are_gunzipped_once_into_the_work_folder(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    for path in sorted(copy.glob("*.h5")):
        with open(path, "rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        path.unlink()
    cache = tmp_path / "cache"
    adapter = get_adapter("pcam", config={"work_dir": str(cache)})
    got = {r.sample_id: r for r in adapter.records(copy)}
    want = {r.sample_id: r for r in get_adapter("pcam").records(raw)}
    assert got.keys() == want.keys()
    for sid, rec in want.items():
        assert got[sid].labels == rec.labels and got[sid].patient_id == rec.patient_id
        assert np.array_equal(got[sid].inputs["image"].data, rec.inputs["image"].data)
    assert len(list(cache.glob("*.h5"))) == 6 and not list(cache.glob("*.part"))
    manifest = prepare("pcam", copy, tmp_path / "store", workers=1, progress=False)
    assert manifest["quarantined"] == [] and len(manifest["counts"]) == 3
    assert len(list((tmp_path / "store" / ".work" / "pcam").glob("*.h5"))) == 6

    bad = copy / f"{fixture.PREFIX}test_x.h5.gz"
    bad.write_bytes(bad.read_bytes()[:200])  # a cut gzip stream
    items = adapter.items(copy)
    broken = [i for i in items if i.key == "test-file"]
    assert len(broken) == 1 and len(items) == 1 + 6 + 3
    with pytest.raises(RecordError, match=r"test_x\.h5\.gz: cannot gunzip"):
        list(adapter.load(copy, broken[0]))


def test_truncated_h5_is_quarantined_and_the_rest_prepared(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    cut = copy / f"{fixture.PREFIX}train_x.h5"
    cut.write_bytes(cut.read_bytes()[:4000])
    mismatched = copy / f"{fixture.PREFIX}valid_y.h5"
    with h5py.File(mismatched, "w") as h5:
        h5.create_dataset("y", data=np.zeros((2, 1, 1, 1), dtype=np.uint8))

    manifest = prepare("pcam", copy, tmp_path / "store", workers=1, progress=False)
    errors = quarantined(manifest)
    assert set(errors) == {cut.name, f"{fixture.PREFIX}valid_x.h5"}
    assert errors[cut.name] == f"{cut.name}: cannot read the HDF5 file (OSError)"
    assert errors[f"{fixture.PREFIX}valid_x.h5"] == (
        f"{mismatched.name}: 2 labels for 3 patches in its x file"
    )
    splits = stored_splits(tmp_path / "store", "pcam")
    assert splits == {f"test-{i:06d}": ("camelyon16_test_003", "test") for i in range(3)}


def test_meta_that_does_not_match_its_x_file_stops_the_listing(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    meta = copy / f"{fixture.PREFIX}test_meta.csv"
    meta.write_text("\n".join(meta.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(RecordError, match=r"test_meta\.csv: 2 rows for 3 patches"):
        get_adapter("pcam").items(copy)


def test_climb_prepare_writes_the_official_split(raw, tmp_path, cli):
    store = tmp_path / "store"
    result = cli(["prepare", "pcam", "--raw", str(raw), "--out", str(store), "--workers", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((store / "pcam" / "manifest.json").read_text())
    assert manifest["quarantined"] == []
    assert {k: c["samples"] for k, c in manifest["counts"].items()} == {
        "train": 6,
        "val": 3,
        "test": 3,
    }
    splits = stored_splits(store, "pcam")
    assert {p for p, s in splits.values() if s == "train"} == set(fixture.SLIDES["train"])
