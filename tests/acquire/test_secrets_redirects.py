"""A password full of URL metacharacters never leaks, and bad redirects are clear errors.

The password (from the environment or ~/.netrc) travels in the Authorization header, and a
hostile server echoes it back percent-encoded in ``Location`` headers (path, query, userinfo,
fragment), loops, and redirects to ftp: and to an invalid URL. The real command line runs with
``-v`` (httpx/httpcore debug logging on); stdout, stderr, the lockfile, every file under the
root and the exception texts must hold none of the password's encodings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import quote, quote_plus

import httpx
import pytest
from rich.console import Console

from climb.acquire import DownloadError, download
from climb.acquire.http import Fetcher, FetchJob, UnsafeRedirect, check_redirect
from tests.acquire.conftest import entry
from tests.acquire.test_redact import encodings

USER = "alice"
PW = "p@ss/w #%rd"
DATA = os.urandom(30_000)
BASE = "/files/toy/1.0/"


def _hostile(server, overlay):
    """A dataset whose one good file needs the password; the others redirect badly."""
    enc, plus = quote(PW, safe=""), quote_plus(PW)
    server.add(BASE + "data.bin", DATA, auth=(USER, PW))
    host = server.url.split("://", 1)[1]
    server.add(
        BASE + "leak.bin",
        redirect=(
            f"http://{USER}:{enc}@{host}/gone/{enc}/x.bin?file={plus}&path={enc}&token={enc}#{enc}"
        ),
    )
    server.add(BASE + "loop.bin", redirect=f"{BASE}loop.bin?path={plus}&file={enc}")
    server.add(BASE + "ftp.bin", redirect=f"ftp://{host}/{enc}/x.bin?file={plus}")
    server.add(BASE + "bad.bin", redirect=f"http://[{enc}/x")
    sources = [
        {"url": server.url + BASE + name, "path": name, "auth": "physionet"}
        for name in ("data.bin", "leak.bin", "loop.bin", "ftp.bin", "bad.bin")
    ]
    return overlay(entry("toy", sources, tier="credentialed"))


def _assert_no_leak(blob: str) -> None:
    unfolded = blob.replace("\n", "")  # rich folds long lines: a form may span two
    for name, form in encodings(USER, PW).items():
        assert form not in blob and form not in unfolded, f"password leaked ({name}: {form!r})"


@pytest.mark.parametrize("origin", ["env", "netrc"])
def test_password_never_leaks_through_cli_with_hostile_redirects(
    server, overlay, tmp_path, monkeypatch, _isolated_env, origin
):
    ov = _hostile(server, overlay)
    if origin == "env":
        monkeypatch.setenv("PHYSIONET_USERNAME", USER)
        monkeypatch.setenv("PHYSIONET_PASSWORD", PW)
    else:
        netrc = _isolated_env / ".netrc"
        netrc.write_text(f'machine 127.0.0.1 login {USER} password "{PW}"\n')
        netrc.chmod(0o600)
    root = tmp_path / "raw"
    (tmp_path / "logs").mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "climb.cli",
            "-v",
            "download",
            "toy",
            "--root",
            str(root),
            "--catalog",
            str(ov),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        cwd=tmp_path / "logs",
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    err = " ".join(proc.stderr.split())  # as one line (rich wraps the error at 80 columns)
    assert (root / "toy" / "data.bin").read_bytes() == DATA  # the password was used
    assert "HTTP Request" in err  # httpx's request lines are logged under -v ...
    assert "***" in err  # ... with the echoed password masked
    assert "toy/loop.bin: more than 10 redirects (a redirect loop?) from http" in err
    assert "toy/ftp.bin: HTTP 302" in err and "non-HTTP URL (ftp:)" in err
    assert "toy/bad.bin: HTTP 302" in err and "invalid redirect Location" in err
    assert "toy/leak.bin: HTTP 404" in err
    texts = [proc.stdout, proc.stderr]
    for path in [*root.rglob("*"), *(tmp_path / "logs").rglob("*")]:
        if path.is_file() and path.name != "data.bin":
            texts.append(path.read_text(errors="replace"))
    assert any(".climb-download.json" in str(p) for p in root.rglob("*"))
    _assert_no_leak("\n".join(texts))


def test_password_never_leaks_in_process(server, overlay, tmp_path, monkeypatch, caplog):
    """The library API: exception text and repr, console output, every log record."""
    caplog.set_level("DEBUG")
    ov = _hostile(server, overlay)
    monkeypatch.setenv("PHYSIONET_USERNAME", USER)
    monkeypatch.setenv("PHYSIONET_PASSWORD", PW)
    console = Console(file=(out := __import__("io").StringIO()), width=200)
    with pytest.raises(DownloadError) as err:
        download("toy", tmp_path / "raw", catalog=ov, console=console, progress=False)
    assert "4 of 5 file(s) failed" in str(err.value)
    assert "httpcore" not in caplog.text  # raw headers are never logged
    _assert_no_leak("\n".join([str(err.value), repr(err.value), out.getvalue(), caplog.text]))


def test_redirect_loop_and_bad_locations_are_download_errors(server, tmp_path):
    enc = quote(PW, safe="")
    server.add("/loop", redirect=f"/loop?path={enc}")
    server.add("/ftp", redirect=f"ftp://127.0.0.1/{enc}")
    server.add("/bad", redirect="http://[::1")
    fetcher = Fetcher(retries=0, backoff=0.0)
    try:
        for path, problem in (
            ("/loop", "more than 10 redirects"),
            ("/ftp", "redirects to a non-HTTP URL (ftp:)"),
            ("/bad", "invalid redirect Location"),
        ):
            job = FetchJob("t", path.strip("/"), tmp_path / path.strip("/"), [server.url + path])
            with pytest.raises(DownloadError) as err:
                fetcher.fetch(job)
            assert problem in str(err.value) and server.url + path in str(err.value)
            assert not (tmp_path / path.strip("/")).exists()
    finally:
        fetcher.close()
    assert len(server.requests("/loop")) == 11  # the first request and 10 redirects
    assert len(server.requests("/ftp")) == 1  # not retried


def test_https_to_http_downgrade_is_refused():
    request = httpx.Request("GET", "https://mirror.example/a.zip")
    response = httpx.Response(
        302, headers={"Location": "http://mirror.example/a.zip"}, request=request
    )
    with pytest.raises(UnsafeRedirect, match="from https to plain http"):
        check_redirect(response)
    ok = httpx.Response(302, headers={"Location": "/b.zip"}, request=request)
    check_redirect(ok)  # a relative redirect on the same https origin is followed


def test_cli_error_line_keeps_bracketed_text(server, overlay, tmp_path):
    """The error line is printed as text: rich markup must not swallow '[tried 2 sources ...]'."""
    ov = overlay(
        entry(
            "gone",
            [
                {
                    "url": server.url + "/a/x.bin",
                    "path": "x.bin",
                    "mirrors": [server.url + "/b/x.bin"],
                }
            ],
        )
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "climb.cli",
            "download",
            "gone",
            "--root",
            str(tmp_path / "r"),
            "--catalog",
            str(ov),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert proc.returncode == 1
    assert "[tried 2 sources: the URL and its mirrors]" in " ".join(proc.stderr.split())
