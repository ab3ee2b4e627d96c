"""pbmc68k from AnnData ``.h5ad`` files (read with h5py, AnnData's on-disk format): scanpy's
real ``10x_pbmc68k_reduced.h5ad`` (pre-0.7 layout) and the same cells re-written by anndata
0.12 (current layout); values and labels checked against h5py reads made here, bad files."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.sparse as sp

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from climb.read.single_cell import read_h5ad
from climb.split import SplitConfig, hashed_split
from climb.store.prepare import prepare
from tests.conftest import real_data_dir

FOLDER = real_data_dir() / "pbmc68k-reduced"
LEGACY = "10x_pbmc68k_reduced.h5ad"
CURRENT = "pbmc68k_reduced_current.h5ad"
# bulk_labels of the 700 cells as anndata 0.12 counts them (obs.bulk_labels.value_counts())
BULK_LABEL_COUNTS = {"Dendritic": 240, "CD14+ Monocyte": 129, "CD19+ B": 95,
                     "CD4+/CD25 T Reg": 68, "CD8+ Cytotoxic T": 54,
                     "CD8+/CD45RA+ Naive Cytotoxic": 43, "CD56+ NK": 31,
                     "CD4+/CD45RO+ Memory": 19, "CD34+": 13, "CD4+/CD45RA+/CD25- Naive T": 8}


def _raw(tmp_path: Path, name: str) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    shutil.copy(FOLDER / name, raw / name)
    return raw


def _records(raw: Path, **config):
    adapter = get_adapter("pbmc68k", config={"layout": "h5ad", "genes": "all", **config})
    return adapter, list(adapter.records(raw))


def _h5py_csr(group: h5py.Group, shape: tuple[int, int]) -> np.ndarray:
    return sp.csr_matrix((group["data"][()], group["indices"][()], group["indptr"][()]),
                         shape=shape).toarray()


def _decode(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def test_real_reduced_file_raw_values_and_bulk_labels(tmp_path):
    raw = _raw(tmp_path, LEGACY)
    adapter, records = _records(raw, use_raw=True)
    with h5py.File(raw / LEGACY) as f:
        dense = _h5py_csr(f["raw.X"], tuple(f["raw.X"].attrs["h5sparse_shape"]))
        names = _decode(f["obs"]["index"])
        categories = _decode(f["uns/bulk_labels_categories"][()])
        labels = [categories[c] for c in f["obs"]["bulk_labels"]]
        genes = _decode(f["raw.var"]["index"])
    assert len(records) == 700 and dense.shape == (700, 765)
    assert adapter.selected_genes(raw) == genes
    classes = adapter.task_classes()["cell_type"]
    row = {n: i for i, n in enumerate(names)}
    for r in records:
        i = row[r.sample_id]
        np.testing.assert_array_equal(r.inputs["expression"].data, dense[i].astype(np.float32))
        assert classes[r.labels["cell_type"]] == labels[i]
        assert r.inputs["expression"].units == "as stored (raw/X)"  # log-normalised already
        assert r.patient_id == "donor_A" and r.meta == {"source_file": LEGACY}
    got = Counter(classes[r.labels["cell_type"]] for r in records)
    assert got == Counter(labels) == BULK_LABEL_COUNTS
    # no donor column: the seeded stratified cell split, every class in train
    per_class = Counter((r.labels["cell_type"], r.split) for r in records)
    dendritic = classes.index("Dendritic")
    assert [per_class[dendritic, s] for s in ("train", "val", "test")] == [192, 24, 24]


def test_scaled_x_is_stored_as_is_and_refused_as_counts(tmp_path):
    raw = _raw(tmp_path, LEGACY)
    _, records = _records(raw, cells_per_item=700)
    with h5py.File(raw / LEGACY) as f:
        x = f["X"][()]
        names = _decode(f["obs"]["index"])
    first = next(r for r in records if r.sample_id == names[0])
    np.testing.assert_array_equal(first.inputs["expression"].data, x[0])
    assert first.inputs["expression"].units == "as stored (X)" and x.min() < 0
    with pytest.raises(RecordError, match="negative values cannot be normalised"):
        _records(raw, normalize="log1p_cp10k")


def test_current_layout_layers_raw_and_donor_split(tmp_path):
    raw = _raw(tmp_path, CURRENT)
    with h5py.File(raw / CURRENT) as f:
        x = _h5py_csr(f["X"], tuple(f["X"].attrs["shape"]))
        scaled = f["layers/scaled"][()]
        names = _decode(f["obs/index"][()])
        labels = np.array(_decode(f["obs/bulk_labels/categories"][()]))[
            f["obs/bulk_labels/codes"][()]]
        donors = np.array(_decode(f["obs/donor/categories"][()]))[f["obs/donor/codes"][()]]
    row = {n: i for i, n in enumerate(names)}
    for config, want in (({}, x), ({"layer": "scaled"}, scaled), ({"use_raw": True}, x)):
        adapter, records = _records(raw, **config)
        classes = adapter.task_classes()["cell_type"]
        assert len(records) == 120
        for r in records:
            i = row[r.sample_id]
            np.testing.assert_array_equal(r.inputs["expression"].data, want[i])
            assert classes[r.labels["cell_type"]] == labels[i]
            assert r.patient_id == donors[i]
    # donor column present: donor-level split, no donor in two splits
    _, records = _records(raw, split_seed=3)
    by_donor = {}
    for r in records:
        by_donor.setdefault(r.patient_id, set()).add(r.split)
    assert sorted(by_donor) == ["d0", "d1", "d2", "d3"]
    assert all(len(s) == 1 for s in by_donor.values())
    assert {d: s.pop() for d, s in by_donor.items()} == {
        d: hashed_split(d, SplitConfig(seed=3)) for d in by_donor}
    # no such column: back to the single-donor stratified split
    _, records = _records(raw, donor_column="no_such_column")
    assert {r.patient_id for r in records} == {"donor_A"}
    assert {r.split for r in records} == {"train", "val", "test"}


def test_counts_are_normalised(tmp_path):
    """A counts matrix (integers) is log1p(CP10k)-normalised under normalize=auto."""
    raw = tmp_path / "raw"
    raw.mkdir()
    path = raw / "counts.h5ad"
    shutil.copy(FOLDER / CURRENT, path)
    rng = np.random.default_rng(0)
    counts = rng.poisson(1.0, size=(120, 765)).astype(np.float32)
    with h5py.File(path, "r+") as f:
        del f["layers/scaled"]
        f.create_dataset("layers/counts", data=counts)
    _, records = _records(raw, layer="counts")
    names = read_h5ad(path).obs.index.tolist()
    for r in records[:10]:
        c = counts[names.index(r.sample_id)]
        np.testing.assert_allclose(r.inputs["expression"].data,
                                   np.log1p(c / c.sum() * 1e4), rtol=1e-5)
        assert r.inputs["expression"].units == "log1p(CP10k)"


def test_anndata_07_categoricals(tmp_path):
    """anndata 0.7-0.8 wrote categoricals as a codes dataset referencing __categories/<col>."""
    path = tmp_path / "old.h5ad"
    shutil.copy(FOLDER / CURRENT, path)
    with h5py.File(path, "r+") as f:
        codes = f["obs/bulk_labels/codes"][()]
        categories = f["obs/bulk_labels/categories"][()]
        del f["obs/bulk_labels"]
        cats = f.create_dataset("obs/__categories/bulk_labels", data=categories,
                                dtype=h5py.string_dtype())
        f.create_dataset("obs/bulk_labels", data=codes)
        f["obs/bulk_labels"].attrs["categories"] = cats.ref
    obs = read_h5ad(path, obs_columns=["bulk_labels"]).obs
    assert list(obs["bulk_labels"]) == list(np.array(_decode(categories))[codes])


def test_bad_files(tmp_path):
    raw = _raw(tmp_path, CURRENT)
    truncated = raw / CURRENT
    whole = truncated.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(RecordError, match=r"unreadable \.h5ad") as err:
        get_adapter("pbmc68k", config={"layout": "h5ad"}).items(raw)
    assert CURRENT in str(err.value)
    truncated.write_bytes(whole)
    with pytest.raises(RecordError, match="no obs column 'cell_type'"):
        get_adapter("pbmc68k", config={"layout": "h5ad", "label_column": "cell_type"}).items(raw)
    with h5py.File(truncated, "r+") as f:  # an indptr that overruns the data
        indptr = f["X/indptr"][()]
        indptr[5] = indptr[-1] + 10
        f["X/indptr"][...] = indptr
    with pytest.raises(RecordError, match="X/indptr is not a non-decreasing"):
        read_h5ad(truncated)
    with h5py.File(truncated, "r+") as f:
        f["X/indptr"][...] = np.sort(indptr.clip(max=f["X/indptr"][-1]))
        f["X/indices"][0] = 10_000
    with pytest.raises(RecordError, match="X/indices out of range"):
        read_h5ad(truncated)
    manifest = prepare("pbmc68k", raw, tmp_path / "store", workers=1, progress=False,
                       config={"layout": "h5ad", "genes": "all"})
    assert [q["source"] for q in manifest["quarantined"]] == [CURRENT]
    assert "X/indices out of range" in manifest["quarantined"][0]["error"]


def test_climb_prepare_h5ad(tmp_path, cli):
    raw = _raw(tmp_path, LEGACY)
    store = tmp_path / "store"
    args = ["prepare", "pbmc68k", "--raw", str(raw), "--out", str(store), "--workers", "1"]
    for setting in ("layout=h5ad", "use_raw=true", "n_genes=100", "cells_per_item=256"):
        args += ["--config", setting]
    result = cli(args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((store / "pbmc68k" / "manifest.json").read_text())
    assert manifest["quarantined"] == []
    assert sum(c["samples"] for c in manifest["counts"].values()) == 700
    assert {k: c["samples"] for k, c in manifest["counts"].items()} == {
        "train": 558, "val": 70, "test": 72}
