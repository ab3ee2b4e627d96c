"""`climb download` / `climb verify` through the CLI with a catalog overlay (a local mirror)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

import numpy as np
import pytest
import wfdb

from climb.acquire import DownloadError, ManualStepsRequired, VerifyError, verify
from climb.acquire.lockfile import LOCKFILE
from climb.errors import CatalogError
from tests.acquire.conftest import entry


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("toy-1.0/labels.csv", "sample,label\na,0\nb,1\n")
        zf.writestr("toy-1.0/signals/a.txt", "1 2 3\n")
    return buf.getvalue()


@pytest.fixture()
def mirror(server, overlay):
    """A three-file dataset on the local 'hospital mirror' (one archive extracted in place)."""
    blob, arc = os.urandom(200_000), _archive()
    files = {"/m/blob.bin": blob, "/m/toy-1.0.zip": arc, "/m/README.txt": b"read me\n"}
    for path, data in files.items():
        server.add(path, data)
    sources = [
        {"url": server.url + "/m/blob.bin", "path": "raw/blob.bin", "sha256": _sha(blob),
         "size": len(blob)},
        {"url": server.url + "/m/toy-1.0.zip", "path": "toy-1.0.zip", "sha256": _sha(arc),
         "extract": True},
        {"url": server.url + "/m/README.txt", "path": "README.txt"},
    ]
    return overlay(entry("toy", sources)), files


def test_download_verify_and_rerun(cli, server, mirror, tmp_path):
    ov, files = mirror
    root = tmp_path / "raw"
    result = cli(["download", "toy", "--root", str(root), "--catalog", str(ov),
                  "--workers", "3"])
    assert result.exit_code == 0, result.output
    ds = root / "toy"
    assert (ds / "raw" / "blob.bin").read_bytes() == files["/m/blob.bin"]
    assert (ds / "toy-1.0" / "labels.csv").read_text().startswith("sample,label")
    lock = json.loads((ds / LOCKFILE).read_text())
    assert lock["files"]["raw/blob.bin"] == {**lock["files"]["raw/blob.bin"],
                                             "size": 200_000,
                                             "sha256": _sha(files["/m/blob.bin"])}
    assert lock["files"]["README.txt"]["sha256"] == _sha(b"read me\n")
    assert lock["extracted"]["toy-1.0.zip"]["members"] == 2
    assert not list(ds.rglob("*.part"))

    n = len(server.log)
    again = cli(["download", "toy", "--root", str(root), "--catalog", str(ov)])
    assert again.exit_code == 0 and len(server.log) == n  # nothing transferred
    assert "3 skipped" in again.output and "0.0 MB transferred" in again.output

    ok = cli(["verify", "toy", "--root", str(root), "--catalog", str(ov)])
    assert ok.exit_code == 0 and "3 file(s) verified" in ok.output

    data = bytearray((ds / "raw" / "blob.bin").read_bytes())
    data[1000] ^= 0xFF
    (ds / "raw" / "blob.bin").write_bytes(bytes(data))
    with pytest.raises(VerifyError) as err:
        cli(["verify", "toy", "--root", str(root), "--catalog", str(ov)])
    assert "raw/blob.bin: sha256" in str(err.value)
    (ds / "README.txt").unlink()
    with pytest.raises(VerifyError, match=r"README\.txt: missing"):
        verify("toy", root, catalog=ov)


def test_dry_run_prints_plan_and_missing_access(cli, server, overlay, tmp_path):
    url = server.add("/p/files/x/1.0/a.dat", b"x" * 10)
    ov = overlay(entry("cred", [{"url": url, "path": "a.dat", "size": 2_500_000,
                                 "auth": "physionet"}], tier="credentialed"))
    result = cli(["download", "cred", "--root", str(tmp_path / "r"), "--dry-run",
                  "--catalog", str(ov)])
    assert result.exit_code == 0
    assert "a.dat" in result.output and "2.5 MB" in result.output
    assert "PhysioNet credentials not set" in result.output
    assert not server.log and not (tmp_path / "r").exists()


MANUAL_LABELS = b"patient,label\nP1,0\n"


def _manual_overlay(overlay):
    return overlay(entry(
        "tciatoy",
        [{"url": "https://nbia.cancerimagingarchive.net/", "path": "manifest/",
          "auth": "manual",
          "instructions": "Open the .tcia manifest with the NBIA Data Retriever and save "
                          "into manifest/"},
         {"url": "https://example.org/request", "path": "labels.csv", "auth": "manual",
          "sha256": _sha(MANUAL_LABELS)}],
        tier="registration",
        access={"tier": "registration", "gate": "TCIA account and data usage policy",
                "steps": ["Create a TCIA account", "Accept the data usage policy"],
                "url": "https://www.cancerimagingarchive.net/collection/toy/"}))


def test_manual_source_prints_steps_then_verifies(cli, overlay, tmp_path):
    ov = _manual_overlay(overlay)
    root = tmp_path / "raw"
    with pytest.raises(ManualStepsRequired, match="tciatoy"):
        cli(["download", "tciatoy", "--root", str(root), "--catalog", str(ov)])
    dry = cli(["download", "tciatoy", "--root", str(root), "--catalog", str(ov), "--dry-run"])
    for text in ("1. Create a TCIA account", "2. Accept the data usage policy",
                 "NBIA Data Retriever", "manifest/  [directory]", "labels.csv  [file]",
                 "climb verify tciatoy"):
        assert text in dry.output
    with pytest.raises(VerifyError, match="missing"):
        verify("tciatoy", root, catalog=ov)
    # the user places the copy by hand
    (root / "tciatoy" / "manifest" / "1.2.3").mkdir(parents=True)
    (root / "tciatoy" / "manifest" / "1.2.3" / "1-1.dcm").write_bytes(b"DICM")
    (root / "tciatoy" / "labels.csv").write_bytes(MANUAL_LABELS)
    assert cli(["verify", "tciatoy", "--root", str(root), "--catalog", str(ov)]).exit_code == 0
    # a wrong copy is caught
    (root / "tciatoy" / "labels.csv").write_bytes(b"patient,label\nP1,1\n")
    with pytest.raises(VerifyError, match=r"labels\.csv: sha256"):
        verify("tciatoy", root, catalog=ov)


@pytest.fixture()
def physionet_like(server, overlay, tmp_path):
    """A PhysioNet-style project served file by file: RECORDS + WFDB records + a table."""
    src = tmp_path / "project"
    records = ["records100/00000/00001_lr", "records100/00000/00002_lr",
               "records100/00000/00003_lr"]
    rng = np.random.default_rng(0)
    for rec in records:
        out = src / rec.rsplit("/", 1)[0]
        out.mkdir(parents=True, exist_ok=True)
        wfdb.wrsamp(rec.rsplit("/", 1)[1], fs=100, units=["mV", "mV"], sig_name=["I", "II"],
                    p_signal=rng.normal(size=(1000, 2)), fmt=["16", "16"], write_dir=str(out))
    (src / "RECORDS").write_text("\n".join(records) + "\n")
    (src / "ptbxl_database.csv").write_text("ecg_id,patient_id\n1,11\n2,12\n3,13\n")
    base = "/files/toyecg/1.0.3/"
    for path in src.rglob("*"):
        if path.is_file():
            server.add(base + path.relative_to(src).as_posix(), path.read_bytes())
    ov = overlay(entry("toyecg", [{
        "url": server.url + "/static/toyecg-1.0.3.zip", "path": "toyecg-1.0.3.zip",
        "extract": True, "auth": "physionet", "records": "RECORDS",
        "records_base": server.url + base, "subset_extras": ["ptbxl_database.csv"]}]))
    return ov, base


def test_subset_download(cli, server, physionet_like, tmp_path):
    ov, base = physionet_like
    subset = tmp_path / "subset.txt"
    subset.write_text("# two of the three records\nrecords100/00000/00001_lr\n00003_lr\n")
    root = tmp_path / "raw"
    result = cli(["download", "toyecg", "--root", str(root), "--subset", str(subset),
                  "--catalog", str(ov)])
    assert result.exit_code == 0, result.output
    ds = root / "toyecg"
    for name in ("00001_lr", "00003_lr"):
        record = wfdb.rdrecord(str(ds / "records100" / "00000" / name))
        assert record.p_signal.shape == (1000, 2) and record.fs == 100
    assert not (ds / "records100" / "00000" / "00002_lr.hea").exists()
    assert (ds / "ptbxl_database.csv").is_file() and (ds / "RECORDS").is_file()
    assert not server.requests("/static/toyecg-1.0.3.zip")  # the archive is not fetched
    assert not server.requests(base + "records100/00000/00002_lr.dat")
    lock = json.loads((ds / LOCKFILE).read_text())
    assert lock["mode"] == "subset" and len(lock["files"]) == 6  # RECORDS, csv, 2 x (hea, dat)
    assert cli(["verify", "toyecg", "--root", str(root), "--catalog", str(ov)]).exit_code == 0

    n = len(server.log)
    cli(["download", "toyecg", "--root", str(root), "--subset", str(subset), "--catalog",
         str(ov)])
    assert len(server.log) == n  # listing and records already in place


def test_subset_entry_matching_nothing_is_an_error(cli, physionet_like, tmp_path):
    ov, _ = physionet_like
    subset = tmp_path / "subset.txt"
    subset.write_text("00001_lr\n99999_lr\n")
    with pytest.raises(CatalogError, match="99999_lr"):
        cli(["download", "toyecg", "--root", str(tmp_path / "raw"), "--subset", str(subset),
             "--catalog", str(ov)])


def test_subset_needs_a_listing(cli, mirror, tmp_path):
    ov, _ = mirror
    subset = tmp_path / "subset.txt"
    subset.write_text("a\n")
    with pytest.raises(CatalogError, match="--subset cannot apply"):
        cli(["download", "toy", "--root", str(tmp_path / "raw"), "--subset", str(subset),
             "--catalog", str(ov)])


def test_one_failed_file_keeps_the_others(cli, server, overlay, tmp_path):
    good = server.add("/g/good.bin", b"good" * 1000)
    ov = overlay(entry("half", [{"url": good, "path": "good.bin"},
                                {"url": server.url + "/g/missing.bin", "path": "missing.bin"}]))
    with pytest.raises(DownloadError) as err:
        cli(["download", "half", "--root", str(tmp_path / "raw"), "--catalog", str(ov)])
    assert "1 of 2 file(s) failed" in str(err.value)
    assert "half/missing.bin: HTTP 404" in str(err.value)
    assert (tmp_path / "raw" / "half" / "good.bin").read_bytes() == b"good" * 1000


def test_subset_dry_run_lists_record_files_and_writes_nothing(cli, server, physionet_like,
                                                              tmp_path):
    ov, base = physionet_like
    subset = tmp_path / "subset.txt"
    subset.write_text("00002_lr\n")
    root = tmp_path / "raw"
    result = cli(["download", "toyecg", "--root", str(root), "--subset", str(subset),
                  "--catalog", str(ov), "--dry-run"])
    assert result.exit_code == 0
    for rel in ("ptbxl_database.csv", "records100/00000/00002_lr.hea",
                "records100/00000/00002_lr.dat"):
        assert rel in result.output
    assert "00001_lr" not in result.output and "(subset)" in result.output
    assert [r.path for r in server.log] == [base + "RECORDS"]  # only the listing, in memory
    assert not root.exists()
