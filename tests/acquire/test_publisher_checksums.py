"""Downloads verified against the publisher's checksums (SHA256SUMS.txt, Zenodo, Figshare).

The local server plays PhysioNet (a project tree with its SHA256SUMS.txt), the Zenodo record
API and the Figshare article files API; overlays point catalog sources at it.
"""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
import wfdb
from rich.console import Console

from climb.acquire import ChecksumError, DownloadError, VerifyError, download, verify
from climb.acquire.lockfile import LOCKFILE
from climb.acquire.publisher import ENV_FIGSHARE_API, ENV_ZENODO_API
from tests.acquire.conftest import entry

BASE = "/files/toyecg/1.0.0/"
RECORDS = ["records100/00000/00001_lr", "records100/00000/00002_lr"]


def _sums(files: dict[str, bytes]) -> bytes:
    """A SHA256SUMS.txt as PhysioNet (and sha256sum) write it: ``<hex>  <path>``."""
    return "".join(f"{hashlib.sha256(d).hexdigest()}  {p}\n" for p, d in files.items()).encode()


def _project(tmp_path) -> dict[str, bytes]:
    """A small PhysioNet-style project: RECORDS, two WFDB records, a table."""
    src = tmp_path / "project"
    rng = np.random.default_rng(1)
    for rec in RECORDS:
        out = src / rec.rsplit("/", 1)[0]
        out.mkdir(parents=True, exist_ok=True)
        wfdb.wrsamp(
            rec.rsplit("/", 1)[1],
            fs=100,
            units=["mV"],
            sig_name=["I"],
            p_signal=rng.normal(size=(500, 1)),
            fmt=["16"],
            write_dir=str(out),
        )
    (src / "RECORDS").write_text("\n".join(RECORDS) + "\n")
    (src / "ptbxl_database.csv").write_text("ecg_id,patient_id\n1,11\n2,12\n")
    return {
        p.relative_to(src).as_posix(): p.read_bytes() for p in sorted(src.rglob("*")) if p.is_file()
    }


@pytest.fixture()
def project(server, tmp_path):
    """The project served under BASE with its SHA256SUMS.txt; returns (files, sums URL)."""
    files = _project(tmp_path)
    for rel, data in files.items():
        server.add(BASE + rel, data)
    sums = server.add(BASE + "SHA256SUMS.txt", _sums(files), content_type="text/plain")
    return files, sums


def _tamper(server, path: str) -> bytes:
    """Serve different bytes of the same length at `path` (a swapped file, not a truncation)."""
    good = server.files[path].data
    bad = bytes([good[0] ^ 0xFF]) + good[1:]
    server.files[path].data = bad
    return bad


def _lock(root, name: str) -> dict:
    return json.loads((root / name / LOCKFILE).read_text())


# -- PhysioNet-style SHA256SUMS.txt -----------------------------------------------------------
def test_file_source_verified_against_sha256sums(server, project, overlay, tmp_path):
    files, sums = project
    ov = overlay(
        entry(
            "toyecg",
            [
                {
                    "url": server.url + BASE + "ptbxl_database.csv",
                    "path": "ptbxl_database.csv",
                    "checksums": sums,
                }
            ],
        )
    )
    root = tmp_path / "raw"
    download("toyecg", root, catalog=ov, progress=False)
    rec = _lock(root, "toyecg")["files"]["ptbxl_database.csv"]
    want = hashlib.sha256(files["ptbxl_database.csv"]).hexdigest()
    assert rec["sha256"] == want
    assert rec["publisher"]["algo"] == "sha256" and rec["publisher"]["digest"] == want
    assert rec["publisher"]["from"].startswith("SHA256SUMS.txt")
    rows = verify("toyecg", root, catalog=ov)
    assert [r.status for r in rows] == ["ok"] and "matches SHA256SUMS.txt" in rows[0].detail


def test_tampered_file_is_refused_and_not_kept(server, project, overlay, tmp_path):
    _, sums = project
    _tamper(server, BASE + "ptbxl_database.csv")
    ov = overlay(
        entry(
            "toyecg",
            [
                {
                    "url": server.url + BASE + "ptbxl_database.csv",
                    "path": "ptbxl_database.csv",
                    "checksums": sums,
                }
            ],
        )
    )
    root = tmp_path / "raw"
    with pytest.raises(ChecksumError) as err:
        download("toyecg", root, catalog=ov, progress=False)
    message = str(err.value)
    assert "toyecg/ptbxl_database.csv: sha256" in message and "expected" in message
    assert "not kept" in message and "SHA256SUMS.txt" in message
    ds = root / "toyecg"
    assert not (ds / "ptbxl_database.csv").exists()
    assert not (ds / "ptbxl_database.csv.part").exists()


def test_subset_download_is_verified_record_by_record(server, project, overlay, tmp_path):
    _, sums = project
    ov = overlay(
        entry(
            "toyecg",
            [
                {
                    "url": server.url + "/static/toyecg-1.0.0.zip",
                    "path": "toyecg-1.0.0.zip",
                    "extract": True,
                    "records": "RECORDS",
                    "records_base": server.url + BASE,
                    "subset_extras": ["ptbxl_database.csv"],
                    "checksums": sums,
                }
            ],
        )
    )
    subset = tmp_path / "subset.txt"
    subset.write_text("00002_lr\n")
    root = tmp_path / "raw"
    download("toyecg", root, catalog=ov, subset=subset, progress=False)
    lock = _lock(root, "toyecg")["files"]
    for rel in ("RECORDS", "ptbxl_database.csv", RECORDS[1] + ".hea", RECORDS[1] + ".dat"):
        assert lock[rel]["publisher"]["digest"] == lock[rel]["sha256"], rel
    assert wfdb.rdrecord(str(root / "toyecg" / RECORDS[1])).p_signal.shape == (500, 1)

    # a record file swapped on the server is refused, the others of the subset are kept
    _tamper(server, BASE + RECORDS[0] + ".dat")
    subset.write_text("00001_lr\n")
    with pytest.raises(ChecksumError, match=r"00001_lr\.dat: sha256 .* SHA256SUMS\.txt"):
        download("toyecg", root, catalog=ov, subset=subset, progress=False)
    assert not (root / "toyecg" / (RECORDS[0] + ".dat")).exists()
    assert (root / "toyecg" / (RECORDS[0] + ".hea")).is_file()


def test_directory_source_listed_and_verified_by_sha256sums(server, project, overlay, tmp_path):
    files, sums = project
    ov = overlay(
        entry("toydir", [{"url": server.url + BASE, "path": "toyecg-1.0.0/", "checksums": sums}])
    )
    root = tmp_path / "raw"
    out = io.StringIO()
    download("toydir", root, catalog=ov, dry_run=True, console=Console(file=out, width=200))
    plan = out.getvalue()
    assert "publisher-verified: 6 of 6 file(s) (SHA256SUMS.txt" in plan
    assert "toyecg-1.0.0/records100/00000/00002_lr.dat" in plan
    report = download("toydir", root, catalog=ov, progress=False)
    assert report.count("fetched") == len(files)
    lock = _lock(root, "toydir")["files"]
    assert sorted(lock) == sorted(f"toyecg-1.0.0/{rel}" for rel in files)
    assert all(rec["publisher"]["digest"] == rec["sha256"] for rec in lock.values())


def test_verify_catches_a_file_changed_afterwards(server, project, overlay, tmp_path):
    _, sums = project
    ov = overlay(
        entry("toydir", [{"url": server.url + BASE, "path": "toyecg-1.0.0/", "checksums": sums}])
    )
    root = tmp_path / "raw"
    download("toydir", root, catalog=ov, progress=False)
    changed = root / "toydir" / "toyecg-1.0.0" / "ptbxl_database.csv"
    changed.write_text("ecg_id,patient_id\n1,11\n2,99\n")  # same length, other content
    with pytest.raises(VerifyError, match=r"ptbxl_database\.csv: sha256: sha256 [0-9a-f]{64}"):
        verify("toydir", root, catalog=ov)


def test_declared_listing_missing_stops_the_download(server, project, overlay, tmp_path):
    ov = overlay(
        entry(
            "toyecg",
            [
                {
                    "url": server.url + BASE + "ptbxl_database.csv",
                    "path": "ptbxl_database.csv",
                    "checksums": server.url + BASE + "MD5SUMS",
                }
            ],
        )
    )
    root = tmp_path / "raw"
    with pytest.raises(DownloadError, match="HTTP 404 fetching the publisher checksums"):
        download("toyecg", root, catalog=ov, progress=False)
    assert not server.requests(BASE + "ptbxl_database.csv")
    out = io.StringIO()
    download("toyecg", root, catalog=ov, dry_run=True, console=Console(file=out, width=200))
    assert "not publisher-verified" in out.getvalue()


def test_catalog_sha256_that_contradicts_the_publisher_is_refused(
    server, project, overlay, tmp_path
):
    _, sums = project
    ov = overlay(
        entry(
            "toyecg",
            [
                {
                    "url": server.url + BASE + "ptbxl_database.csv",
                    "path": "ptbxl_database.csv",
                    "sha256": "0" * 64,
                    "checksums": sums,
                }
            ],
        )
    )
    with pytest.raises(ChecksumError, match="differs from the publisher's"):
        download("toyecg", tmp_path / "raw", catalog=ov, progress=False)
    assert not server.requests(BASE + "ptbxl_database.csv")


# -- Zenodo / Figshare (md5 from the record API) -----------------------------------------------
@pytest.fixture()
def zenodo(server, overlay, monkeypatch):
    """A Zenodo record (id 2546921) with two files, its API at SERVER/api."""
    monkeypatch.setenv(ENV_ZENODO_API, server.url + "/api")
    data = {
        "train_x.h5.gz": np.random.default_rng(2).bytes(30_000),
        "train_y.h5.gz": np.random.default_rng(3).bytes(1_000),
    }
    record = {
        "id": 2546921,
        "files": [
            {
                "key": k,
                "size": len(v),
                "checksum": "md5:" + hashlib.md5(v).hexdigest(),
                "links": {"self": f"{server.url}/api/records/2546921/files/{k}/content"},
            }
            for k, v in data.items()
        ],
    }
    server.add("/api/records/2546921", json.dumps(record).encode(), content_type="application/json")
    for key, blob in data.items():
        server.add(f"/records/2546921/files/{key}", blob)
    ov = overlay(
        entry(
            "pcamtoy",
            [
                {
                    "url": f"{server.url}/records/2546921/files/{k}?download=1",
                    "path": k,
                    "checksums": "zenodo:2546921",
                }
                for k in data
            ],
        )
    )
    return ov, data


def test_zenodo_md5_verifies_and_sizes_show_in_dry_run(server, zenodo, tmp_path):
    ov, data = zenodo
    root = tmp_path / "raw"
    out = io.StringIO()
    download("pcamtoy", root, catalog=ov, dry_run=True, console=Console(file=out, width=200))
    plan = out.getvalue()
    assert "30.0 KB" in plan and "1.0 KB" in plan and " ? " not in plan
    assert "publisher-verified: 2 of 2 file(s) (Zenodo record 2546921)" in plan
    download("pcamtoy", root, catalog=ov, progress=False)
    rec = _lock(root, "pcamtoy")["files"]["train_x.h5.gz"]
    assert rec["publisher"] == {
        "algo": "md5",
        "from": "Zenodo record 2546921",
        "digest": hashlib.md5(data["train_x.h5.gz"]).hexdigest(),
    }
    assert [r.status for r in verify("pcamtoy", root, catalog=ov)] == ["ok", "ok"]


def test_zenodo_md5_mismatch_is_refused(server, zenodo, tmp_path):
    ov, _ = zenodo
    _tamper(server, "/records/2546921/files/train_y.h5.gz")
    root = tmp_path / "raw"
    with pytest.raises(
        ChecksumError,
        match=r"train_y\.h5\.gz: md5 [0-9a-f]{32}, expected "
        r"[0-9a-f]{32}.*Zenodo record 2546921",
    ):
        download("pcamtoy", root, catalog=ov, progress=False)
    assert not (root / "pcamtoy" / "train_y.h5.gz").exists()
    assert (root / "pcamtoy" / "train_x.h5.gz").is_file()


def test_verify_rechecks_the_publisher_md5(server, zenodo, tmp_path):
    """Even with the lockfile's own sha256 rewritten, the publisher's md5 catches a change."""
    ov, _ = zenodo
    root = tmp_path / "raw"
    download("pcamtoy", root, catalog=ov, progress=False)
    path = root / "pcamtoy" / "train_y.h5.gz"
    path.write_bytes(b"\0" * path.stat().st_size)
    lock_path = root / "pcamtoy" / LOCKFILE
    lock = json.loads(lock_path.read_text())
    lock["files"]["train_y.h5.gz"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    lock_path.write_text(json.dumps(lock))
    with pytest.raises(VerifyError, match=r"train_y\.h5\.gz: md5: .* per Zenodo record"):
        verify("pcamtoy", root, catalog=ov)


def test_figshare_md5_verifies_and_refuses(server, overlay, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_FIGSHARE_API, server.url + "/v2")
    good, other = b"grade,image\n0,a.jpg\n" * 50, b"image bytes" * 100
    files = [
        {
            "id": 901,
            "name": "list.csv",
            "size": len(good),
            "computed_md5": hashlib.md5(good).hexdigest(),
            "supplied_md5": "",
            "download_url": server.url + "/ndownloader/files/901",
        },
        {
            "id": 902,
            "name": "images.zip",
            "size": len(other),
            "computed_md5": hashlib.md5(b"something else").hexdigest(),
            "download_url": server.url + "/ndownloader/files/902",
        },
    ]
    server.add(
        "/v2/articles/4879853/files", json.dumps(files).encode(), content_type="application/json"
    )
    server.add("/ndownloader/files/901", good)
    server.add("/ndownloader/files/902", other)
    ov = overlay(
        entry(
            "figtoy",
            [
                {
                    "url": server.url + "/ndownloader/files/901",
                    "path": "list.csv",
                    "checksums": "figshare:4879853",
                },
                {
                    "url": server.url + "/ndownloader/files/902",
                    "path": "images.zip",
                    "checksums": "figshare:4879853",
                },
            ],
        )
    )
    root = tmp_path / "raw"
    with pytest.raises(ChecksumError, match=r"images\.zip: md5 .*Figshare article 4879853"):
        download("figtoy", root, catalog=ov, progress=False)
    assert (root / "figtoy" / "list.csv").read_bytes() == good
    assert not (root / "figtoy" / "images.zip").exists()
    assert _lock(root, "figtoy")["files"]["list.csv"]["publisher"]["algo"] == "md5"
    # the listing was fetched once for both files, with Figshare's paging parameters
    listing_requests = server.requests("/v2/articles/4879853/files")
    assert len(listing_requests) == 1


# -- which listing covers a source ------------------------------------------------------------
def test_listings_derived_for_the_real_catalog():
    from climb.acquire import publisher
    from climb.catalog import load_catalog

    cat = load_catalog()
    cxr = {s.path: s for s in cat.get("mimic_cxr").sources}
    cs = publisher.for_file(cxr["files/"])
    assert cs.url == "https://physionet.org/files/mimic-cxr-jpg/2.1.0/SHA256SUMS.txt"
    assert cs.derived and cs.label == "PhysioNet SHA256SUMS.txt"
    pcam = cat.get("pcam").sources[0]
    assert publisher.for_file(pcam).url == "https://zenodo.org/api/records/2546921"
    assert publisher.describe(pcam).startswith("publisher-verified: Zenodo record 2546921")
    ptbxl = cat.get("ptbxl").sources[0]  # the static zip is not in SHA256SUMS.txt
    assert publisher.for_file(ptbxl) is None
    assert (
        publisher.for_records(ptbxl).url
        == "https://physionet.org/files/ptb-xl/1.0.3/SHA256SUMS.txt"
    )
    assert "--subset records publisher-verified" in publisher.describe(ptbxl)
    vindr = cat.get("vindr_mammo").sources[0]  # a directory listed by its SHA256SUMS.txt
    assert (
        publisher.for_file(vindr).url
        == "https://physionet.org/files/vindr-mammo/1.0.0/SHA256SUMS.txt"
    )
    hugadb = cat.get("hugadb").sources[0]
    assert publisher.for_file(hugadb) is None
    assert "trust on first use" in publisher.describe(hugadb)


def test_checksums_field_is_validated_and_none_turns_derivation_off():
    from climb.acquire import publisher
    from climb.catalog.schema import Source

    url = "https://physionet.org/files/ptb-xl/1.0.3/RECORDS"
    assert publisher.for_file(Source(url=url, path="RECORDS", checksums="none")) is None
    own = publisher.for_file(
        Source(url=url, path="RECORDS", checksums="https://mirror.example/ptb-xl/MD5SUMS")
    )
    assert own.kind == "sums" and not own.derived
    for bad in ("zenodo:abc", "sha256sums.txt", "figshare:", "ftp://x/y"):
        with pytest.raises(ValueError, match="checksums must be"):
            Source(url=url, path="RECORDS", checksums=bad)


def test_checksum_file_formats():
    from climb.acquire.publisher import ChecksumSource, parse_sums

    cs = ChecksumSource("sums", "https://h.example/p/1.0/SHA256SUMS.txt", "sums", False)
    md5 = hashlib.md5(b"x").hexdigest()
    sha = hashlib.sha256(b"y").hexdigest()
    listing = parse_sums(f"{sha}  records/a b.dat\n{md5} *./b.bin\nnot a line\n", cs)
    assert listing.find("https://h.example/p/1.0/records/a%20b.dat", "x").digest == sha
    assert listing.find("https://h.example/p/1.0/b.bin", "b.bin").algo == "md5"
    assert listing.find("https://other.example/p/1.0/b.bin", "b.bin") is None
    assert listing.keys_under("https://h.example/p/1.0/records/") == ["records/a b.dat"]


def test_directory_listing_with_an_escaping_path_is_refused(server, project, overlay, tmp_path):
    files, _ = project
    evil = _sums(files) + f"{hashlib.sha256(b'x').hexdigest()}  ../../outside.txt\n".encode()
    sums = server.add(BASE + "SHA256SUMS.txt", evil, content_type="text/plain")
    ov = overlay(entry("toydir", [{"url": server.url + BASE, "path": "d/", "checksums": sums}]))
    with pytest.raises(DownloadError, match=r"unsafe record path '\.\./\.\./outside\.txt'"):
        download("toydir", tmp_path / "raw", catalog=ov, progress=False)
    assert not (tmp_path / "outside.txt").exists()
    assert not server.requests(BASE + "ptbxl_database.csv")
