"""ABIDE (PCP time series -> correlation), ABCD and PPMI (assumed matrix layouts) adapters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.io

from climb.adapt.base import get_adapter
from climb.errors import RecordError
from climb.read.graph import matrix_to_graph
from tests.fixtures import abcd, abide, ppmi
from tests.fixtures._graphs import mouse_graphs


@pytest.fixture(scope="module")
def abide_raw(tmp_path_factory):
    return abide.build(tmp_path_factory.mktemp("abide"))


@pytest.fixture(scope="module")
def abide_records(abide_raw):
    return {r.sample_id: r for r in get_adapter("abide").records(abide_raw)}


def test_abide_correlation_matches_pandas(abide_raw, abide_records):
    assert len(abide_records) == 12  # no_filename and the absent file are left out
    for sample_id, record in abide_records.items():
        series = pd.read_csv(abide_raw / abide.FOLDER / f"{sample_id}_rois_cc200.1D", sep="\t")
        assert list(series.columns)[:2] == ["#2001", "#2002"]
        expected = series.corr().fillna(0.0).to_numpy()  # pandas: NaN for the constant ROI
        graph = record.inputs["graph"].data
        np.testing.assert_allclose(graph["x"], expected, atol=1e-6)
        reference = matrix_to_graph(expected)
        np.testing.assert_array_equal(graph["edge_index"], reference["edge_index"])
        np.testing.assert_allclose(graph["edge_attr"], reference["edge_attr"], atol=1e-6)


def test_abide_constant_roi_labels_meta(abide_records):
    flat = abide_records["Pitt_0050004"]
    graph = flat.inputs["graph"].data
    assert (graph["x"][7] == 0).all() and (graph["x"][:, 7] == 0).all()
    assert graph["edge_index"].shape[1] == 19 * 18
    assert "1 constant ROI" in flat.meta["notes"]
    assert abide_records["Pitt_0050003"].inputs["graph"].data["edge_index"].shape[1] == 20 * 19
    classes = get_adapter("abide").task_classes()["asd"]
    table = abide.subjects().set_index("SUB_ID")
    for record in abide_records.values():
        row = table.loc[int(record.patient_id)]
        assert classes[record.labels["asd"]] == {1: "asd", 2: "control"}[row.DX_GROUP]
        assert record.meta["site"] == row.SITE_ID
        assert record.meta["sex"] == {1: "male", 2: "female"}[row.SEX]
        assert record.meta["age_bucket"] in {"10-19", "20-29"}
        assert str(row.AGE_AT_SCAN) not in str(record.meta)


def test_abide_split_stratified_by_site_and_diagnosis(abide_records):
    strata = {}
    for record in abide_records.values():
        key = (record.meta["site"], record.labels["asd"])
        strata.setdefault(key, []).append(record.split)
    assert len(strata) == 4
    for splits in strata.values():  # 3 subjects each: 70/10/20 -> 2 train, 0 val, 1 test
        assert sorted(splits) == ["test", "train", "train"]


def test_abide_config_and_bad_series(abide_raw, tmp_path):
    top = get_adapter("abide", config={"top_k": 4, "node_features": "none"})
    record = next(iter(top.records(abide_raw)))
    graph = record.inputs["graph"].data
    assert "x" not in graph and np.bincount(graph["edge_index"][0]).max() <= 4
    raw = abide.build(tmp_path)
    path = raw / abide.FOLDER / "NYU_0051036_rois_cc200.1D"
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join([lines[0], lines[1].replace(lines[1].split("\t")[3], "nan"), *lines[2:]])
    )
    adapter = get_adapter("abide")
    item = next(i for i in adapter.items(raw) if i.key == "NYU_0051036")
    with pytest.raises(RecordError, match=r"NYU_0051036_rois_cc200\.1D: non-finite"):
        list(adapter.load(raw, item))


def test_abcd_matrices_sessions_and_sex(tmp_path):
    raw = abcd.build(tmp_path)
    records = list(get_adapter("abcd").records(raw))
    mice = mouse_graphs(8, 40)
    assert len(records) == 9
    by_id = {r.sample_id: r for r in records}
    classes = get_adapter("abcd").task_classes()["sex"]
    for i, mouse in enumerate(mice):
        record = by_id[f"NDAR_INV{i:04d}TEST_ses-baselineYear1Arm1"]
        assert record.patient_id == f"NDAR_INV{i:04d}TEST"  # GUIDs with "_" are matched
        np.testing.assert_allclose(record.inputs["graph"].data["x"], mouse.matrix(), rtol=1e-6)
        assert classes[record.labels["sex"]] == mouse.sex == record.meta["sex"]
        assert record.meta["age_bucket"] == "0-9"  # 110-117 months
    follow_up = by_id["NDAR_INV0000TEST_ses-2YearFollowUpYArm1"]
    assert follow_up.split == by_id["NDAR_INV0000TEST_ses-baselineYear1Arm1"].split
    np.testing.assert_allclose(follow_up.inputs["graph"].data["x"], mice[0].matrix() * 0.5)
    table = pd.read_csv(raw / "participants.csv")
    table.loc[1, "sex"] = "U"
    table.to_csv(raw / "participants.csv", index=False)
    assert len(get_adapter("abcd").items(raw)) == 8  # sex unknown: not in the task


def test_ppmi_cohorts_visits_and_mat(tmp_path):
    raw = ppmi.build(tmp_path)
    records = list(get_adapter("ppmi").records(raw))
    assert sorted({r.patient_id for r in records}) == [str(3000 + i) for i in range(7)]
    assert len(records) == 8  # SWEDD left out; 3000 has two visits
    classes = get_adapter("ppmi").task_classes()["parkinsons"]
    mice = mouse_graphs(8, 40)
    for record in records:
        i = int(record.patient_id) - 3000
        assert classes[record.labels["parkinsons"]] == ("pd" if i % 2 == 0 else "control")
        assert record.meta["sex"] == mice[i].sex
        shift = 1.0 if record.sample_id.endswith("V04") else 0.0
        np.testing.assert_allclose(record.inputs["graph"].data["x"], mice[i].matrix() + shift)
    visits = {r.split for r in records if r.patient_id == "3000"}
    assert len(visits) == 1
    scipy.io.savemat(raw / "connectomes" / "3001_BL.mat", {"fa": np.eye(3), "count": np.eye(3)})
    adapter = get_adapter("ppmi")
    item = next(i for i in adapter.items(raw) if i.key == "3001_BL")
    with pytest.raises(RecordError, match="2 square variables"):
        list(adapter.load(raw, item))
    keyed = get_adapter("ppmi", config={"matrix_key": "count"})
    assert next(iter(keyed.load(raw, item))).meta["n_nodes"] == 3


def test_abide_precomputed_matrix_where_no_series(tmp_path):
    raw = abide.build(tmp_path)
    matrix = mouse_graphs(1, 20)[0].matrix()
    (raw / "connectomes").mkdir()
    np.save(raw / "connectomes" / "NYU_0051100_cc200.npy", matrix)  # the subject without .1D
    records = {r.sample_id: r for r in get_adapter("abide").records(raw)}
    assert len(records) == 13
    precomputed = records["NYU_0051100"]
    assert precomputed.meta["source_file"] == "connectomes/NYU_0051100_cc200.npy"
    np.testing.assert_allclose(precomputed.inputs["graph"].data["x"], matrix)
    classes = get_adapter("abide").task_classes()["asd"]
    assert classes[precomputed.labels["asd"]] == "control"
