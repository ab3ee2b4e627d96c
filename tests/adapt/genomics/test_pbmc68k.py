"""Zheng68K on its fixture: log1p(CP10k) of genes chosen on training cells only, stratified
cell-level split, labels, bad input."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import scipy.io

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from tests.fixtures import pbmc68k as fixture


@pytest.fixture()
def raw(tmp_path):
    return fixture.build(tmp_path)


def _records(raw, **config):
    adapter = get_adapter("pbmc68k", config={**fixture.CONFIG, **config})
    return adapter, list(adapter.records(raw))


def test_records_normalisation_labels_split(raw):
    adapter, records = _records(raw)
    counts, barcodes, labels = fixture.counts_and_labels()
    annotated = {b: (i, t) for i, (b, t) in enumerate(zip(barcodes, labels, strict=True)) if t}
    assert sorted(r.sample_id for r in records) == sorted(annotated)
    genes = adapter.selected_genes(raw)
    assert len(genes) == fixture.CONFIG["n_genes"]
    columns = [int(g[4:]) - 900000 for g in genes]
    classes = adapter.task_classes()["cell_type"]
    for r in records:
        i, cell_type = annotated[r.sample_id]
        want = np.log1p(counts[i, columns] / counts[i].sum() * 1e4).astype(np.float32)
        np.testing.assert_allclose(r.inputs["expression"].data, want, rtol=1e-5)
        assert r.inputs["expression"].data.dtype == np.float32
        assert r.labels["cell_type"] == classes.index(cell_type)
        assert r.patient_id == "donor_A" and r.meta == {"source_file": f"{fixture.MEX}/matrix.mtx"}
    # stratified: every cell type has 80/10/10 of its 24 cells (19/2/3 after rounding)
    per_type = Counter((r.labels["cell_type"], r.split) for r in records)
    for k in range(len(classes)):
        assert (per_type[k, "train"], per_type[k, "val"], per_type[k, "test"]) == (19, 2, 3)
    # most of the genes chosen are markers (the only variable genes of the fixture)
    assert sum(c < 10 * len(classes) for c in columns) == len(columns)


def test_genes_are_chosen_on_training_cells_only(raw):
    _, records = _records(raw)
    genes_before = get_adapter("pbmc68k", config=fixture.CONFIG).selected_genes(raw)
    held_out = {r.sample_id for r in records if r.split != "train"}
    # make gene 199 (a non-marker) wildly variable in val/test cells only
    mtx = raw / fixture.MEX / "matrix.mtx"
    matrix = scipy.io.mmread(mtx).tolil()
    barcodes = (raw / fixture.MEX / "barcodes.tsv").read_text().split()
    for j, b in enumerate(barcodes):
        if b in held_out:
            matrix[199, j] = 500 * (j % 2)
    scipy.io.mmwrite(mtx, matrix.tocoo(), field="integer")
    after = get_adapter("pbmc68k", config=fixture.CONFIG).selected_genes(raw)
    assert after == genes_before and "ENSG00000900199" not in after


def test_all_genes_with_cap(raw):
    _, records = _records(raw, genes="all")
    assert records[0].inputs["expression"].data.shape == (fixture.GENES,)
    with pytest.raises(RecordError, match="more than max_genes"):
        list(get_adapter("pbmc68k", config={**fixture.CONFIG, "genes": "all",
                                             "max_genes": 100}).records(raw))


def test_split_is_seeded(raw):
    _, a = _records(raw)
    _, b = _records(raw, split_seed=1)
    assert [r.split for r in a] == [r.split for r in _records(raw)[1]]
    assert [r.split for r in a] != [r.split for r in b]


def test_bad_inputs(raw):
    (raw / fixture.MEX / "barcodes.tsv").write_text("AAAC-1\n")
    with pytest.raises(RecordError, match="does not match") as err:
        list(get_adapter("pbmc68k", config=fixture.CONFIG).records(raw))
    assert "matrix.mtx" in str(err.value)
    (raw / "68k_pbmc_barcodes_annotation.tsv").write_text("TSNE.1\tbarcodes\n0.1\tA-1\n")
    with pytest.raises(RecordError, match="celltype"):
        get_adapter("pbmc68k", config=fixture.CONFIG).items(raw)
