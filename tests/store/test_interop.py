"""The store is readable without climb: pyarrow.dataset, DuckDB, Hugging Face datasets."""

from __future__ import annotations

import json

import numpy as np

from tests.store import synthetic

NAME = synthetic.NAME


def _array(row: dict, name: str = "ecg") -> np.ndarray:
    """An array input read with pyarrow + numpy only: raw bytes, or the ``zstd_shuffle``
    layout float signals are stored in (zstd of the byte planes; docs/architecture.md)."""
    import pyarrow as pa

    dtype, shape = np.dtype(row[f"input.{name}.dtype"]), tuple(row[f"input.{name}.shape"])
    encoding = json.loads(row[f"input.{name}.attrs"] or "{}").get("encoding")
    data = row[f"input.{name}"]
    if encoding is None:
        return np.frombuffer(data, dtype=dtype).reshape(shape)
    assert encoding == "zstd_shuffle"
    size = int(np.prod(shape)) * dtype.itemsize
    planes = np.frombuffer(pa.Codec("zstd").decompress(data, size, asbytes=True), np.uint8)
    return planes.reshape(dtype.itemsize, -1).T.copy().view(dtype).reshape(shape)


def _expected(store):
    m = json.loads((store / NAME / "manifest.json").read_text())
    return m, {s: c["samples"] for s, c in m["counts"].items()}


def test_pyarrow_dataset(store):
    import pyarrow.dataset as pads

    _, counts = _expected(store)
    ds = pads.dataset(str(store / NAME), format="parquet", exclude_invalid_files=True)
    table = ds.to_table(filter=pads.field("split") == "train")
    assert table.num_rows == counts["train"]
    row = table.slice(0, 1).to_pylist()[0]
    arr = _array(row)
    assert arr.shape == (2, 720) and arr.dtype == np.float32 and np.isfinite(arr).all()


def test_duckdb(store):
    import duckdb

    _, counts = _expected(store)
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT split, count(*), count(DISTINCT patient_id) FROM "
        f"read_parquet('{store / NAME}/*.parquet') GROUP BY split ORDER BY split"
    ).fetchall()
    assert {s: n for s, n, _ in rows} == {s: n for s, n in counts.items() if n}
    leaks = con.execute(
        f"SELECT patient_id FROM read_parquet('{store / NAME}/*.parquet') "
        "GROUP BY patient_id HAVING count(DISTINCT split) > 1"
    ).fetchall()
    assert leaks == []


def test_huggingface_datasets(store, tmp_path):
    import datasets

    _, counts = _expected(store)
    files = {s: str(store / NAME / f"{s}-*.parquet") for s, n in counts.items() if n}
    dd = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))
    assert {s: len(dd[s]) for s in dd} == {s: n for s, n in counts.items() if n}
    row = dd["train"][0]
    arr = _array(row)
    assert arr.size == 2 * 720
    assert row["label.beats"] is not None and len(row["label.beats"]) == 3
