"""Storage codecs: encode/decode round trips on real images (bit-exact for raw, png and
webp_lossless; PSNR-bounded for jpeg and webp), and prepare + StoreDataset/iter_rows giving
back the same uint8 arrays for every codec, with the encoding recorded in the attrs."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from climb.errors import ClimbError
from climb.load import StoreDataset
from climb.store.codecs import ImageCodec, decode_image, encodable, encode_image
from climb.store.reader import iter_rows, open_store
from tests.store.codec_images import NAME, prepare_codec, real_images, write_raw

SPLITS = ["train", "val", "test"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    return real_images(96)


@pytest.mark.parametrize("codec", ["png", "webp_lossless"])
def test_lossless_codecs_are_bit_exact(images, codec):
    for image in images:
        for array in (image, image[..., 0], image[..., :1], np.dstack([image, image[..., :1]])):
            data = encode_image(array, codec)
            out = decode_image(data, array.shape, "uint8", codec)
            assert out.shape == array.shape and np.array_equal(out, array)
    assert len(encode_image(images[0][..., 0], codec)) < images[0][..., 0].nbytes


@pytest.mark.parametrize(
    ("codec", "quality", "floor"), [("jpeg", 90, 35), ("jpeg", 50, 28), ("webp", 90, 33)]
)
def test_lossy_codecs_have_bounded_error(images, codec, quality, floor):
    for image in images:
        grey = image[..., 0]
        data = encode_image(grey, codec, quality)
        out = decode_image(data, grey.shape, "uint8", codec)
        assert out.shape == grey.shape and psnr(out, grey) > floor
        assert len(data) < grey.nbytes / 2


def test_what_a_codec_cannot_hold_stays_raw():
    assert not encodable(np.zeros((8, 8), np.float32), "png")
    assert not encodable(np.zeros((3, 8, 8, 3), np.uint8), "png")  # video-like
    assert not encodable(np.zeros((8, 8, 4), np.uint8), "jpeg")  # alpha
    assert not encodable(np.zeros((8, 8), np.uint8), "raw")
    assert ImageCodec("png").encode(np.zeros((2, 100), np.int16)) is None
    with pytest.raises(ValueError, match=r"image\.codec must be one of"):
        ImageCodec("gif")
    with pytest.raises(ValueError, match="decodes to"):
        decode_image(encode_image(np.zeros((8, 8), np.uint8), "png"), (8, 9), "uint8", "png")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("codecs")
    raw = write_raw(root)
    one_per_group = {"row_group_bytes": 1}  # the pread layout; jpeg: shared row groups
    return {
        "raw": prepare_codec(root, raw, "raw", **one_per_group),
        "png": prepare_codec(root, raw, "png", **one_per_group),
        "jpeg": prepare_codec(root, raw, "jpeg"),
        "root": root,
        "raw_dir": raw,
    }


def _arrays(store) -> dict[str, np.ndarray]:
    ds = StoreDataset(store, split=SPLITS)
    return {ds[i]["sample_id"]: ds[i]["inputs"]["image"] for i in range(len(ds))}


def test_prepare_stores_each_codec_and_the_loader_decodes_it(stores):
    raw, png, jpeg = (_arrays(stores[c]) for c in ("raw", "png", "jpeg"))
    assert raw.keys() == png.keys() == jpeg.keys() and len(raw) == 8
    for key, value in raw.items():
        assert value.shape == (3, 48, 48) and value.dtype == np.uint8  # channel-first view
        assert np.array_equal(png[key], value)
        assert png[key].dtype == np.uint8 and psnr(jpeg[key], value) > 30
    # iter_rows (the Parquet reader the streaming loader uses) decodes the same way
    rows = {r["sample_id"]: r for r in iter_rows(open_store(stores["png"])[0])}
    for key, row in rows.items():
        assert row["input_attrs"]["image"] == {"encoding": "png"}
        assert np.array_equal(row["inputs"]["image"], raw[key].transpose(1, 2, 0))


def test_encoding_in_attrs_shape_in_columns_sizes_and_manifest(stores):
    sizes = {}
    for codec in ("raw", "png", "jpeg"):
        ds_dir = stores[codec] / NAME
        manifest = json.loads((ds_dir / "manifest.json").read_text())
        assert manifest["config"]["image"]["codec"] == codec
        table = pq.read_table(ds_dir / manifest["shards"][0]["path"])
        attrs = [json.loads(a) for a in table.column("input.image.attrs").to_pylist()]
        assert all(a.get("encoding") == (None if codec == "raw" else codec) for a in attrs)
        assert table.column("input.image.shape").to_pylist()[0] == [48, 48, 3]
        assert set(table.column("input.image.dtype").to_pylist()) == {"|u1"}
        sizes[codec] = sum(
            len(v)
            for s in manifest["shards"]
            for v in pq.read_table(ds_dir / s["path"], columns=["input.image"])
            .column(0)
            .to_pylist()
        )
    assert sizes["raw"] == 8 * 48 * 48 * 3
    assert sizes["jpeg"] < sizes["png"] < sizes["raw"]


def test_a_store_without_encoding_reads_as_raw(stores):
    """Stores written before codecs existed have no "encoding" (as image.codec=raw writes
    them): read as raw arrays, by the pread path, equal to the source files' pixels."""
    from PIL import Image

    ds = StoreDataset(stores["raw"], split=SPLITS)
    part = ds._parts[0]
    assert part.encoding["image"] is None
    assert part.array_plan("image", np.arange(part.n)) == (np.dtype("uint8"), (48, 48, 3))
    for i in range(len(ds)):
        sample = ds[i]
        source = np.asarray(
            Image.open(stores["raw"].parent / "raw" / "images" / f"{sample['sample_id']}.png")
        )
        assert np.array_equal(sample["inputs"]["image"].transpose(1, 2, 0), source)
    coded = StoreDataset(stores["png"], split=SPLITS)._parts[0]
    assert list(coded.encoding["image"]) == ["png"] * coded.n


def test_an_unknown_codec_stops_prepare(stores, tmp_path):
    with pytest.raises(ClimbError, match=r"image\.codec must be one of"):
        prepare_codec(stores["root"], stores["raw_dir"], "gif")
