"""demo_mouse_connectomes (graphs) and demo_breast_cancer (tabular)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

from climb.adapt.base import get_adapter
from climb.demo_data import path


def test_mouse_graphs():
    raw = path("demo_mouse_connectomes")
    adapter = get_adapter("demo_mouse_connectomes")
    items = adapter.items(raw)
    participants = pd.read_csv(raw / "participants.csv")
    assert len(items) == len(participants) == 32
    (rec,) = adapter.load(raw, items[0])
    row = participants.iloc[0]
    assert rec.patient_id == row.participant_id == rec.sample_id
    classes = adapter.task_classes()["genotype"]
    assert classes[rec.labels["genotype"]] == row.genotype
    assert rec.meta["sex"] == row.sex
    graph = rec.inputs["graph"].data
    assert graph["x"].shape == (332, 8) and graph["x"].dtype == np.float32
    lines = pd.read_csv(
        raw / "edgelists" / f"{row.participant_id}_ses-1_dti.edgelist.gz", sep=" ", header=None
    )
    loops = int((lines[0] == lines[1]).sum())
    assert graph["edge_index"].shape == (2, 2 * len(lines) - loops)
    assert graph["edge_index"].dtype == np.int64 and graph["edge_weight"].dtype == np.float32
    assert graph["edge_weight"].sum() == np.float32(
        2 * lines[2].sum() - lines[2][lines[0] == lines[1]].sum()
    )
    # node 0 is atlas ROI 1, node 166 is ROI 1001 (diffusivities in um^2/ms)
    feats = pd.read_csv(raw / "features" / f"{row.participant_id[4:]}.csv", skiprows=2)
    feats = feats.set_index("ROI")
    assert graph["x"][0, 0] == np.float32(feats.loc[1, "volume_mm3"])
    assert graph["x"][166, 1] == np.float32(feats.loc[1001, "adc"] * 1000)
    genotypes = Counter(i.info["genotype"] for i in items)
    assert genotypes == Counter(participants.genotype) and set(genotypes.values()) == {8}


def test_breast_cancer():
    records = list(get_adapter("demo_breast_cancer").records(path("demo_breast_cancer")))
    bunch = load_breast_cancer()
    assert len(records) == 569 == len({r.patient_id for r in records})
    assert records[0].inputs["tabular"].shape == (30,)
    np.testing.assert_array_equal(
        records[5].inputs["tabular"].data, bunch.data[5].astype(np.float32)
    )
    malignant = sum(r.labels["diagnosis"] == 1 for r in records)
    assert malignant == int((bunch.target == 0).sum()) == 212
