"""Which raw files an item reads (the fingerprint of prepare's journal)."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from climb.adapt.base import Item
from climb.store.sources import SourceFiles, fingerprint


class _NoHook:
    """An adapter without an ``item_files`` hook."""


class _Hooked:
    def item_files(self, raw_dir: Path, item: Item) -> list[Path]:
        return [raw_dir / "index.csv", raw_dir / item.source]


def _names(files: list[Path], raw: Path) -> list[str]:
    return [p.relative_to(raw).as_posix() for p in files]


def test_files_of_an_item(tmp_path):
    raw = tmp_path
    (raw / "records").mkdir()
    for name in ("rec1.hea", "rec1.dat", "rec10.hea", "rec10.dat", "a.edf", "a.rec", "b.edf"):
        (raw / "records" / name).write_bytes(name.encode())
    (raw / "series" / "s1").mkdir(parents=True)
    for name in ("1.dcm", "2.dcm"):
        (raw / "series" / "s1" / name).write_bytes(b"x")
    with tarfile.open(raw / "reports.tgz", "w:gz") as tar:
        tar.add(raw / "records" / "a.rec", arcname="ecgen/1.xml")
    files = SourceFiles(_NoHook(), raw)  # type: ignore[arg-type]
    assert _names(files.files(Item("records/rec1", "r")), raw) == [
        "records/rec1.dat",
        "records/rec1.hea",
    ]
    assert _names(files.files(Item("records/a.edf", "a")), raw) == [
        "records/a.edf",
        "records/a.rec",
    ]
    assert _names(files.files(Item("records/b.edf", "b")), raw) == ["records/b.edf"]
    assert _names(files.files(Item("series/s1", "s")), raw) == [
        "series/s1/1.dcm",
        "series/s1/2.dcm",
    ]
    assert _names(files.files(Item("reports.tgz/ecgen/1.xml", "x")), raw) == ["reports.tgz"]
    assert files.files(Item("records/missing", "m")) == []
    hooked = SourceFiles(_Hooked(), raw)  # type: ignore[arg-type]
    assert _names(hooked.files(Item("records/b.edf", "b")), raw) == ["index.csv", "records/b.edf"]


def test_fingerprint_sees_size_mtime_and_content(tmp_path):
    (tmp_path / "r.dat").write_bytes(b"abcd")
    files = SourceFiles(_NoHook(), tmp_path)  # type: ignore[arg-type]
    item = Item("r", "r")
    key, digest = fingerprint(files.stat_key(item)), files.content_hash(item)
    st = (tmp_path / "r.dat").stat()
    (tmp_path / "r.dat").write_bytes(b"abce")  # same size, same mtime, other content
    os.utime(tmp_path / "r.dat", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert fingerprint(files.stat_key(item)) == key
    assert files.content_hash(item) != digest
    (tmp_path / "r.dat").write_bytes(b"abcdef")
    assert fingerprint(files.stat_key(item)) != key
