"""MetaImage (.mhd/.raw, .mha, zlib-compressed) and NRRD (pynrrd) readers.

Fixtures are an LNDb-like CT block written with numpy and the MetaIO header text; NRRD files
are written with pynrrd.
"""

from __future__ import annotations

import zlib

import nrrd
import numpy as np
import pytest

from climb.errors import RecordError
from climb.read.metaimage import read_metaimage, read_nrrd

CT = np.random.default_rng(7).integers(-1024, 2000, (5, 6, 7)).astype(np.int16)  # z, y, x


def mhd_header(data_file: str = "ct.raw", **override: str) -> str:
    """An LNDb-style header (LPS identity directions) for ``CT``."""
    fields = {
        "ObjectType": "Image", "NDims": "3", "BinaryData": "True",
        "BinaryDataByteOrderMSB": "False", "CompressedData": "False",
        "TransformMatrix": "1 0 0 0 1 0 0 0 1", "Offset": "-10 -20 30",
        "AnatomicalOrientation": "RAI", "ElementSpacing": "0.7 0.8 2.5",
        "DimSize": "7 6 5", "ElementType": "MET_SHORT",
    }  # fmt: skip
    fields.update(override)
    lines = [f"{k} = {v}" for k, v in fields.items() if v is not None]
    return "\n".join([*lines, f"ElementDataFile = {data_file}"]) + "\n"


def write_mhd(folder, **override: str):
    (folder / "ct.mhd").write_text(mhd_header(**override))
    CT.tofile(folder / "ct.raw")
    return folder / "ct.mhd"


def test_mhd_raw_reads_lps_identity_as_canonical_ras(tmp_path):
    volume = read_metaimage(write_mhd(tmp_path))
    # LPS identity: x runs to the left, y to the back; canonical RAS+ flips both
    assert np.array_equal(volume.array, CT[:, ::-1, ::-1])
    assert volume.spacing == (2.5, 0.8, 0.7) and volume.orientation == "SAR"
    assert volume.origin == pytest.approx((10 - 6 * 0.7, 20 - 5 * 0.8, 30))


def test_compressed_mha_and_big_endian_read_the_same_samples(tmp_path):
    header = mhd_header("LOCAL", CompressedData="True", TransformMatrix=None)
    (tmp_path / "z.mha").write_bytes(header.encode() + zlib.compress(CT.tobytes()))
    volume = read_metaimage(tmp_path / "z.mha")
    assert np.array_equal(volume.array, CT) and volume.orientation is None
    assert volume.spacing == (2.5, 0.8, 0.7)
    (tmp_path / "be.mhd").write_text(
        mhd_header("be.raw", BinaryDataByteOrderMSB="True", TransformMatrix=None)
    )
    CT.astype(">i2").tofile(tmp_path / "be.raw")
    assert np.array_equal(read_metaimage(tmp_path / "be.mhd").array, CT)


def test_missing_spacing_is_unknown_not_guessed(tmp_path):
    volume = read_metaimage(write_mhd(tmp_path, ElementSpacing=None, TransformMatrix=None))
    assert volume.spacing is None and np.array_equal(volume.array, CT)


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"DimSize": "7 6 6"}, "truncated: 420 of 504 sample bytes"),
        ({"DimSize": "7 6"}, "DimSize has 2 values"),
        ({"ElementSpacing": "0.7 nan 2.5"}, "ElementSpacing is not 3 finite"),
        ({"ElementSpacing": "0.7 0 2.5"}, "ElementSpacing is not finite positive"),
        ({"ElementType": "MET_STRING"}, "ElementType"),
        ({"NDims": "2"}, "NDims is 2"),
        ({"TransformMatrix": "1 0 0 1 0 0 0 0 1"}, "degenerate"),
        ({"ObjectType": "Mesh"}, "ObjectType"),
    ],
)
def test_bad_headers_are_record_errors(tmp_path, override, problem):
    with pytest.raises(RecordError, match=problem):
        read_metaimage(write_mhd(tmp_path, **override))


def test_data_file_outside_the_folder_and_zlib_bomb_are_refused(tmp_path):
    (tmp_path / "up.mhd").write_text(mhd_header("../ct.raw"))
    with pytest.raises(RecordError, match="outside the header's folder"):
        read_metaimage(tmp_path / "up.mhd")
    header = mhd_header("LOCAL", CompressedData="True")
    (tmp_path / "bomb.mha").write_bytes(header.encode() + zlib.compress(bytes(10**7)))
    with pytest.raises(RecordError, match="inflate to more"):
        read_metaimage(tmp_path / "bomb.mha")


def test_nrrd_lps_matches_the_metaimage_read(tmp_path):
    header = {
        "space": "left-posterior-superior",
        "space directions": np.diag([0.7, 0.8, 2.5]),
        "space origin": np.array([-10.0, -20.0, 30.0]),
        "encoding": "gzip",
    }
    nrrd.write(str(tmp_path / "ct.nrrd"), CT, header, index_order="C")
    volume = read_nrrd(tmp_path / "ct.nrrd")
    reference = read_metaimage(write_mhd(tmp_path))
    assert np.array_equal(volume.array, reference.array)
    assert volume.spacing == pytest.approx(reference.spacing)
    assert volume.origin == pytest.approx(reference.origin) and volume.orientation == "SAR"


def test_nrrd_without_directions_keeps_stored_order_and_spacings(tmp_path):
    nrrd.write(str(tmp_path / "s.nrrd"), CT, {"spacings": [0.7, 0.8, 2.5]}, index_order="C")
    volume = read_nrrd(tmp_path / "s.nrrd")
    assert np.array_equal(volume.array, CT) and volume.orientation is None
    assert volume.spacing == (2.5, 0.8, 0.7)
    nrrd.write(str(tmp_path / "n.nrrd"), CT, index_order="C")
    assert read_nrrd(tmp_path / "n.nrrd").spacing is None


def test_nrrd_bad_files_are_record_errors(tmp_path):
    nrrd.write(str(tmp_path / "ok.nrrd"), CT, {"spacings": [0.7, 0.8, 2.5]}, index_order="C")
    data = (tmp_path / "ok.nrrd").read_bytes()
    (tmp_path / "cut.nrrd").write_bytes(data[:-50])
    with pytest.raises(RecordError, match=r"cut\.nrrd: cannot read NRRD"):
        read_nrrd(tmp_path / "cut.nrrd")
    nrrd.write(str(tmp_path / "zero.nrrd"), CT, {"spacings": [0.0, 0.8, 2.5]}, index_order="C")
    with pytest.raises(RecordError, match="spacings are not finite positive"):
        read_nrrd(tmp_path / "zero.nrrd")
