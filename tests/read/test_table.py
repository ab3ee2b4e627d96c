"""Signal tables, expression matrices and GEO series matrices."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from climb.errors import RecordError
from climb.read.table import read_expression_matrix, read_series_matrix, read_signal_table
from tests.fixtures import geo


@pytest.fixture()
def signal_csv(tmp_path):
    t = np.arange(250) / 125.0
    frame = pd.DataFrame(
        {"time": t, "ax": np.sin(t), "ay": np.cos(t), "ppg": np.linspace(0, 1, 250)}
    )
    path = tmp_path / "rec.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_signal_table_time_column(signal_csv):
    path, frame = signal_csv
    sig = read_signal_table(path, units="a.u.")
    assert sig.fs == pytest.approx(125.0)
    assert sig.channels == ["ax", "ay", "ppg"] and sig.units == ["a.u."] * 3
    assert sig.data.shape == (3, 250) and sig.data.dtype == np.float32
    np.testing.assert_allclose(sig.data[1], frame["ay"], rtol=1e-6)
    assert sig.meta["duration_s"] == pytest.approx(2.0)


def test_signal_table_tsv_with_fs(tmp_path):
    path = tmp_path / "rec.tsv"
    path.write_text("a\tb\n1\t2\n3\t4\n5\t6\n")
    sig = read_signal_table(path, fs=50.0, time_column=None)
    assert sig.data.tolist() == [[1, 3, 5], [2, 4, 6]] and sig.fs == 50.0


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda lines: lines.__setitem__(5, lines[5] + ",9,9"), "ragged or malformed"),
        (lambda lines: lines.__setitem__(5, lines[5].rsplit(",", 1)[0]), "line 6: missing"),
        (lambda lines: lines.__setitem__(7, "0.048,oops,0.9,0.1"), "column 1 is not numeric"),
        (lambda lines: lines.__setitem__(9, "0.01" + lines[9][lines[9].index(",") :]), "time"),
    ],
)
def test_signal_table_bad_input(signal_csv, edit, problem):
    path, _ = signal_csv
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=problem) as err:
        read_signal_table(path)
    assert err.value.path == str(path)


def test_signal_table_needs_fs(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(RecordError, match="no time column and no sampling rate"):
        read_signal_table(path)


def test_expression_matrix(tmp_path):
    path = tmp_path / "E-X-tpms.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("# comment line\nGene ID\tGene Name\tS1\tS2\n"
                     "ENSG01\tTP53\t1.5\t\nENSG02\tBRCA1\t0\t3\n")  # fmt: skip
    m = read_expression_matrix(path)
    assert m.genes == ["ENSG01", "ENSG02"] and m.gene_names == ["TP53", "BRCA1"]
    assert m.samples == ["S1", "S2"]
    assert np.isnan(m.values[0, 1]) and m.column("S2")[1] == 3


def test_expression_matrix_duplicate_genes(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("gene,a\nX,1\nX,2\n")
    with pytest.raises(RecordError, match="duplicate"):
        read_expression_matrix(path)


def test_series_matrix(tmp_path):
    raw = geo.build(tmp_path)
    sm = read_series_matrix(raw / f"{geo.SERIES}_series_matrix.txt.gz")
    assert sm.matrix.samples == geo.GSMS and sm.matrix.genes == geo.PROBES
    np.testing.assert_allclose(sm.matrix.values, geo.values())
    assert sm.series["geo_accession"] == [geo.SERIES]
    chars = sm.characteristics()
    assert [c["tissue"] for c in chars] == geo.TISSUE
    assert [c["patient id"] for c in chars] == geo.PATIENT
    assert sm.samples["source_name_ch1"][1] == "lung, tumor"
    assert len(sm.samples_multi["characteristics_ch1"]) == 4


def test_series_matrix_sample_line_mismatch(tmp_path):
    path = tmp_path / "GSE1_series_matrix.txt"
    text = geo.text().replace('"age: 55"', "")
    path.write_text(text.replace("\t\n!Sample_platform_id", "\n!Sample_platform_id"))
    with pytest.raises(RecordError, match="characteristics_ch1 has 5 values for 6"):
        read_series_matrix(path)
