"""Connectivity-matrix reader (CSV/TSV/text/.mat/.npy/.npz) and matrix -> graph, on real mouse
connectome matrices written with pandas, NumPy and scipy.io."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.io
import torch
from torch_geometric.utils import dense_to_sparse

from climb.errors import RecordError
from climb.read.graph import matrix_to_graph, read_matrix
from tests.fixtures._graphs import mouse_graphs


@pytest.fixture(scope="module")
def matrix() -> np.ndarray:
    """A real 30 x 30 streamline-count matrix, a few entries negated (signed weights)."""
    m = mouse_graphs(1, 30)[0].matrix()
    m[0, 1] = m[1, 0] = -m[0, 1] - 0.25
    return m


def _writers(m: np.ndarray):
    names = [f"ROI_{i}" for i in range(m.shape[0])]
    return {
        "header_index.csv": lambda p: pd.DataFrame(m, index=names, columns=names).to_csv(p),
        "header.csv": lambda p: pd.DataFrame(m, columns=names).to_csv(p, index=False),
        "int_labels.csv": lambda p: pd.DataFrame(m).to_csv(p),  # header ",0,1,...", index 0..
        "int_header.csv": lambda p: pd.DataFrame(m, columns=range(2001, 2001 + len(m))).to_csv(
            p, index=False
        ),
        "plain.csv": lambda p: np.savetxt(p, m, delimiter=","),
        "plain.tsv": lambda p: np.savetxt(p, m, delimiter="\t"),
        "header.tsv": lambda p: pd.DataFrame(m, columns=names).to_csv(p, sep="\t", index=False),
        "spaces.txt": lambda p: np.savetxt(p, m, header="connectivity", comments="# "),
        "m.npy": lambda p: np.save(p, m),
        "m.npz": lambda p: np.savez(p, connectivity=m),
        "m.mat": lambda p: scipy.io.savemat(p, {"connectivity": m, "labels": np.arange(3.0)}),
    }


@pytest.mark.parametrize("name", list(_writers(np.eye(2))))
def test_every_format_reads_the_same_matrix(tmp_path, matrix, name):
    path = tmp_path / name
    _writers(matrix)[name](path)
    out = read_matrix(path)
    assert out.shape == matrix.shape and out.dtype == np.float64
    np.testing.assert_allclose(
        out, matrix, rtol=1e-12 if name.endswith(("npy", "npz", "mat")) else 1e-7
    )


def test_npz_and_mat_keys(tmp_path, matrix):
    np.savez(tmp_path / "two.npz", a=matrix, b=matrix * 2)
    with pytest.raises(RecordError, match=r"2 square arrays"):
        read_matrix(tmp_path / "two.npz")
    np.testing.assert_array_equal(read_matrix(tmp_path / "two.npz", key="b"), matrix * 2)
    scipy.io.savemat(tmp_path / "two.mat", {"fc": matrix, "sc": matrix + 1})
    np.testing.assert_array_equal(read_matrix(tmp_path / "two.mat", key="sc"), matrix + 1)
    with pytest.raises(RecordError, match=r"no variable named 'dti'"):
        read_matrix(tmp_path / "two.mat", key="dti")


def test_mat_v73_without_h5py_names_the_fix(tmp_path, matrix):
    pytest.importorskip("scipy.io")
    path = tmp_path / "v73.mat"
    scipy.io.savemat(path, {"fc": matrix})
    data = bytearray(path.read_bytes())
    data[124:126] = (0x0200).to_bytes(2, "little")  # the header's version field: 7.3 (HDF5)
    path.write_bytes(bytes(data))
    try:
        import h5py  # noqa: F401
    except ImportError:
        with pytest.raises(RecordError, match=r"v7.3.*h5py"):
            read_matrix(path)
    else:
        with pytest.raises(RecordError, match=r"v7.3"):
            read_matrix(path)


@pytest.mark.parametrize(
    "corruption, problem",
    [
        (lambda m: m[:, :-1], "not square"),
        (lambda m: np.where(np.eye(len(m), dtype=bool), np.nan, m), "non-finite"),
        (lambda m: np.where(np.eye(len(m), dtype=bool), np.inf, m), "non-finite"),
        (lambda m: m * 1e300, r"non-finite entries \(as float32"),
        (lambda m: m[0], "not square"),
    ],
)
def test_bad_matrices_raise(tmp_path, matrix, corruption, problem):
    path = tmp_path / "bad.npy"
    np.save(path, corruption(matrix.copy()))
    with pytest.raises(RecordError, match=problem) as info:
        read_matrix(path)
    assert "bad.npy" in str(info.value)


def test_bad_text_names_the_cell_not_the_text(tmp_path, matrix):
    names = [f"SECRET_{i}" for i in range(matrix.shape[0])]
    frame = pd.DataFrame(matrix, columns=names).astype(object)
    frame.iloc[3, 4] = "SECRETVALUE"
    frame.to_csv(tmp_path / "cell.csv", index=False)
    with pytest.raises(RecordError, match=r"row 4, column 5: not a number") as info:
        read_matrix(tmp_path / "cell.csv")
    assert "SECRET" not in str(info.value)
    np.savetxt(tmp_path / "clean.csv", matrix, delimiter=",")
    lines = (tmp_path / "clean.csv").read_text().splitlines()
    (tmp_path / "ragged.csv").write_text("\n".join([*lines[:5], lines[5].rsplit(",", 1)[0]]))
    with pytest.raises(RecordError, match=r"row 6 has 29 cells, expected 30"):
        read_matrix(tmp_path / "ragged.csv")
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(RecordError, match=r"empty"):
        read_matrix(tmp_path / "empty.csv")
    (tmp_path / "nan.csv").write_text("1,nan\n0,1\n")
    with pytest.raises(RecordError, match=r"non-finite"):
        read_matrix(tmp_path / "nan.csv")
    with pytest.raises(RecordError, match=r"not found"):
        read_matrix(tmp_path / "absent.npy")
    (tmp_path / "m.xlsx").write_bytes(b"")
    with pytest.raises(RecordError, match=r"unknown matrix format"):
        read_matrix(tmp_path / "m.xlsx")
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    with pytest.raises(RecordError, match=r"cannot read NumPy"):
        read_matrix(tmp_path / "broken.npy")


def test_dense_default_matches_pyg_dense_to_sparse(matrix):
    graph = matrix_to_graph(matrix)
    no_diag = matrix.copy()
    np.fill_diagonal(no_diag, 0)
    index, weight = dense_to_sparse(torch.from_numpy(no_diag))
    assert graph["edge_index"].dtype == np.int64 and graph["edge_attr"].dtype == np.float32
    np.testing.assert_array_equal(graph["edge_index"], index.numpy())
    np.testing.assert_allclose(graph["edge_attr"][:, 0], weight.numpy(), rtol=1e-6)
    assert graph["edge_attr"].shape == (index.shape[1], 1)
    assert (graph["edge_attr"] < 0).sum() == 2  # the sign is kept
    loops = matrix_to_graph(matrix, self_loops=True)
    assert loops["edge_index"].shape[1] == np.count_nonzero(matrix)


def test_threshold_and_top_k(matrix):
    cut = float(np.median(np.abs(matrix[matrix != 0])))
    thresholded = matrix_to_graph(matrix, threshold=cut)
    src = thresholded["edge_index"][0]
    assert (np.abs(thresholded["edge_attr"][:, 0]) > cut).all()
    off_diag = ~np.eye(len(matrix), dtype=bool)
    assert src.size == int(((np.abs(matrix) > cut) & off_diag).sum())
    k = 3
    top = matrix_to_graph(matrix, top_k=k)
    src, _dst = top["edge_index"]
    assert np.bincount(src, minlength=len(matrix)).max() <= k
    for row in range(len(matrix)):
        strengths = np.abs(np.where(off_diag[row], matrix[row], 0))
        expected = np.sort(strengths)[::-1][:k]
        expected = expected[expected > 0]
        got = np.sort(np.abs(top["edge_attr"][src == row, 0]))[::-1]
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    both = matrix_to_graph(matrix, threshold=cut, top_k=k)
    assert both["edge_index"].shape[1] <= min(
        top["edge_index"].shape[1], thresholded["edge_index"].shape[1]
    )
