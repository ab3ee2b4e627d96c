"""`climb export table`: plain label tables from a prepared store."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from climb.errors import ClimbError
from climb.export.table import export_table
from climb.store.reader import iter_rows, open_store
from tests.export.conftest import STORE_DATASETS


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_tables_hold_the_stored_labels_and_splits(export_store, tmp_path, fmt):
    paths = export_table([export_store], tmp_path, fmt)
    assert [p.name for p in paths] == [f"{n}.{fmt}" for n in STORE_DATASETS]
    for ds in open_store(export_store):
        path = tmp_path / f"{ds.name}.{fmt}"
        table = (
            pd.read_parquet(path)
            if fmt == "parquet"
            else pd.read_csv(path, dtype={"sample_id": str, "patient_id": str})
        )
        splits = pd.read_csv(ds.path / "splits.csv", dtype=str, keep_default_na=False)
        assert list(table["sample_id"]) == sorted(splits["sample_id"])
        merged = table.merge(splits, on="sample_id", suffixes=("", "_csv"))
        assert (merged["split"] == merged["split_csv"]).all()
        assert (merged["patient_id"].fillna("") == merged["patient_id_csv"]).all()
        by_id = table.set_index("sample_id")
        for row in iter_rows(ds):
            for task in ds.manifest["tasks"]:
                value = row["labels"][task["name"]]
                if task["type"] == "multilabel":
                    for cls, v in zip(task["classes"], value, strict=True):
                        got = by_id.at[row["sample_id"], f"{task['name']}.{cls}"]
                        assert (math.isnan(v) and math.isnan(got)) or got == v
                elif task["type"] in ("binary", "multiclass"):
                    assert by_id.at[row["sample_id"], task["name"]] == task["classes"][value]
                else:  # segmentation masks stay in the store
                    assert task["name"] not in table.columns
    iu = (
        pd.read_csv(tmp_path / "demo_iu_xray_reports.csv")
        if fmt == "csv"
        else pd.read_parquet(tmp_path / "demo_iu_xray_reports.parquet")
    )
    assert iu["findings.normal"].isna().any()  # unknown stays NaN, not 0


def test_cli_export_table(cli, export_store, tmp_path):
    result = cli(
        ["export", "table", str(export_store / "busi"), "--out", str(tmp_path), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "busi.csv")
    assert list(table.columns) == ["sample_id", "patient_id", "split", "diagnosis"]
    assert set(table["diagnosis"]) == {"normal", "benign", "malignant"}


def test_bad_table_format_is_a_clear_error(export_store, tmp_path):
    with pytest.raises(ClimbError, match="--format"):
        export_table([export_store], tmp_path, "xlsx")
