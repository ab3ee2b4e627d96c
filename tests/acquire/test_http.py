"""The HTTP engine against a real local server: resume, retries, checksums, mirrors."""

from __future__ import annotations

import hashlib
import os

import pytest

from climb.acquire import ChecksumError, DownloadError
from climb.acquire.http import Fetcher, FetchJob

DATA = os.urandom(300_000)
SHA = hashlib.sha256(DATA).hexdigest()


def _job(tmp_path, urls, **kw) -> FetchJob:
    return FetchJob("toy", "data.bin", tmp_path / "toy" / "data.bin", urls, **kw)


def test_resume_after_connection_drop_uses_range(server, tmp_path):
    url = server.add("/data.bin", DATA)
    server.fault("/data.bin", ("drop", 100_000))
    fetcher = Fetcher(backoff=0.01)
    result = fetcher.fetch(_job(tmp_path, [url], sha256=SHA, size=len(DATA)))

    first, second = server.requests("/data.bin")
    assert first.range is None and first.body_bytes == 100_000
    # the bytes already on disk are not fetched again
    assert second.range == "bytes=100000-"
    assert second.status == 206 and second.body_bytes == len(DATA) - 100_000
    assert (tmp_path / "toy" / "data.bin").read_bytes() == DATA
    assert not (tmp_path / "toy" / "data.bin.part").exists()
    assert result.sha256 == SHA and result.transferred == len(DATA)


def test_existing_part_file_is_continued(server, tmp_path):
    url = server.add("/data.bin", DATA)
    part = tmp_path / "toy" / "data.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:123_456])
    result = Fetcher().fetch(_job(tmp_path, [url], sha256=SHA))
    (req,) = server.requests("/data.bin")
    assert req.range == "bytes=123456-" and req.body_bytes == len(DATA) - 123_456
    assert result.transferred == len(DATA) - 123_456
    assert (tmp_path / "toy" / "data.bin").read_bytes() == DATA


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    url = server.add("/data.bin", DATA)
    server.fault("/data.bin", ("drop", 50_000), "ignore-range")
    Fetcher(backoff=0.01).fetch(_job(tmp_path, [url], sha256=SHA))
    assert (tmp_path / "toy" / "data.bin").read_bytes() == DATA


def test_500_then_success(server, tmp_path):
    url = server.add("/data.bin", DATA)
    server.fault("/data.bin", "500", "500")
    delays: list[float] = []
    Fetcher(backoff=0.01, sleep=delays.append).fetch(_job(tmp_path, [url], sha256=SHA))
    assert [r.status for r in server.requests("/data.bin")] == [500, 500, 200]
    assert delays == [0.01, 0.02]  # exponential backoff
    assert (tmp_path / "toy" / "data.bin").read_bytes() == DATA


def test_persistent_500_gives_up_with_clear_error(server, tmp_path):
    url = server.add("/data.bin", DATA)
    server.fault("/data.bin", *["500"] * 10)
    with pytest.raises(DownloadError) as err:
        Fetcher(retries=2, backoff=0.0).fetch(_job(tmp_path, [url]))
    assert "toy/data.bin" in str(err.value) and "HTTP 500" in str(err.value)
    assert "gave up after 2 retries" in str(err.value)
    assert len(server.requests("/data.bin")) == 3
    assert not (tmp_path / "toy" / "data.bin").exists()


def test_checksum_mismatch_is_not_kept(server, tmp_path):
    url = server.add("/data.bin", DATA)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ChecksumError) as err:
        Fetcher().fetch(_job(tmp_path, [url], sha256=wrong))
    message = str(err.value)
    assert "toy/data.bin" in message and wrong in message and SHA in message
    assert "not kept" in message
    assert not (tmp_path / "toy" / "data.bin").exists()
    assert not (tmp_path / "toy" / "data.bin.part").exists()


def test_size_mismatch_is_not_kept(server, tmp_path):
    url = server.add("/data.bin", DATA)
    with pytest.raises(ChecksumError, match="expected 12"):
        Fetcher().fetch(_job(tmp_path, [url], size=12))
    assert not list((tmp_path / "toy").iterdir())


def test_corrupt_part_from_earlier_run_is_refetched_once(server, tmp_path):
    url = server.add("/data.bin", DATA)
    part = tmp_path / "toy" / "data.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 1000)  # not the first 1000 bytes of DATA
    Fetcher().fetch(_job(tmp_path, [url], sha256=SHA))
    ranges = [r.range for r in server.requests("/data.bin")]
    assert ranges == ["bytes=1000-", None]
    assert (tmp_path / "toy" / "data.bin").read_bytes() == DATA


@pytest.mark.parametrize("primary", ["missing", "broken", "corrupt"])
def test_mirror_fallback(server, tmp_path, primary):
    mirror = server.add("/mirror/data.bin", DATA)
    if primary == "missing":
        url = server.url + "/gone/data.bin"  # 404
    elif primary == "broken":
        url = server.add("/broken/data.bin", DATA)
        server.fault("/broken/data.bin", *["500"] * 10)
    else:
        url = server.add("/corrupt/data.bin", DATA[::-1])
    Fetcher(retries=1, backoff=0.0).fetch(_job(tmp_path, [url, mirror], sha256=SHA))
    assert (tmp_path / "toy" / "data.bin").read_bytes() == DATA
    assert server.requests("/mirror/data.bin")[-1].status == 200


def test_all_mirrors_failing_names_the_file(server, tmp_path):
    with pytest.raises(DownloadError) as err:
        Fetcher().fetch(_job(tmp_path, [server.url + "/a", server.url + "/b"]))
    assert "toy/data.bin: HTTP 404" in str(err.value) and "tried 2 sources" in str(err.value)


def test_files_are_fetched_in_parallel(server, overlay, tmp_path):
    from climb.acquire import download
    from tests.acquire.conftest import entry

    blobs = {f"/par/{i}.bin": os.urandom(40_000) for i in range(3)}
    for path, data in blobs.items():
        server.add(path, data, trickle=(4096, 0.02))  # ~0.2 s each
    ov = overlay(entry("par", [{"url": server.url + p, "path": p.rsplit("/", 1)[1]}
                               for p in blobs]))
    download("par", tmp_path / "raw", catalog=ov, workers=3, progress=False)
    reqs = [server.requests(p)[0] for p in blobs]
    first_end = min(r.ended for r in reqs)
    assert all(r.started < first_end for r in reqs)  # all three were in flight together
    for path, data in blobs.items():
        assert (tmp_path / "raw" / "par" / path.rsplit("/", 1)[1]).read_bytes() == data


def test_complete_part_is_finished_after_416(server, tmp_path):
    url = server.add("/data.bin", DATA)
    part = tmp_path / "toy" / "data.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA)  # killed after the last byte, before the rename
    result = Fetcher().fetch(_job(tmp_path, [url], sha256=SHA))
    assert [r.status for r in server.requests("/data.bin")] == [416]
    assert result.transferred == 0 and (tmp_path / "toy" / "data.bin").read_bytes() == DATA


def test_part_longer_than_remote_file_is_refetched(server, tmp_path):
    url = server.add("/data.bin", DATA)
    part = tmp_path / "toy" / "data.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA + b"stale tail of an older version")
    Fetcher().fetch(_job(tmp_path, [url]))  # no size or sha256 in the catalog
    assert [r.status for r in server.requests("/data.bin")] == [416, 200]
    assert (tmp_path / "toy" / "data.bin").read_bytes() == DATA
