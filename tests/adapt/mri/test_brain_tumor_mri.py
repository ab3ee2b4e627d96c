"""Brain Tumor Classification (MRI) adapter on the Kaggle-layout fixture (real pixels)."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from climb.adapt.base import get_adapter, has_adapter
from climb.catalog import load_catalog
from climb.store.prepare import prepare
from tests.fixtures import brain_tumor_mri as fixture

CLASSES = ["glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return fixture.build(tmp_path_factory.mktemp("btm"))


@pytest.fixture(scope="module")
def records(raw):
    return {r.sample_id: r for r in get_adapter("brain_tumor_mri").records(raw)}


def key(split: str, cls: str, name: str) -> str:
    stem = name.rsplit(".", 1)[0]
    return f"{split}-{cls}-{re.sub(r'[ ()]+', '-', stem).strip('-')}"


def in_val(sample: str) -> bool:
    digest = hashlib.sha256(f"0\x00val:{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < 0.1


def test_catalog_entry_has_adapter():
    assert has_adapter(load_catalog().get("brain_tumor_mri"))


def test_labels_and_splits(records):
    assert len(records) == len(fixture.FILES)
    for split, cls, name in fixture.FILES:
        rec = records[key(split, cls, name)]
        assert rec.labels["tumor"] == CLASSES.index(cls)
        expected = "test" if split == "Testing" else ("val" if in_val(rec.sample_id) else "train")
        assert rec.split == expected
        assert rec.meta["source_file"] == f"{split}/{cls}/{name}"
    assert records["Training-glioma_tumor-gg-12"].split == "val"
    assert {r.split for r in records.values()} == {"train", "val", "test"}


def test_pixels_are_the_gray_image_resized(raw, records):
    with Image.open(raw / "Testing" / "no_tumor" / "image(1).jpg") as img:
        reference = np.asarray(img.convert("L").resize((224, 224), Image.Resampling.BILINEAR))
    got = records["Testing-no_tumor-image-1"].inputs["image"].data
    assert got.shape == (224, 224) and np.abs(got.astype(int) - reference).mean() < 1.0


def test_bad_files_are_quarantined_and_the_rest_prepared(raw, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    truncated = copy / "Training" / "no_tumor" / "image(2).jpg"
    truncated.write_bytes(truncated.read_bytes()[:150])
    (copy / "Testing" / "astrocytoma").mkdir()
    shutil.copy(truncated.with_name("image(1).jpg"), copy / "Testing" / "astrocytoma" / "a.jpg")
    manifest = prepare("brain_tumor_mri", copy, tmp_path / "store", workers=1, progress=False)
    errors = {q["source"]: q["error"] for q in manifest["quarantined"]}
    assert set(errors) == {"Training/no_tumor/image(2).jpg", "Testing/astrocytoma/a.jpg"}
    assert "no entry in the mapping" in errors["Testing/astrocytoma/a.jpg"]
    assert sum(s["rows"] for s in manifest["shards"]) == len(fixture.FILES) - 1
