"""Lossless signal storage: the ``digital`` encoding (the file's integer samples + the reader's
formula) and ``float_zstd`` (byte-shuffled zstd floats) give back the reader's float32 bit for
bit, for WFDB formats 212, 16, 80 and MATLAB v4, EDF and BDF; standardization keeps, slices or
drops the digital samples as it changes the data; a prepared PTB-XL store is smaller than its
source and loads bit-identical."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pyedflib
import pytest
import wfdb

from climb.errors import ClimbError
from climb.read.edf import read_edf
from climb.read.signal import Digital, Signal, attach_digital, cut, digital_of
from climb.read.standardize import resample, standardize_ecg, standardize_eeg, window_at, windows
from climb.read.wfdb import read_wfdb
from climb.store.codecs import (
    StoreCodec,
    decode_array,
    encode_digital,
    encode_signal,
    read_digital,
)
from tests.conftest import real_data_dir
from tests.store.signal_stores import prepare_ptbxl, ptbxl_stores

WFDB = real_data_dir() / "wfdb"


def bits(array: np.ndarray) -> np.ndarray:
    """The float32 bit patterns (NaN payloads and -0.0 compared too)."""
    assert array.dtype == np.float32
    return np.ascontiguousarray(array).view(np.uint32)


def stored(array: np.ndarray, digital: Digital | None = None, codec: str = "auto"):
    """(decoded array, encoding, payload bytes) of ``array`` through the signal codec."""
    payload, encoding = encode_signal(array, codec, digital)
    out = decode_array(memoryview(payload), array.shape, array.dtype, encoding)
    return out, encoding, len(payload)


def wfdb_float32(base: Path) -> np.ndarray:
    """What wfdb-python's physical read gives, cast to float32 (what read_wfdb returned
    before it kept the digital samples)."""
    rec = wfdb.rdrecord(str(base), smooth_frames=False)
    return np.stack([np.asarray(r, np.float64).astype(np.float32) for r in rec.e_p_signal])


@pytest.fixture(scope="module")
def fmt80(tmp_path_factory) -> Path:
    """Record 100's first 10 s written by wfdb in format 80 (8-bit offset binary), with
    invalid samples."""
    src = wfdb.rdrecord(str(WFDB / "100"), physical=False, sampto=3600)
    digital = np.clip(src.d_signal // 8 - 128, -127, 127).astype(np.int64)
    digital[100:110, 0] = -128  # format 80's invalid value
    out = tmp_path_factory.mktemp("fmt80")
    wfdb.wrsamp(
        "r80",
        fs=360,
        units=["mV", "mV"],
        sig_name=["MLII", "V5"],
        d_signal=digital,
        fmt=["80", "80"],
        adc_gain=[25.0, 25.0],
        baseline=[-3, 4],
        write_dir=str(out),
    )
    return out / "r80"


@pytest.fixture(scope="module")
def fmt16_invalid(tmp_path_factory) -> Path:
    """s0010_re's first 3 leads (format 16) with invalid (-32768) samples, odd gains."""
    src = wfdb.rdrecord(str(WFDB / "s0010_re"), physical=False, channels=[0, 1, 2], sampto=5000)
    digital = src.d_signal.astype(np.int64)
    digital[50:60, 1] = -32768
    out = tmp_path_factory.mktemp("fmt16")
    wfdb.wrsamp(
        "r16",
        fs=1000,
        units=["mV"] * 3,
        sig_name=["I", "II", "III"],
        d_signal=digital,
        fmt=["16"] * 3,
        adc_gain=[2000.0, 1234.567, 0.3],
        baseline=[0, -17, 250],
        write_dir=str(out),
    )
    return out / "r16"


@pytest.mark.parametrize(
    ("record", "fmt"),
    [("100", "212"), ("s0010_re", "16"), ("a103l", "16"), ("fmt80", "80"), ("fmt16_invalid", "16")],
)
def test_wfdb_digital_is_bit_identical(record, fmt, request):
    base = request.getfixturevalue(record) if record.startswith("fmt") else WFDB / record
    sig = read_wfdb(base)
    assert sig.meta["wfdb_fmt"] == [fmt]
    assert np.array_equal(bits(sig.data), bits(wfdb_float32(base)))  # the reader unchanged
    assert sig.digital is not None and sig.digital.scheme == "wfdb"
    assert sig.digital.samples.dtype == np.int16
    out, encoding, size = stored(sig.data, sig.digital)
    assert encoding == "digital"
    assert np.array_equal(bits(out), bits(sig.data))
    assert size < 0.5 * sig.data.nbytes  # int16 + zstd vs float32
    if record.endswith("invalid") or record == "fmt80":
        assert np.isnan(out).any() and np.array_equal(np.isnan(out), np.isnan(sig.data))


@pytest.fixture(scope="module")
def edf_files(tmp_path_factory) -> dict[str, Path]:
    """EDF+ and BDF+ written by pyEDFlib from record 100's samples, with physical ranges
    whose conversion is not a round number."""
    src = wfdb.rdrecord(str(WFDB / "100"), sampto=3600).p_signal.T
    out = tmp_path_factory.mktemp("edf")
    files = {}
    for ext, file_type, dmax in [
        ("edf", pyedflib.FILETYPE_EDFPLUS, 32767),
        ("bdf", pyedflib.FILETYPE_BDFPLUS, 8388607),
    ]:
        path = out / f"rec.{ext}"
        writer = pyedflib.EdfWriter(str(path), 3, file_type=file_type)
        headers = []
        for k, (pmin, pmax) in enumerate([(-5.0, 5.0), (-3.3333, 7.77), (-12.5, 12.49)]):
            headers.append(
                {
                    "label": f"ECG {k + 1}",
                    "dimension": "mV",
                    "sample_frequency": 360,
                    "physical_min": pmin,
                    "physical_max": pmax,
                    "digital_min": -dmax - 1,
                    "digital_max": dmax,
                }
            )
        writer.setSignalHeaders(headers)
        writer.writeSamples([np.clip(src[k % 2] * (k + 1), -3.3, 7.7) for k in range(3)])
        writer.close()
        files[ext] = path
    return files


@pytest.mark.parametrize("ext", ["edf", "bdf"])
def test_edf_digital_is_bit_identical(edf_files, ext):
    sig = read_edf(edf_files[ext])
    assert sig.meta["reader"] == "pyedflib" and sig.digital is not None
    assert sig.digital.scheme == "edf"
    assert sig.digital.samples.dtype == (np.int16 if ext == "edf" else np.int32)
    reader = pyedflib.EdfReader(str(edf_files[ext]))
    try:  # EDFlib's own physical read, as read_edf returned it before
        physical = np.stack([reader.readSignal(i) for i in range(3)]).astype(np.float32)
    finally:
        reader.close()
    assert np.array_equal(bits(sig.data), bits(physical))
    out, encoding, size = stored(sig.data, sig.digital)
    assert encoding == "digital" and np.array_equal(bits(out), bits(sig.data))
    assert size < sig.data.nbytes / (2 if ext == "edf" else 1.2)


def test_mne_fallback_keeps_no_digital_and_stores_float_zstd():
    sig = read_edf(WFDB / "test_generator_2.edf", mixed_rates="resample")  # not EDF-compliant
    assert sig.meta["reader"] == "mne" and sig.digital is None
    out, encoding, _ = stored(sig.data)
    assert encoding == "zstd_shuffle" and np.array_equal(bits(out), bits(sig.data))


def test_standardization_keeps_slices_or_drops_the_digital_samples():
    sig = read_wfdb(WFDB / "s0010_re")  # 1000 Hz, mV, 15 channels (12 standard + 3 Frank)
    std = standardize_ecg(sig, "s0010_re", {"fs": 1000.0, "units": "uV"})  # pick + scale
    assert std.digital is not None and std.digital.scale is not None
    assert np.array_equal(bits(std.digital.physical()), bits(std.data))
    cut = windows(std, 10.0, "all")
    assert len(cut) == 3
    for _, window in cut:
        out, encoding, _ = stored(window, digital_of(window))
        assert encoding == "digital" and np.array_equal(bits(out), bits(window))
    start, centred = window_at(std, 20.0, 10.0)
    assert digital_of(centred) is not None and start == 15.0
    padded = windows(std, 60.0, "first")[0][1]  # zero padding is not a stored sample
    assert digital_of(padded) is None
    assert stored(padded, digital_of(padded))[1] == "zstd_shuffle"
    assert resample(std, 500.0).digital is None  # new values
    assert standardize_ecg(sig, "s0010_re").digital is None  # 1000 -> 500 Hz
    dropped = standardize_ecg(
        Signal(
            sig.data[1:],
            sig.fs,
            sig.channels[1:],
            sig.units[1:],
            digital=sig.digital.take_rows(list(range(1, 15))),
        ),
        "s0010_re",
        {"fs": 1000.0, "missing_lead": "zero"},
    )
    assert dropped.digital is None  # lead I zero-filled


def test_eeg_channel_pick_keeps_digital_and_montage_drops_it(edf_files):
    sig = read_edf(edf_files["edf"])
    sig = Signal(sig.data, sig.fs, ["FP1", "F7", "T3"], ["uV"] * 3, sig.meta, digital=sig.digital)
    picked = standardize_eeg(sig, "rec.edf", {"fs": 360.0, "channels": ["T3", "FP1"]})
    assert picked.digital is not None
    assert np.array_equal(bits(picked.digital.physical()), bits(picked.data))
    tcp = standardize_eeg(
        sig, "rec.edf", {"fs": 360.0, "montage": "tcp", "missing_channel": "zero"}
    )
    assert tcp.digital is None


def test_a_digital_that_no_longer_matches_is_not_used():
    sig = read_wfdb(WFDB / "100")
    data = sig.data[:, :3600].copy()
    attach_digital(data, sig.digital.window(0, 3600))
    data[0, 5] += 1.0  # changed after the digital samples were attached
    out, encoding, _ = stored(data, digital_of(data))
    assert encoding == "zstd_shuffle" and np.array_equal(bits(out), bits(data))
    assert digital_of(data.copy()) is None  # a copy carries nothing


def test_float_zstd_is_bit_exact_for_any_float():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(4, 1000)).astype(np.float32)
    data[0, :3] = [np.nan, -0.0, np.inf]
    data[1, :2] = np.frombuffer(
        np.array([0x7FC00001, 0xFFFFFFFF], np.uint32).tobytes(), np.float32
    )  # NaN payloads
    for codec in ("auto", "float_zstd"):
        out, encoding, _ = stored(data, codec=codec)
        assert encoding == "zstd_shuffle" and np.array_equal(bits(out), bits(data))
    wide = data.astype(np.float64)
    out, _, _ = stored(wide)
    assert out.dtype == np.float64 and np.array_equal(out.view(np.uint64), wide.view(np.uint64))
    assert encode_signal(data, "raw") is None


def test_codec_choice_and_corrupt_payloads():
    sig = read_wfdb(WFDB / "s0010_re")
    assert StoreCodec().encode(sig.data, sig.digital)[1] == "digital"
    assert StoreCodec(signal="float_zstd").encode(sig.data, sig.digital)[1] == "zstd_shuffle"
    assert StoreCodec(signal="raw").encode(sig.data, sig.digital) is None
    assert StoreCodec().signal_dict() == {"codec": "auto"}
    with pytest.raises(ValueError, match=r"signal\.codec must be one of"):
        StoreCodec(signal="flac")
    payload = encode_digital(sig.digital)
    for delta in (False, True):  # first differences wrap in int16 and sum back exactly
        back = read_digital(encode_digital(sig.digital, delta=delta))
        assert np.array_equal(back.samples, sig.digital.samples)
        assert np.array_equal(bits(back.physical()), bits(sig.data))
    jumps = Digital(
        np.array([[-32768, 32767, -32768, 0, 32767]], np.int16), "wfdb", (1.0,), (0.0,), (None,)
    )
    assert np.array_equal(read_digital(encode_digital(jumps, delta=True)).samples, jumps.samples)
    header = payload[8 : 8 + int.from_bytes(payload[4:8], "little")].decode()
    assert set(json.loads(header)) == {
        "delta",
        "dtype",
        "fill",
        "gain",
        "invalid",
        "offset",
        "scale",
        "scheme",
        "shape",
    }  # numbers only, no labels
    with pytest.raises(ValueError, match="no CLD1 header"):
        decode_array(b"garbage!", sig.data.shape, "<f4", "digital")
    with pytest.raises(ValueError, match="does not decompress"):
        decode_array(payload[:-40], sig.data.shape, "<f4", "digital")
    with pytest.raises(ValueError, match="decodes to"):
        decode_array(payload, (15, 100), "<f4", "digital")


# ---------------------------------------------------------------------------- prepared store


@pytest.fixture(scope="module")
def ptbxl(tmp_path_factory) -> dict[str, Path]:
    return ptbxl_stores(tmp_path_factory)


def _shard_bytes(ds_dir: Path) -> int:
    manifest = json.loads((ds_dir / "manifest.json").read_text())
    return sum(s["bytes"] for s in manifest["shards"])


def test_prepared_ptbxl_is_digital_smaller_than_source_and_loads_bit_identical(ptbxl):
    from climb.adapt.base import get_adapter
    from climb.load import StoreDataset

    ds_dir = ptbxl["auto"] / "ptbxl"
    manifest = json.loads((ds_dir / "manifest.json").read_text())
    assert manifest["schema_version"] == 2
    assert manifest["config"]["signal"] == {"codec": "auto"}
    table = pq.read_table(ds_dir / manifest["shards"][0]["path"], columns=["input.ecg.attrs"])
    attrs = [json.loads(a) for a in table.column(0).to_pylist()]
    assert attrs and all(a["encoding"] == "digital" for a in attrs)
    records500 = next(ptbxl["raw"].rglob("records500"))
    source = sum(p.stat().st_size for p in records500.rglob("*") if p.is_file())
    assert _shard_bytes(ds_dir) <= source  # ratio <= 1.0 (raw float32 was 1.8x)
    assert _shard_bytes(ds_dir) < _shard_bytes(ptbxl["plain"] / "ptbxl") / 2
    splits = ["train", "val", "test"]
    coded = StoreDataset(ptbxl["auto"], ["ptbxl"], split=splits)
    plain = StoreDataset(ptbxl["plain"], ["ptbxl"], split=splits)
    want = {plain[i]["sample_id"]: plain[i]["inputs"]["ecg"] for i in range(len(plain))}
    assert len(want) == len(coded) == 10
    for i in range(len(coded)):
        sample = coded[i]
        assert np.array_equal(bits(sample["inputs"]["ecg"]), bits(want[sample["sample_id"]]))
    for sample in coded.__getitems__(list(range(len(coded)))):  # the batched read path
        assert np.array_equal(bits(sample["inputs"]["ecg"]), bits(want[sample["sample_id"]]))
    records = {r.sample_id: r for r in get_adapter("ptbxl").records(ptbxl["raw"])}
    for key, value in want.items():  # what the adapter (reader + standardize) returned
        assert np.array_equal(bits(value), bits(records[key].inputs["ecg"].data))


def test_an_unknown_signal_codec_stops_prepare(ptbxl, tmp_path):
    with pytest.raises(ClimbError, match=r"signal\.codec must be one of"):
        prepare_ptbxl(ptbxl["raw"], tmp_path / "bad", {"signal.codec": "flac"})


def test_the_digital_layout_reads_without_climb():
    """The documented payload (magic, u32 header length, JSON header, zstd of the byte
    planes) decoded with struct + json + pyarrow's zstd + numpy only."""
    import struct

    import pyarrow as pa

    sig = read_wfdb(WFDB / "100")
    payload = encode_signal(sig.data, "auto", sig.digital)[0]
    assert payload[:4] == b"CLD1"
    (size,) = struct.unpack_from("<I", payload, 4)
    head = json.loads(payload[8 : 8 + size])
    dtype, shape = np.dtype(head["dtype"]), tuple(head["shape"])
    body = pa.Codec("zstd").decompress(
        payload[8 + size :], int(np.prod(shape)) * dtype.itemsize, asbytes=True
    )
    planes = np.frombuffer(body, np.uint8).reshape(dtype.itemsize, -1)
    d = planes.T.copy().view(dtype).reshape(shape)
    gain = np.asarray(head["gain"])[:, None]
    offset = np.asarray(head["offset"])[:, None]
    physical = ((d.astype(np.float64) - offset) / gain).astype(np.float32)
    physical[d == np.asarray(head["invalid"])[:, None]] = np.nan
    assert head["scheme"] == "wfdb" and head["scale"] is None and head["fill"] is None
    assert np.array_equal(bits(physical), bits(sig.data))


def test_demo_adapters_cut_windows_with_their_digital_samples():
    from climb.adapt.base import get_adapter
    from climb.demo_data import path

    sig = read_wfdb(WFDB / "s0010_re")
    ptb = list(get_adapter("demo_ptb_ecg").records(path("demo_ptb_ecg")))
    assert len(ptb) == 3
    for rec in ptb:  # 12 of the 15 leads, reordered, one 10-s window each
        data = rec.inputs["ecg"].data
        assert digital_of(data) is not None and digital_of(data).samples.shape == (12, 10000)
        out, encoding, size = stored(data, digital_of(data))
        assert encoding == "digital" and np.array_equal(bits(out), bits(data))
        assert size < data.size * 2  # below the source's 16 bits a sample
    cut_rows = cut(sig, 100, 300, [3, 0])
    assert np.array_equal(bits(cut_rows), bits(sig.data[[3, 0], 100:300]))
    assert np.array_equal(bits(digital_of(cut_rows).physical()), bits(cut_rows))
    beats = get_adapter("demo_mitbih_beats")
    raw = path("demo_mitbih_beats")
    first = next(iter(beats.load(raw, beats.items(raw)[0])))
    assert stored(first.inputs["ecg"].data, digital_of(first.inputs["ecg"].data))[1] == "digital"
