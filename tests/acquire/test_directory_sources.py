"""Directory sources (PhysioNet files/PROJECT/VERSION/ trees) expand through their listing."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from climb.acquire import download
from climb.acquire.lockfile import LOCKFILE
from climb.acquire.plan import base_local, record_files, records_base
from climb.catalog.schema import Source
from tests.acquire.conftest import entry

IMAGES = [
    "files/p10/p10000032/s50414267/02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg",
    "files/p10/p10000032/s53189527/2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab.jpg",
    "files/p10/p10000764/s57375967/096052b7-d256dc40-453a102b-fa7d01c6-1b22c6b4.jpg",
]


def test_physionet_directory_mapping():
    cxr = Source(url="https://physionet.org/files/mimic-cxr-jpg/2.1.0/files/", path="files/",
                 auth="physionet", records="IMAGE_FILENAMES")
    base = records_base(cxr)
    assert base == "https://physionet.org/files/mimic-cxr-jpg/2.1.0/"
    assert base_local(cxr, base) == ""
    assert record_files(cxr, IMAGES[0]) == [IMAGES[0]]
    ecg = Source(url="https://physionet.org/files/mimic-iv-ecg/1.0/", path="mimic-iv-ecg/1.0/",
                 auth="physionet", records="RECORDS")
    assert base_local(ecg, records_base(ecg)) == "mimic-iv-ecg/1.0/"
    rec = "files/p1000/p10000032/s40689238/40689238"
    assert record_files(ecg, rec) == [rec + ".hea", rec + ".dat"]


def _jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, size=(64, 64), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture()
def cxr_like(server, overlay, monkeypatch):
    base = "/files/mimic-cxr-jpg/2.1.0/"
    auth = ("alice", "pw-cxr-secret")
    for i, rel in enumerate(IMAGES):
        server.add(base + rel, _jpeg(i), auth=auth, content_type="image/jpeg")
    server.add(base + "IMAGE_FILENAMES", ("\n".join(IMAGES) + "\n").encode(), auth=auth)
    monkeypatch.setenv("PHYSIONET_USERNAME", auth[0])
    monkeypatch.setenv("PHYSIONET_PASSWORD", auth[1])
    return overlay(entry("cxrtoy", [{
        "url": server.url + base + "files/", "path": "files/", "auth": "physionet",
        "records": "IMAGE_FILENAMES", "records_base": server.url + base}], tier="credentialed"))


def test_directory_source_downloads_every_listed_file(server, cxr_like, tmp_path):
    root = tmp_path / "raw"
    report = download("cxrtoy", root, catalog=cxr_like, progress=False)
    assert report.count("fetched") == 4  # listing + 3 images
    for rel in IMAGES:
        with Image.open(root / "cxrtoy" / rel) as img:
            assert img.size == (64, 64)
    assert (root / "cxrtoy" / "IMAGE_FILENAMES").is_file()
    assert json.loads((root / "cxrtoy" / LOCKFILE).read_text())["mode"] == "full"


def test_directory_source_subset_by_patient(server, cxr_like, tmp_path):
    subset = tmp_path / "patients.txt"
    subset.write_text("files/p10/p10000764\n")
    root = tmp_path / "raw"
    download("cxrtoy", root, catalog=cxr_like, subset=subset, progress=False)
    assert (root / "cxrtoy" / IMAGES[2]).is_file()
    assert not (root / "cxrtoy" / IMAGES[0]).exists()
    assert not server.requests("/files/mimic-cxr-jpg/2.1.0/" + IMAGES[0])
