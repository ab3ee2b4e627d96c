"""Fuzz tests of the volume and video readers (NIfTI, MetaImage, video): every corruption ends
in a RecordError naming the file or in a read an independent decode agrees with (nibabel's
own canonical read, numpy on the sample bytes, PyAV's own decode); see tests/read/corrupt.py.
"""

from __future__ import annotations

import gzip
import struct
import warnings

import av
import nibabel
import numpy as np
from nibabel.testing import data_path

from climb.read.metaimage import read_metaimage
from climb.read.nifti import read_nifti
from climb.read.video import read_video
from tests.read.corrupt import check_reader, generic, truncations
from tests.read.test_metaimage import CT, mhd_header
from tests.read.test_video import write_video

NII = (data_path / "anatomical.nii").read_bytes()


def _nifti_matches_nibabel(path):
    def expect(volume) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = np.asanyarray(nibabel.as_closest_canonical(nibabel.load(path)).dataobj)
        return np.array_equal(volume.array, ref.T, equal_nan=True)

    return expect


def _header_set(fmt: str, offset: int, value) -> bytes:
    data = bytearray(NII)
    struct.pack_into(fmt, data, offset, value)  # anatomical.nii is big endian
    return bytes(data)


def nifti_corruptions():
    yield from generic(NII, seed=3, header_bytes=348)
    yield "dim[1] negative", _header_set(">h", 42, -33)
    yield "dim[0] = 9", _header_set(">h", 40, 9)
    yield "dim[3] huge", _header_set(">h", 46, 32000)
    yield "pixdim[1] NaN", _header_set(">f", 80, float("nan"))
    yield "pixdim[2] zero", _header_set(">f", 84, 0.0)
    yield "pixdim[3] 1e30", _header_set(">f", 88, 1e30)
    yield "datatype bogus", _header_set(">h", 70, 77)
    yield "vox_offset past the end", _header_set(">f", 108, 1e6)
    yield "scl_slope inf", _header_set(">f", 112, float("inf"))
    yield "gzip truncated", gzip.compress(NII)[:-300]


def test_fuzz_nifti(tmp_path):
    outcomes = []
    for k, (what, data) in enumerate(nifti_corruptions()):
        path = tmp_path / (f"c{k}.nii.gz" if what.startswith("gzip") else f"c{k}.nii")
        path.write_bytes(data)
        outcomes.append(
            check_reader("nifti", lambda p=path: read_nifti(p), what, _nifti_matches_nibabel(path))
        )
    assert len(outcomes) >= 15 and outcomes.count("error") >= 10


def metaimage_corruptions():
    header = mhd_header("LOCAL").encode()
    data = header + CT.tobytes()
    yield from generic(data, seed=5, header_bytes=len(header))
    yield from truncations(data, 3, seed=6, lo=len(header))
    for field, value in [
        ("DimSize", "7 6 -5"),
        ("DimSize", "7 6 99999999"),
        ("ElementSpacing", "inf 1 1"),
        ("ElementType", "MET_FLOAT"),
        ("NDims", "x"),
        ("CompressedData", "True"),
        ("TransformMatrix", "0 0 0 0 0 0 0 0 0"),
        ("HeaderSize", "-7"),
    ]:
        yield f"{field} = {value}", mhd_header("LOCAL", **{field: value}).encode() + CT.tobytes()
    yield "zlib garbage", mhd_header("LOCAL", CompressedData="True").encode() + b"\x78\x9c" * 50


def _metaimage_matches_bytes(data: bytes):
    def expect(volume) -> bool:
        start = data.index(b"ElementDataFile = LOCAL\n") + len("ElementDataFile = LOCAL\n")
        raw = np.frombuffer(data[start : start + CT.nbytes], "<i2").reshape(CT.shape)
        return np.array_equal(volume.array, raw[:, ::-1, ::-1])

    return expect


def test_fuzz_metaimage(tmp_path):
    outcomes = []
    for k, (what, data) in enumerate(metaimage_corruptions()):
        path = tmp_path / f"c{k}.mha"
        path.write_bytes(data)
        outcomes.append(
            check_reader(
                "metaimage", lambda p=path: read_metaimage(p), what, _metaimage_matches_bytes(data)
            )
        )
    assert len(outcomes) >= 15 and outcomes.count("error") >= 10


def _video_matches_pyav(path):
    def expect(volume) -> bool:
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        return np.array_equal(volume.array, np.stack(frames))

    return expect


def test_fuzz_video(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (10, 32, 48, 3), dtype=np.uint8)
    frames = np.repeat(np.repeat(frames, 2, axis=1), 2, axis=2)  # 64 x 96, blocky
    outcomes = []
    for suffix, codec in ((".avi", "mjpeg"), (".mp4", "mpeg4")):
        write_video(tmp_path / f"ok{suffix}", frames, codec)
        data = (tmp_path / f"ok{suffix}").read_bytes()
        for k, (what, bad) in enumerate(generic(data, seed=7, header_bytes=512)):
            path = tmp_path / f"c{k}{suffix}"
            path.write_bytes(bad)
            outcomes.append(
                check_reader(
                    "video",
                    lambda p=path: read_video(p),
                    f"{suffix} {what}",
                    _video_matches_pyav(path),
                )
            )
    assert len(outcomes) >= 15 and outcomes.count("error") >= 8
