"""climb.read.wfdb against the real sample records and deliberately broken copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from climb.errors import RecordError
from climb.read.edf import read_edf
from climb.read.wfdb import read_wfdb


def _copy(real: Path, tmp: Path, name: str) -> Path:
    for f in (real / "wfdb").glob(f"{name}.*"):
        shutil.copy(f, tmp / f.name)
        (tmp / f.name).chmod(0o644)
    return tmp / name


def test_mitbih_100_shape_and_values(real_data, tmp_path):
    sig = read_wfdb(real_data / "wfdb" / "100")
    assert sig.data.shape == (2, 650000) and sig.data.dtype == np.float32
    assert sig.fs == 360.0 and sig.channels == ["MLII", "V5"] and sig.units == ["mV", "mV"]
    assert sig.meta["duration_s"] == pytest.approx(650000 / 360)
    # format 212 decoded independently: 3 bytes hold two 12-bit samples
    raw = np.fromfile(real_data / "wfdb" / "100.dat", dtype=np.uint8)[:30].astype(np.int32)
    b0, b1, b2 = raw[0::3], raw[1::3], raw[2::3]
    s0 = b0 | ((b1 & 0x0F) << 8)
    s1 = b2 | ((b1 & 0xF0) << 4)
    s0 = np.where(s0 > 2047, s0 - 4096, s0)
    s1 = np.where(s1 > 2047, s1 - 4096, s1)
    np.testing.assert_allclose(sig.data[0, :10], (s0 - 1024) / 200, atol=1e-6)
    np.testing.assert_allclose(sig.data[1, :10], (s1 - 1024) / 200, atol=1e-6)


def test_ptb_s0010_two_signal_files(real_data):
    sig = read_wfdb(real_data / "wfdb" / "s0010_re.hea")
    assert sig.data.shape == (15, 38400) and sig.fs == 1000.0
    assert sig.channels[:3] == ["i", "ii", "iii"] and sig.channels[-1] == "vz"
    raw = np.fromfile(real_data / "wfdb" / "s0010_re.dat", dtype="<i2").reshape(-1, 12)
    np.testing.assert_allclose(sig.data[:12], raw.T / 2000.0, atol=1e-6)
    assert any("Reason for admission" in c for c in sig.comments)
    assert "comments" not in sig.meta


def test_challenge_style_mat_record(real_data):
    sig = read_wfdb(real_data / "wfdb" / "a103l")
    assert sig.data.shape == (3, 82500) and sig.fs == 250.0
    assert sig.channels == ["II", "V", "PLETH"]
    val = scipy.io.loadmat(real_data / "wfdb" / "a103l.mat")["val"].astype(np.float64)
    np.testing.assert_allclose(sig.data[0], val[0] / 7247.0, rtol=1e-5, atol=1e-6)
    assert sig.comments == ["Asystole", "False alarm"]


def test_multifrequency_record_matches_the_edf_copy(real_data):
    w = read_wfdb(real_data / "wfdb" / "test_generator_2")
    e = read_edf(real_data / "wfdb" / "test_generator_2.edf")
    assert "EDF Annotations" not in w.channels
    assert w.channels == e.channels and w.fs == e.fs == 200.0
    assert w.data.shape == e.data.shape == (11, 120000)
    for k, unit in enumerate(e.units):
        scale = 1e-6 if unit == "V" else 1.0  # MNE scales uV channels to volts
        lsb = 1 / 32.7675  # uV per digital step in both headers
        np.testing.assert_allclose(w.data[k] * scale, e.data[k], atol=lsb * scale)


def test_truncated_dat(real_data, tmp_path):
    base = _copy(real_data, tmp_path, "100")
    dat = base.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:3000])
    with pytest.raises(RecordError) as err:
        read_wfdb(base)
    assert err.value.path.endswith("100.dat") and "truncated" in err.value.problem
    # 3 bytes per 2-signal frame in format 212
    assert "1000 of the 650000" in err.value.problem


def test_header_signal_length_mismatch(real_data, tmp_path):
    base = _copy(real_data, tmp_path, "100")
    hea = base.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("100 2 360 650000", "100 2 360 600000"))
    with pytest.raises(RecordError) as err:
        read_wfdb(base)
    assert "length mismatch" in err.value.problem and "600000" in err.value.problem
    assert read_wfdb(base, strict_length=False).data.shape == (2, 600000)


def test_wrong_format_code(real_data, tmp_path):
    base = _copy(real_data, tmp_path, "100")
    hea = base.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("100.dat 212", "100.dat 999"))
    with pytest.raises(RecordError) as err:
        read_wfdb(base)
    assert err.value.path.endswith("100.hea")
    assert "signal 1: format code unknown" in err.value.problem


def test_missing_header_and_signal_file(real_data, tmp_path):
    with pytest.raises(RecordError, match="header not found"):
        read_wfdb(tmp_path / "nothing")
    base = _copy(real_data, tmp_path, "a103l")
    base.with_suffix(".mat").unlink()
    with pytest.raises(RecordError, match="missing") as err:
        read_wfdb(base)
    assert err.value.path.endswith("a103l.mat")


def test_garbled_header(tmp_path):
    (tmp_path / "bad.hea").write_text("bad x y z\nnot a signal line\n")
    with pytest.raises(RecordError) as err:
        read_wfdb(tmp_path / "bad")
    assert err.value.path.endswith("bad.hea")


@pytest.mark.parametrize(
    ("fmt", "gain"),
    [("16", 200.0), ("24", 200.0), ("32", 200.0), ("80", 20.0), ("212", 200.0),
     ("508", 20.0), ("516", 200.0), ("524", 200.0)],
)  # fmt: skip
def test_formats_written_by_wfdb_roundtrip(real_data, tmp_path, fmt, gain):
    """Every format wfdb can write (incl. FLAC 508/516/524), odd lengths, real MIT-BIH signal."""
    import wfdb

    ref = read_wfdb(real_data / "wfdb" / "100").data[:, :3599].T.astype(np.float64)
    wfdb.wrsamp(
        "rec", fs=360, units=["mV", "mV"], sig_name=["MLII", "V5"], p_signal=ref,
        fmt=[fmt, fmt], adc_gain=[gain, gain], baseline=[0, 0], write_dir=str(tmp_path),
    )  # fmt: skip
    sig = read_wfdb(tmp_path / "rec")
    assert sig.data.shape == (2, 3599) and sig.meta["wfdb_fmt"] == [fmt]
    np.testing.assert_allclose(sig.data.T, ref, atol=0.5 / gain + 1e-6)
    if fmt in {"508", "516", "524"}:
        return  # compressed: the size says nothing about the length
    dat = tmp_path / "rec.dat"
    dat.write_bytes(dat.read_bytes()[:-8])
    with pytest.raises(RecordError, match="truncated"):
        read_wfdb(tmp_path / "rec")


def test_truncated_header_is_a_record_error(real_data, tmp_path):
    """A header cut inside the signal lines used to crash (TypeError) in the size check."""
    base = _copy(real_data, tmp_path, "100")
    hea = base.with_suffix(".hea")
    text = hea.read_bytes()
    for cut in (30, 40, 45, 60, 80):  # in the record line, in signal 1, before signal 2
        hea.write_bytes(text[:cut])
        with pytest.raises(RecordError) as err:
            read_wfdb(base)
        assert err.value.path.endswith("100.hea")


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("100 2 360 650000", "100 2 -500 650000", "sampling frequency is not positive"),
        ("100 2 360 650000", "100 2 nan 650000", "sampling frequency is not finite"),
        ("100 2 360 650000", "100 2 inf 650000", "sampling frequency is not finite"),
        ("100 2 360 650000", "100 2 1e12 650000", "sampling frequency is above"),
        ("100.dat 212 200 11 1024 995", "100.dat 212 nan 11 1024 995", "signal 1: ADC gain"),
        ("100.dat 212 200 11 1024 995", "100.dat 212 0 11 1024 995", "signal 1: ADC gain"),
        ("100.dat 212 200 11 1024 1011", "100.dat 212 inf 11 1024 1011", "signal 2: ADC gain"),
        ("100.dat 212 200 11", "100.dat 212x0 200 11", "signal 1: samples per frame"),
    ],
)  # fmt: skip
def test_absurd_header_values_are_not_guessed(real_data, tmp_path, old, new, problem):
    """wfdb itself reads fs -500/NaN/inf as 250 Hz and a NaN gain as the default 200."""
    base = _copy(real_data, tmp_path, "100")
    hea = base.with_suffix(".hea")
    hea.write_text(hea.read_text().replace(old, new))
    with pytest.raises(RecordError, match=problem) as err:
        read_wfdb(base)
    assert err.value.path.endswith("100.hea")


def _multi_segment(real: Path, tmp: Path, layout: bool) -> tuple[Path, np.ndarray]:
    """A MIMIC-style multi-segment record written with wfdb from real record 100:
    segment 1 (both leads, 5 s), a 1-s gap (~), segment 2 (V5 only, 5 s); optionally a
    variable layout segment (length 0) listing the channels first."""
    import wfdb

    ref = read_wfdb(real / "wfdb" / "100").data[:, :3600].T.astype(np.float64)
    common = {"fs": 360, "fmt": ["212"], "adc_gain": [200.0], "baseline": [1024],
              "write_dir": str(tmp)}  # fmt: skip
    wfdb.wrsamp("rec_0001", units=["mV", "mV"], sig_name=["MLII", "V5"], p_signal=ref[:1800],
                **{**common, "fmt": ["212", "212"], "adc_gain": [200.0, 200.0],
                   "baseline": [1024, 1024]})  # fmt: skip
    if layout:  # a variable layout: segment 2 holds V5 only
        wfdb.wrsamp("rec_0002", units=["mV"], sig_name=["V5"], p_signal=ref[1800:, 1:], **common)
    else:
        wfdb.wrsamp("rec_0002", units=["mV", "mV"], sig_name=["MLII", "V5"],
                    p_signal=ref[1800:], **{**common, "fmt": ["212", "212"],
                                            "adc_gain": [200.0, 200.0], "baseline": [1024, 1024]})
    names, lengths = ["rec_0001", "rec_0002"], [1800, 1800]
    if layout:
        # wfdb cannot write a layout header ('~' signal files); it is two lines of WFDB text
        (tmp / "rec_layout.hea").write_text(
            "rec_layout 2 360 0\n~ 0 200/mV 11 1024 0 0 0 MLII\n~ 0 200/mV 11 1024 0 0 0 V5\n"
        )
        names, lengths = ["rec_layout", "rec_0001", "~", "rec_0002"], [0, 1800, 360, 1800]
    master = wfdb.MultiRecord(record_name="rec", n_sig=2, fs=360, sig_len=sum(lengths),
                              seg_name=names, seg_len=lengths,
                              layout="variable" if layout else "fixed")  # fmt: skip
    master.n_seg = len(names)  # wfdb's writer reads it, its constructor does not take it
    master.wrheader(write_dir=str(tmp))
    if not layout:
        return tmp / "rec", ref.T
    expected = np.full((2, 3960), np.nan)
    expected[:, :1800] = ref[:1800].T
    expected[1, 2160:] = ref[1800:, 1]
    return tmp / "rec", expected


@pytest.mark.parametrize("layout", [False, True])
def test_multi_segment_record(real_data, tmp_path, layout):
    """Used to crash with AttributeError ('MultiRecord' object has no attribute 'fmt').
    Fixed layout: two segments, both leads; variable layout: layout segment, segment 1 (both
    leads), a 1-s gap, segment 2 (V5 only)."""
    import wfdb

    base, expected = _multi_segment(real_data, tmp_path, layout)
    length = 3960 if layout else 3600
    assert wfdb.rdrecord(str(base), m2s=True).p_signal.shape == (length, 2)  # wfdb reads it
    sig = read_wfdb(base)
    assert sig.channels == ["MLII", "V5"] and sig.fs == 360.0 and sig.data.shape == (2, length)
    np.testing.assert_allclose(sig.data, expected, atol=0.5 / 200 + 1e-6)  # NaN where expected
    assert np.isnan(sig.data).sum() == (720 + 1800 if layout else 0)
    assert sig.meta["segments"] == 2 and sig.meta["gaps"] == int(layout)
    assert sig.meta["layout"] == "multi-segment, gaps NaN"
    assert sig.meta["signal_files"] == ["rec_0001", "rec_0002"]


def test_multi_segment_record_with_bad_segment(real_data, tmp_path):
    base, _ = _multi_segment(real_data, tmp_path, layout=True)
    seg = tmp_path / "rec_0002.dat"
    seg.write_bytes(seg.read_bytes()[:-30])
    with pytest.raises(RecordError, match="truncated") as err:
        read_wfdb(base)
    assert err.value.path.endswith("rec_0002.dat")
    master = base.with_suffix(".hea")
    master.write_text(master.read_text().replace("rec_0002 1800", "../rec_0002 1800"))
    with pytest.raises(RecordError, match="segment 4: segment name is not a record name"):
        read_wfdb(base)
    master.write_text(master.read_text().replace("../rec_0002 1800", "rec_0002 1700"))
    with pytest.raises(RecordError, match="segment lengths do not add up"):
        read_wfdb(base)
    (tmp_path / "rec_0001.hea").unlink()
    master.write_text(master.read_text().replace("rec_0002 1700", "rec_0002 1800"))
    with pytest.raises(RecordError, match="segment 2 header named in the master is missing"):
        read_wfdb(base)
