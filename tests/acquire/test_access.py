"""Credentialed sources: PhysioNet basic auth, Kaggle REST API, login pages, no leaked secrets."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import subprocess
import sys
import zipfile

import pytest
from rich.console import Console

from climb.acquire import AccessError, DownloadError, download, physionet
from climb.acquire import kaggle as kaggle_mod
from tests.acquire.conftest import entry

PASSWORD = "pw-Zq81-very-secret"
KAGGLE_KEY = "kk-0f9e8d7c6b5a-secret"
SIGNATURE = "sig-GOOG-TOKEN-4242"
DATA = os.urandom(50_000)


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=200), buf


def _physionet_overlay(server, overlay, auth=("alice", PASSWORD), **served):
    url = server.add("/files/mimic-toy/1.0/data.bin", DATA, auth=auth, **served)
    return overlay(entry("mimictoy", [{"url": url, "path": "data.bin", "auth": "physionet"}],
                         tier="credentialed"))


def test_physionet_without_credentials_names_page_and_steps(server, overlay, tmp_path):
    ov = _physionet_overlay(server, overlay)
    console, _ = _console()
    with pytest.raises(DownloadError) as err:
        download("mimictoy", tmp_path / "raw", catalog=ov, console=console, progress=False)
    message = str(err.value)
    assert "mimictoy/data.bin" in message and "HTTP 401" in message
    assert "credentials are not set" in message
    assert "https://example.org/project" in message  # the project page (access.url)
    assert "CITI" in message and "data use agreement" in message and "credentialing" in message
    assert server.requests("/files/mimic-toy/1.0/data.bin")[0].authorization is None
    assert not (tmp_path / "raw" / "mimictoy" / "data.bin").exists()


def test_physionet_wrong_credentials(server, overlay, tmp_path, monkeypatch):
    ov = _physionet_overlay(server, overlay)
    monkeypatch.setenv("PHYSIONET_USERNAME", "alice")
    monkeypatch.setenv("PHYSIONET_PASSWORD", "wrong-" + PASSWORD)
    console, buf = _console()
    with pytest.raises(DownloadError) as err:
        download("mimictoy", tmp_path / "raw", catalog=ov, console=console, progress=False)
    assert "HTTP 401" in str(err.value) and "refused" in str(err.value)
    assert PASSWORD not in str(err.value) + buf.getvalue()


def test_physionet_403_for_uncredentialed_account(server, overlay, tmp_path, monkeypatch):
    ov = _physionet_overlay(server, overlay, auth=None, status=403)
    monkeypatch.setenv("PHYSIONET_USERNAME", "alice")
    monkeypatch.setenv("PHYSIONET_PASSWORD", PASSWORD)
    with pytest.raises(AccessError, match=r"HTTP 403.*not credentialed"):
        download("mimictoy", tmp_path / "raw", catalog=ov, progress=False,
                 console=_console()[0])


def test_physionet_env_credentials(server, overlay, tmp_path, monkeypatch):
    ov = _physionet_overlay(server, overlay)
    monkeypatch.setenv("PHYSIONET_USERNAME", "alice")
    monkeypatch.setenv("PHYSIONET_PASSWORD", PASSWORD)
    download("mimictoy", tmp_path / "raw", catalog=ov, progress=False, console=_console()[0])
    assert (tmp_path / "raw" / "mimictoy" / "data.bin").read_bytes() == DATA


def test_physionet_netrc_credentials(server, overlay, tmp_path, _isolated_env):
    ov = _physionet_overlay(server, overlay)
    netrc = _isolated_env / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {PASSWORD}\n")
    netrc.chmod(0o600)
    download("mimictoy", tmp_path / "raw", catalog=ov, progress=False, console=_console()[0])
    assert (tmp_path / "raw" / "mimictoy" / "data.bin").read_bytes() == DATA


def test_world_readable_netrc_is_refused(server, overlay, tmp_path, _isolated_env):
    ov = _physionet_overlay(server, overlay)
    netrc = _isolated_env / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {PASSWORD}\n")
    netrc.chmod(0o644)
    with pytest.raises(AccessError) as err:
        download("mimictoy", tmp_path / "raw", catalog=ov, progress=False,
                 console=_console()[0])
    assert "chmod 600" in str(err.value) and PASSWORD not in str(err.value)


def test_200_html_login_page_is_an_access_error(server, overlay, tmp_path, monkeypatch):
    ov = _physionet_overlay(server, overlay, auth=None)
    server.fault("/files/mimic-toy/1.0/data.bin", "html")
    with pytest.raises(DownloadError) as err:
        download("mimictoy", tmp_path / "raw", catalog=ov, progress=False,
                 console=_console()[0])
    assert "HTML page" in str(err.value) and "data use agreement" in str(err.value)
    raw = tmp_path / "raw" / "mimictoy"
    assert not (raw / "data.bin").exists() and not (raw / "data.bin.part").exists()


def test_physionet_project_pages():
    static = ("https://physionet.org/static/published-projects/ptb-xl/ptb-xl-a-large-publicly-"
              "available-electrocardiography-dataset-1.0.3.zip")
    assert physionet.project_page(static) == "https://physionet.org/content/ptb-xl/1.0.3/"
    assert physionet.files_base(static) == "https://physionet.org/files/ptb-xl/1.0.3/"
    files = "https://physionet.org/files/mimic-cxr-jpg/2.1.0/IMAGE_FILENAMES"
    assert physionet.project_page(files) == "https://physionet.org/content/mimic-cxr-jpg/2.1.0/"
    assert physionet.project_page("https://example.org/files/x/1/") is None


def test_kaggle_urls(monkeypatch):
    assert kaggle_mod.api_url("kaggle://datasets/owner/slug") == \
        "https://www.kaggle.com/api/v1/datasets/download/owner/slug"
    assert kaggle_mod.api_url("kaggle://competitions/siim-isic-melanoma-classification") == (
        "https://www.kaggle.com/api/v1/competitions/data/download-all/"
        "siim-isic-melanoma-classification")
    assert kaggle_mod.api_url("kaggle://competitions/c/train.csv").endswith(
        "/competitions/data/download/c/train.csv")


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("train/labels.csv", "image,label\nISIC_0000000,0\n")
    return buf.getvalue()


def test_kaggle_competition_rules_not_accepted(server, overlay, tmp_path, monkeypatch):
    monkeypatch.setenv(kaggle_mod.ENV_API, server.url + "/api/v1")
    monkeypatch.setenv("KAGGLE_USERNAME", "bob")
    monkeypatch.setenv("KAGGLE_KEY", KAGGLE_KEY)
    server.add("/api/v1/competitions/data/download-all/melanoma-comp", status=403)
    ov = overlay(entry("kcomp", [{"url": "kaggle://competitions/melanoma-comp",
                                  "path": "melanoma-comp.zip", "extract": True,
                                  "auth": "kaggle"}], tier="registration"))
    with pytest.raises(AccessError) as err:
        download("kcomp", tmp_path / "raw", catalog=ov, progress=False, console=_console()[0])
    assert "https://www.kaggle.com/competitions/melanoma-comp/rules" in str(err.value)
    assert "Accept" in str(err.value) and KAGGLE_KEY not in str(err.value)


def test_kaggle_missing_credentials(server, overlay, tmp_path, monkeypatch):
    monkeypatch.setenv(kaggle_mod.ENV_API, server.url + "/api/v1")
    server.add("/api/v1/datasets/download/owner/slug", _zip_bytes(), auth=("bob", KAGGLE_KEY))
    ov = overlay(entry("kdata", [{"url": "kaggle://datasets/owner/slug", "path": "slug.zip",
                                  "auth": "kaggle"}]))
    console, buf = _console()
    download("kdata", tmp_path / "raw", catalog=ov, dry_run=True, console=console)
    assert "Kaggle credentials not set" in buf.getvalue()
    with pytest.raises(AccessError, match=r"kaggle\.json"):
        download("kdata", tmp_path / "raw", catalog=ov, progress=False, console=console)


def _kaggle_dataset(server, overlay, monkeypatch, home):
    monkeypatch.setenv(kaggle_mod.ENV_API, server.url + "/api/v1")
    (home / ".kaggle").mkdir()
    (home / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "bob",
                                                               "key": KAGGLE_KEY}))
    signed = f"{server.url}/storage/slug.zip?X-Goog-Signature={SIGNATURE}&download=1"
    server.add("/api/v1/datasets/download/owner/slug", auth=("bob", KAGGLE_KEY),
               redirect=signed)
    server.add("/storage/slug.zip", _zip_bytes())
    return overlay(entry("kdata", [{"url": "kaggle://datasets/owner/slug", "path": "slug.zip",
                                    "extract": True, "auth": "kaggle"}]))


def test_kaggle_dataset_via_rest_api(server, overlay, tmp_path, monkeypatch, _isolated_env):
    ov = _kaggle_dataset(server, overlay, monkeypatch, _isolated_env)
    download("kdata", tmp_path / "raw", catalog=ov, progress=False, console=_console()[0])
    raw = tmp_path / "raw" / "kdata"
    assert (raw / "train" / "labels.csv").read_text().startswith("image,label")
    assert server.requests("/api/v1/datasets/download/owner/slug")[0].authorization


SECRETS = [PASSWORD, KAGGLE_KEY, SIGNATURE,
           base64.b64encode(f"alice:{PASSWORD}".encode()).decode(),
           base64.b64encode(f"bob:{KAGGLE_KEY}".encode()).decode()]


def test_credentials_never_leak(server, overlay, tmp_path, monkeypatch, capsys, caplog,
                                _isolated_env):
    """stdout, stderr, logs (debug, httpx included), lockfiles and exception texts."""
    caplog.set_level(logging.DEBUG)
    kov = _kaggle_dataset(server, overlay, monkeypatch, _isolated_env)
    monkeypatch.setenv("PHYSIONET_USERNAME", "alice")
    monkeypatch.setenv("PHYSIONET_PASSWORD", PASSWORD)
    pov = _physionet_overlay(server, overlay)
    root = tmp_path / "raw"
    texts = []
    download("kdata", root, catalog=kov, console=Console(stderr=True))  # progress bars on
    download("mimictoy", root, catalog=pov, console=Console(stderr=True))
    # wrong password, and a userinfo URL in an overlay: errors must not echo either
    monkeypatch.setenv("PHYSIONET_PASSWORD", PASSWORD[::-1] + "x")
    SECRETS.append(PASSWORD[::-1] + "x")
    bad = server.url.replace("://", f"://alice:{PASSWORD}@") + "/nope.bin"
    ov = overlay(entry("leaky", [{"url": bad, "path": "nope.bin", "auth": "physionet",
                                  "mirrors": [server.url + "/files/mimic-toy/1.0/data.bin"]}]))
    with pytest.raises(DownloadError) as err:
        download("leaky", root, catalog=ov, console=Console(stderr=True))
    texts.append(str(err.value))
    texts.append(repr(err.value))
    out = capsys.readouterr()
    texts += [out.out, out.err, caplog.text]
    texts += [p.read_text() for p in root.rglob(".climb-download.json")]
    # and through the real command line, with debug logging (still the wrong password)
    proc = subprocess.run([sys.executable, "-m", "climb.cli", "-v", "download", "leaky",
                           "--root", str(tmp_path / "cli"), "--catalog", str(ov)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=60)
    texts += [proc.stdout, proc.stderr]
    assert proc.returncode == 1 and "leaky/nope.bin" in proc.stderr
    blob = "\n".join(texts)
    assert "HTTP Request" in blob  # httpx's own log lines were captured ...
    assert "***" in blob  # ... and redacted
    for secret in SECRETS:
        assert secret not in blob
