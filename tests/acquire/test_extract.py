"""Safe extraction: each kind of malicious archive is refused whole; good ones are idempotent."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile

import pytest

from climb.acquire import UnsafeArchiveError, extract
from climb.acquire.extract import MARKER_DIR, is_extracted


def _zip(
    path,
    members: dict[str, bytes],
    symlinks: dict[str, str] | None = None,
    special: dict[str, int] | None = None,
):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
        for name, mode in (special or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (mode | 0o644) << 16
            zf.writestr(info, b"")
    return path


def _tar(path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode="w:gz"):
    with tarfile.open(path, mode) as tf:
        for m in members:
            if isinstance(m, tuple):
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
            else:
                tf.addfile(m)
    return path


def _info(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


GOOD = [("data/a.csv", b"x,y\n1,2\n"), ("data/sub/b.txt", b"hello" * 100)]


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_good_tar_extracts_and_is_idempotent(tmp_path, mode):
    # a hard link to a regular file earlier in the archive is written as a copy of it
    archive = _tar(
        tmp_path / "good.tar", [*GOOD, _info("data/copy.csv", tarfile.LNKTYPE, "data/a.csv")], mode
    )
    out = tmp_path / "out"
    assert extract(archive, out) == 3
    assert (out / "data" / "a.csv").read_bytes() == b"x,y\n1,2\n"
    assert (out / "data" / "copy.csv").read_bytes() == b"x,y\n1,2\n"
    assert not (out / "data" / "copy.csv").is_symlink()
    assert is_extracted(archive, out)
    assert extract(archive, out) == 0  # the marker makes a second run a no-op


def test_good_zip_extracts_and_resumes(tmp_path):
    archive = _zip(tmp_path / "good.zip", dict(GOOD))
    out = tmp_path / "out"
    # an interrupted earlier run: one member done, one left as a temp file, no marker
    (out / "data").mkdir(parents=True)
    (out / "data" / "a.csv").write_bytes(b"x,y\n1,2\n")
    (out / "data" / "sub").mkdir()
    (out / "data" / "sub" / "b.txt.climb-tmp").write_bytes(b"hel")
    assert extract(archive, out) == 1  # only the missing member is written
    assert (out / "data" / "sub" / "b.txt").read_bytes() == b"hello" * 100
    assert (out / MARKER_DIR / "good.zip.json").is_file()


def _nothing_written(out) -> bool:
    return not out.exists() or not [p for p in out.rglob("*") if MARKER_DIR not in p.parts]


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (lambda p: _zip(p / "a.zip", {"ok.txt": b"1", "/etc/evil": b"x"}), "absolute path"),
        (lambda p: _zip(p / "a.zip", {"ok.txt": b"1", "a/../../evil": b"x"}), "'..'"),
        (
            lambda p: _zip(p / "a.zip", {"ok.txt": b"1"}, symlinks={"s": "../../etc/passwd"}),
            "symbolic link",
        ),
        (
            lambda p: _zip(p / "a.zip", {"ok.txt": b"1"}, symlinks={"s": "/etc/passwd"}),
            "symbolic link",
        ),
        (lambda p: _zip(p / "a.zip", {"ok.txt": b"1"}, symlinks={"s": "ok.txt"}), "symbolic link"),
        (lambda p: _zip(p / "a.zip", {"ok.txt": b"1"}, special={"dev": stat.S_IFCHR}), "device"),
        (lambda p: _tar(p / "a.tgz", [("ok.txt", b"1"), ("/abs/evil", b"x")]), "absolute path"),
        (lambda p: _tar(p / "a.tgz", [("ok.txt", b"1"), ("../evil", b"x")]), "'..'"),
        (
            lambda p: _tar(
                p / "a.tgz", [("ok.txt", b"1"), _info("s", tarfile.SYMTYPE, "../../outside")]
            ),
            "symbolic link",
        ),
        (
            lambda p: _tar(
                p / "a.tgz", [("ok.txt", b"1"), _info("s", tarfile.SYMTYPE, "/etc/passwd")]
            ),
            "symbolic link",
        ),
        (
            lambda p: _tar(p / "a.tgz", [("ok.txt", b"1"), _info("s", tarfile.SYMTYPE, "ok.txt")]),
            "symbolic link",
        ),
        (
            lambda p: _tar(
                p / "a.tgz", [("ok.txt", b"1"), _info("h", tarfile.LNKTYPE, "../outside")]
            ),
            "outside",
        ),
        (lambda p: _tar(p / "a.tgz", [("ok.txt", b"1"), _info("dev", tarfile.CHRTYPE)]), "device"),
        (lambda p: _tar(p / "a.tgz", [("ok.txt", b"1"), _info("blk", tarfile.BLKTYPE)]), "device"),
        (lambda p: _tar(p / "a.tgz", [("ok.txt", b"1"), _info("fifo", tarfile.FIFOTYPE)]), "FIFO"),
    ],
    ids=[
        "zip-abs",
        "zip-dotdot",
        "zip-symlink-out",
        "zip-symlink-abs",
        "zip-symlink-in",
        "zip-device",
        "tar-abs",
        "tar-dotdot",
        "tar-symlink-out",
        "tar-symlink-abs",
        "tar-symlink-in",
        "tar-hardlink-out",
        "tar-chardev",
        "tar-blockdev",
        "tar-fifo",
    ],
)
def test_malicious_archives_are_refused_whole(tmp_path, build, problem):
    archive = build(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError) as err:
        extract(archive, out)
    assert str(archive) in str(err.value) and problem in str(err.value)
    assert _nothing_written(out)  # not even the harmless member
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()


def test_symlink_escape_through_nested_directory_is_refused(tmp_path):
    archive = _tar(tmp_path / "a.tar", [_info("d/e/s", tarfile.SYMTYPE, "../../../x")], "w")
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        extract(archive, tmp_path / "out")


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "tar.xz"])
def test_decompression_bomb_is_refused(tmp_path, kind):
    zeros = b"\0" * 5_000_000
    if kind == "zip":
        archive = _zip(tmp_path / "bomb.zip", {"zeros.bin": zeros})
    else:
        archive = _tar(
            tmp_path / f"bomb.{kind}",
            [("zeros.bin", zeros)],
            "w:gz" if kind == "tar.gz" else "w:xz",
        )
    with pytest.raises(UnsafeArchiveError, match="decompression bomb"):
        extract(archive, tmp_path / "out", max_ratio=100)
    assert _nothing_written(tmp_path / "out")
    # the ratio is configurable: a generous limit lets the same archive through
    assert extract(archive, tmp_path / "ok", max_ratio=1e6) == 1


def test_ratio_from_environment(tmp_path, monkeypatch):
    archive = _zip(tmp_path / "z.zip", {"zeros.bin": b"\0" * 1_000_000})
    monkeypatch.setenv("CLIMB_MAX_EXTRACT_RATIO", "10")
    with pytest.raises(UnsafeArchiveError, match="limit 10x"):
        extract(archive, tmp_path / "out")


def test_not_an_archive(tmp_path):
    path = tmp_path / "plain.bin"
    path.write_bytes(b"not an archive at all")
    with pytest.raises(UnsafeArchiveError, match="not a zip or tar"):
        extract(path, tmp_path / "out")


# -- chained links, climb's own files, links already on disk (issue 10, item 2) -------------
CHAIN = ["sub/up", "sub/up/up2", "sub/up/up2/up3"]  # each "-> ..": lexically inside, not really


def _files_outside(base, out) -> list:
    """Every file or link under `base` that is not under `out` and is not an archive."""
    return [
        p
        for p in base.rglob("*")
        if (p.is_file() or p.is_symlink())
        and out not in p.parents
        and p.suffix not in (".zip", ".tar", ".tgz")
        and p.name != "secret.txt"
    ]


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_chained_symlinks_cannot_write_outside(tmp_path, kind):
    """sub/up -> .., sub/up/up2 -> .., sub/up/up2/up3 -> .., then sub/up/up2/up3/x.txt."""
    out = tmp_path / "a" / "b" / "c" / "ROOT" / "NAME"
    payload = "sub/up/up2/up3/x.txt"
    if kind == "zip":
        with zipfile.ZipFile(tmp_path / "chain.zip", "w") as zf:
            for name in CHAIN:
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, "..")
            zf.writestr(payload, b"pwned")
        archive = tmp_path / "chain.zip"
    else:
        archive = _tar(
            tmp_path / "chain.tar",
            [*[_info(n, tarfile.SYMTYPE, "..") for n in CHAIN], (payload, b"pwned")],
            "w",
        )
    with pytest.raises(UnsafeArchiveError) as err:
        extract(archive, out)
    assert str(archive) in str(err.value) and "'sub/up'" in str(err.value)
    assert "symbolic link" in str(err.value)
    assert _nothing_written(out)
    assert _files_outside(tmp_path, out) == []


def test_chained_symlinks_then_hard_link_cannot_copy_outside_files_in(tmp_path):
    out = tmp_path / "a" / "b" / "c" / "ROOT" / "NAME"
    out.parent.parent.parent.mkdir(parents=True)
    (tmp_path / "a" / "secret.txt").write_text("outside secret")  # three levels above NAME
    archive = _tar(
        tmp_path / "steal.tar",
        [
            *[_info(n, tarfile.SYMTYPE, "..") for n in CHAIN],
            _info("stolen.txt", tarfile.LNKTYPE, "sub/up/up2/up3/secret.txt"),
        ],
        "w",
    )
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        extract(archive, out)
    assert _nothing_written(out)
    # without the links the hard link alone names no file of the archive: refused as well
    archive = _tar(
        tmp_path / "steal2.tar",
        [("ok.txt", b"1"), _info("stolen.txt", tarfile.LNKTYPE, "secret.txt")],
        "w",
    )
    (out / "secret.txt").parent.mkdir(parents=True, exist_ok=True)
    (out / "secret.txt").write_text("a file already on disk, not in the archive")
    with pytest.raises(UnsafeArchiveError) as err:
        extract(archive, out)
    assert "hard link 'stolen.txt'" in str(err.value) and str(archive) in str(err.value)
    assert not (out / "stolen.txt").exists() and not (out / "ok.txt").exists()


@pytest.mark.parametrize(
    "member",
    [
        ".climb-download.json",
        ".climb-extracted/own.zip.json",
        "sub/.CLIMB-download.json",
        "data.bin.climb-tmp",
        "own.zip",
    ],
)
def test_members_may_not_replace_climbs_own_files_or_the_archive(tmp_path, member):
    out = tmp_path / "NAME"
    out.mkdir()
    (out / ".climb-download.json").write_text('{"files": {}}')
    archive = _zip(out / "own.zip", {"ok.txt": b"1", member: b"forged"})
    before = archive.read_bytes()
    with pytest.raises(UnsafeArchiveError) as err:
        extract(archive, out)
    assert str(archive) in str(err.value) and repr(member) in str(err.value)
    assert (out / ".climb-download.json").read_text() == '{"files": {}}'
    assert archive.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [".climb-download.json", "own.zip"]


def test_links_already_on_disk_are_not_followed_out(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "NAME"
    out.mkdir()
    (out / "data").symlink_to(outside)  # e.g. planted by an older tool
    archive = _tar(tmp_path / "a.tar", [("data/x.txt", b"pwned")], "w")
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract(archive, out)
    assert list(outside.iterdir()) == []
    # a temp name left as a link is replaced, never written through
    (out / "data").unlink()
    (out / "data").mkdir()
    (out / "data" / "x.txt.climb-tmp").symlink_to(outside / "victim")
    assert extract(archive, out) == 1
    assert (out / "data" / "x.txt").read_bytes() == b"pwned"
    assert list(outside.iterdir()) == []


def test_download_of_chained_link_archive_is_refused(cli, server, overlay, tmp_path):
    """`climb download` with extract: true: a clear refusal, nothing outside ROOT/NAME."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in CHAIN:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "..")
        zf.writestr("sub/up/up2/up3/x.txt", b"pwned")
    server.add("/chain.zip", buf.getvalue())
    from tests.acquire.conftest import entry

    ov = overlay(
        entry("evil", [{"url": server.url + "/chain.zip", "path": "chain.zip", "extract": True}])
    )
    root = tmp_path / "deep" / "er" / "raw"
    with pytest.raises(UnsafeArchiveError) as err:
        cli(["download", "evil", "--root", str(root), "--catalog", str(ov)])
    assert "chain.zip" in str(err.value) and "'sub/up'" in str(err.value)
    ds = root / "evil"
    assert sorted(p.name for p in ds.iterdir()) == [".climb-download.json", "chain.zip"]
    assert [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and ds not in p.parents and p.suffix != ".yaml"
    ] == []
