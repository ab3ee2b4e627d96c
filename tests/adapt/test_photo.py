"""climb.adapt.photo: photographs read from packed zips (cached archive refreshed when it
changes), missing members and tables with missing columns named as RecordErrors."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from climb.adapt.photo import PHOTO_CONFIG, decode_photo, index_zip_images, read_table
from climb.errors import RecordError
from tests.adapt._photo_checks import standard_rgb
from tests.fixtures._photo import real_colour


def write_zip(path, k: int) -> bytes:
    png = path.with_suffix(".png")
    Image.fromarray(real_colour(k, (40, 50))).save(png)
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(png, "part/a.png")
    return png.read_bytes()


def test_zip_member_decoded_and_cache_refreshed_when_the_archive_changes(tmp_path):
    archive = tmp_path / "images.zip"
    first = write_zip(archive, 0)
    assert index_zip_images(archive, tmp_path) == {"a": "images.zip/part/a.png"}
    got = decode_photo(tmp_path, "images.zip/part/a.png", PHOTO_CONFIG).data
    assert np.abs(got.astype(int) - standard_rgb(first)).max() <= 1
    second = write_zip(archive, 5)
    os.utime(archive, ns=(1, 1))  # a different mtime even on coarse-clock filesystems
    again = decode_photo(tmp_path, "images.zip/part/a.png", PHOTO_CONFIG).data
    assert np.abs(again.astype(int) - standard_rgb(second)).max() <= 1
    assert not np.array_equal(got, again)


def test_missing_member_and_missing_columns_are_record_errors(tmp_path):
    write_zip(tmp_path / "images.zip", 1)
    with pytest.raises(RecordError, match="not found in its zip archive") as err:
        decode_photo(tmp_path, "images.zip/part/b.png", PHOTO_CONFIG)
    assert err.value.path == "images.zip/part/b.png"
    with pytest.raises(RecordError, match="image file not found"):
        decode_photo(tmp_path, "elsewhere/b.png", PHOTO_CONFIG)
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(RecordError, match=r"missing columns \['c'\]"):
        read_table(tmp_path / "t.csv", ("a", "c"), "t.csv")
