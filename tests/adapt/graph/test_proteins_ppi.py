"""PROTEINS (TU format) and PPI adapters on their fixtures; a store with graphs with and
without node features batched together."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch_geometric.io import read_tu_data

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from climb.load import Collator, StoreDataset
from climb.store.prepare import prepare
from tests.fixtures import abcd, ppi, proteins
from tests.fixtures._graphs import mouse_graphs


@pytest.fixture(scope="module")
def proteins_raw(tmp_path_factory):
    return proteins.build(tmp_path_factory.mktemp("proteins"))


def test_proteins_records_match_pyg_tudataset(proteins_raw):
    records = list(get_adapter("proteins").records(proteins_raw))
    pyg, slices, _ = read_tu_data(str(proteins_raw / "PROTEINS"), "PROTEINS")
    x_labels_only = pyg.x[:, 1:]  # TUDataset(use_node_attr=False) drops the attribute column
    mice = mouse_graphs(8, 40)
    assert [r.sample_id for r in records] == [f"PROTEINS_{g:04d}" for g in range(1, 9)]
    for g, (record, mouse) in enumerate(zip(records, mice, strict=True)):
        graph = record.inputs["graph"].data
        lo, hi = slices["x"][g : g + 2].tolist()
        np.testing.assert_array_equal(graph["x"], x_labels_only[lo:hi].numpy())
        assert graph["x"].dtype == np.float32 and graph["edge_index"].dtype == np.int64
        assert record.labels["enzyme"] == proteins.LABEL[mouse.genotype] - 1  # "1" -> 0
        assert record.patient_id is None and record.modality == "molecular_graph"


def test_proteins_split_is_seeded_stratified_folds(proteins_raw):
    def splits(seed):
        adapter = get_adapter("proteins", config={"split_seed": seed})
        return {r.sample_id: (r.split, r.labels["enzyme"]) for r in adapter.records(proteins_raw)}

    first = splits(0)
    assert first == splits(0)
    # 4 graphs per label dealt into 10 folds: folds 0 (test) and 1 (val) get one of each
    per_split = Counter(first.values())
    assert per_split[("test", 0)] == per_split[("test", 1)] == 1
    assert per_split[("val", 0)] == per_split[("val", 1)] == 1
    assert per_split[("train", 0)] == per_split[("train", 1)] == 2
    assert any(splits(seed) != first for seed in range(1, 6))


def test_proteins_node_attributes_and_no_node_labels(proteins_raw, tmp_path):
    with_attr = next(
        iter(get_adapter("proteins", config={"use_node_attr": True}).records(proteins_raw))
    )
    x = with_attr.inputs["graph"].data["x"]
    assert x.shape == (40, 4)
    np.testing.assert_allclose(x[:, 0], mouse_graphs(1, 40)[0].features[:, 0], rtol=1e-5)
    raw = proteins.build(tmp_path)
    (raw / "PROTEINS" / "PROTEINS_node_labels.txt").unlink()
    bare = next(iter(get_adapter("proteins").records(raw)))
    assert "x" not in bare.inputs["graph"].data


def test_ppi_records_keep_official_split_and_node_labels(tmp_path):
    raw = ppi.build(tmp_path)
    records = list(get_adapter("ppi").records(raw))
    assert [(r.sample_id, r.split) for r in records] == [
        ("ppi_train", "train"),
        ("ppi_val", "val"),
        ("ppi_test", "test"),
    ]
    mice = mouse_graphs(4, 30)
    test_graph = records[2].inputs["graph"].data
    np.testing.assert_array_equal(test_graph["y"], ppi.labels_of(mice[3].features))
    np.testing.assert_allclose(test_graph["x"], mice[3].features)
    assert records[0].inputs["graph"].data["y"].shape == (60, 121)
    assert all(r.labels == {} and r.patient_id is None for r in records)


def test_ppi_label_width_checked(tmp_path):
    import json

    raw = ppi.build(tmp_path)
    path = raw / "ppi" / "ppi-class_map.json"
    path.write_text(json.dumps({k: v[:100] for k, v in json.loads(path.read_text()).items()}))
    with pytest.raises(RecordError, match="100 labels per node, expected 121"):
        list(get_adapter("ppi").records(raw))


def test_store_batches_graphs_with_and_without_x(tmp_path):
    """PROTEINS without node labels (no x) and ABCD (x = 40-wide profiles) in one batch."""
    raw_p = proteins.build(tmp_path / "p")
    (raw_p / "PROTEINS" / "PROTEINS_node_labels.txt").unlink()
    store = tmp_path / "store"
    prepare("proteins", raw_p, store, workers=1, progress=False)
    prepare("abcd", abcd.build(tmp_path / "a"), store, workers=1, progress=False)
    ds = StoreDataset(store, ["proteins", "abcd"], split="train")
    by_dataset = {}
    for i in range(len(ds)):
        by_dataset.setdefault(ds[i]["dataset"], ds[i])
    samples = [by_dataset["proteins"], by_dataset["abcd"]]
    batch = Collator(ds.tasks)(samples)
    graphs = batch["inputs"]["graph"]
    assert graphs.num_graphs == 2 and graphs.x.shape == (80, 40)
    assert graphs.has_x.tolist() == [False] * 40 + [True] * 40
    assert (graphs.x[:40] == 0).all()
    np.testing.assert_allclose(graphs.x[40:].numpy(), samples[1]["inputs"]["graph"]["x"], rtol=0)
    assert batch["label_mask"]["proteins.enzyme"].tolist() == [True, False]
    assert batch["label_mask"]["abcd.sex"].tolist() == [False, True]
    assert graphs.edge_attr.shape == (graphs.edge_index.shape[1], 1)
    assert torch.isfinite(graphs.edge_attr).all()
