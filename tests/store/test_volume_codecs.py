"""Volume and clip storage codecs: bit-exact round trips (zstd, zstd_shuffle, png_frames) and
bounded error (jpeg_frames, h264) on real CT and cine pixels; which arrays each codec takes;
prepare + StoreDataset/iter_rows giving back the raw store's arrays, batched too, with the
codec in the manifest and the attrs."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pydicom
import pytest
from pydicom.data import get_testdata_file

from climb.errors import ClimbError
from climb.load import StoreDataset
from climb.read.dicom_cine import read_dicom_cine
from climb.read.standardize_volume import standardize_clip
from climb.store.codecs import (
    StoreCodec,
    decode_array,
    encode_array,
    is_clip,
    is_volume,
)
from climb.store.reader import iter_rows, open_store
from tests.store.volume_stores import CT_NAME, prepare_ct, prepare_echo

SPLITS = ["train", "val", "test"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def ct() -> np.ndarray:
    """CT_small.dcm in HU (int16), 12 slices rolled and offset like neighbouring slices."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return np.stack([np.roll(hu, k, axis=0) + 3 * k for k in range(12)]).astype(np.int16)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    cine = read_dicom_cine(get_testdata_file("examples_ybr_color.dcm"))
    return standardize_clip(cine, frames=8, size=64)  # 8 x 64 x 64 x 3 uint8


@pytest.mark.parametrize("codec", ["zstd", "zstd_shuffle"])
def test_zstd_codecs_are_bit_exact_on_volumes_and_clips(ct, clip, codec):
    windowed = np.clip((ct.astype(np.int32) + 1350) * 255 // 1500, 0, 255).astype(np.uint8)
    for array in (ct, windowed, ct[None], clip):
        data = encode_array(array, codec)
        out = decode_array(memoryview(data), array.shape, array.dtype, codec)
        assert out.dtype == array.dtype and np.array_equal(out, array)
    assert len(encode_array(ct, codec)) < 0.7 * ct.nbytes  # a noisy CT: 1.5-1.9x


def test_shuffling_helps_int16_hu(ct):
    assert len(encode_array(ct, "zstd_shuffle")) < len(encode_array(ct, "zstd"))


def test_clip_codecs(clip):
    png = encode_array(clip, "png_frames")
    assert np.array_equal(decode_array(png, clip.shape, "uint8", "png_frames"), clip)
    grey = clip[..., :1]
    assert np.array_equal(
        decode_array(encode_array(grey, "png_frames"), grey.shape, "uint8", "png_frames"), grey
    )
    jpeg = encode_array(clip, "jpeg_frames", quality=90)
    assert psnr(decode_array(jpeg, clip.shape, "uint8", "jpeg_frames"), clip) > 30
    h264 = encode_array(clip, "h264", crf=18)
    assert psnr(decode_array(h264, clip.shape, "uint8", "h264"), clip) > 30
    assert len(jpeg) < len(png) < clip.nbytes and len(h264) < len(png)


def test_which_arrays_each_codec_takes(ct, clip):
    codec = StoreCodec()
    assert (codec.volume, codec.video, codec.codec) == ("zstd_shuffle", "zstd", "png")
    assert is_volume(ct) and not is_clip(ct) and is_clip(clip) and not is_volume(clip)
    assert codec.encode(ct)[1] == "zstd_shuffle" and codec.encode(clip)[1] == "zstd"
    assert StoreCodec(video="png_frames").encode(clip)[1] == "png_frames"
    assert codec.encode(clip[0])[1] == "png"  # one frame is a 2D image
    assert codec.encode(ct.astype(np.float32)) is None  # floats stay raw
    assert codec.encode(np.zeros((12, 500), np.int16)) is None  # a signal stays raw
    assert StoreCodec(volume="raw", video="raw").encode(ct) is None
    with pytest.raises(ValueError, match=r"video\.codec must be one of"):
        StoreCodec(video="gif")
    with pytest.raises(ValueError, match="cannot encode"):
        encode_array(ct, "png_frames")
    with pytest.raises(ValueError, match="does not decompress"):
        decode_array(b"not zstd at all", ct.shape, ct.dtype, "zstd")
    with pytest.raises(ValueError, match="zstd payload"):  # a shape the bytes do not hold
        decode_array(encode_array(ct, "zstd"), (13, *ct.shape[1:]), ct.dtype, "zstd")
    with pytest.raises(ValueError, match="expected"):
        decode_array(encode_array(clip, "png_frames"), (9, 64, 64, 3), "uint8", "png_frames")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("volume_codecs")
    raw_config = {"volume.codec": "raw", "video.codec": "raw", "frames": 4, "size": 32}
    coded_config = {"frames": 4, "size": 32, "row_group_bytes": 1}
    raw = prepare_echo(root, prepare_ct(root, root / "raw", raw_config), raw_config)
    coded = prepare_echo(root, prepare_ct(root, root / "coded", coded_config), coded_config)
    return {"raw": raw, "coded": coded}


@pytest.mark.parametrize(
    ("name", "input_name"), [(CT_NAME, "volume"), ("echonet_dynamic", "video")]
)
def test_prepared_volumes_and_clips_read_back_bit_exact(stores, name, input_name):
    raw = StoreDataset(stores["raw"], [name], split=SPLITS)
    coded = StoreDataset(stores["coded"], [name], split=SPLITS)
    assert len(raw) == len(coded) > 0
    want = {raw[i]["sample_id"]: raw[i]["inputs"][input_name] for i in range(len(raw))}
    got = {coded[i]["sample_id"]: coded[i]["inputs"][input_name] for i in range(len(coded))}
    assert want.keys() == got.keys()
    for key, value in want.items():
        assert got[key].dtype == value.dtype and np.array_equal(got[key], value)
    batch = coded.__getitems__(list(range(len(coded))))  # the batched read path
    for sample in batch:
        assert np.array_equal(sample["inputs"][input_name], want[sample["sample_id"]])
    if input_name == "video":  # clips load frame-wise channel-first
        assert next(iter(want.values())).shape == (4, 3, 32, 32)
    rows = list(iter_rows(open_store(stores["coded"], [name])[0]))
    assert all(r["input_attrs"][input_name]["encoding"] for r in rows)


def test_manifest_records_the_codecs_and_shards_shrink(stores):
    sizes = {}
    for kind in ("raw", "coded"):
        ds_dir = stores[kind] / CT_NAME
        manifest = json.loads((ds_dir / "manifest.json").read_text())
        expected = "raw" if kind == "raw" else "zstd_shuffle"
        assert manifest["config"]["volume"] == {"codec": expected}
        video = json.loads((stores[kind] / "echonet_dynamic" / "manifest.json").read_text())
        assert video["config"]["video"] == {"codec": "raw" if kind == "raw" else "zstd"}
        table = pq.read_table(ds_dir / manifest["shards"][0]["path"])
        attrs = [json.loads(a) for a in table.column("input.volume.attrs").to_pylist()]
        assert all(a.get("encoding") == (None if kind == "raw" else expected) for a in attrs)
        assert set(table.column("input.volume.dtype").to_pylist()) == {"<i2"}
        sizes[kind] = sum(
            len(v)
            for s in manifest["shards"]
            for v in pq.read_table(ds_dir / s["path"], columns=["input.volume"])
            .column(0)
            .to_pylist()
        )
    assert sizes["coded"] < sizes["raw"] / 1.5


def test_an_unknown_volume_codec_stops_prepare(tmp_path):
    with pytest.raises(ClimbError, match=r"volume\.codec must be one of"):
        prepare_ct(tmp_path, tmp_path / "store", {"volume.codec": "lzma"})
