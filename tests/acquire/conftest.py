"""A real HTTP server on 127.0.0.1 for the downloader: Range requests, basic auth, faults.

`FileServer.add(path, data, ...)` serves bytes; `fault(path, *actions)` queues one action per
request: ``"500"``, ``("drop", n)`` (send n body bytes of a full Content-Length, then close the
connection), ``"html"`` (a 200 login page), ``"ignore-range"`` (answer a Range request with the
whole file, 200). `trickle` sends the body in small chunks with a delay (to kill a client
mid-file). Every request is logged with its path, Range and whether it carried credentials.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

LOGIN_PAGE = (b"<!DOCTYPE html><html><head><title>Login | PhysioNet</title></head><body>"
              b"<form action='/login/'>username password</form></body></html>")


@dataclass
class Served:
    data: bytes
    auth: tuple[str, str] | None = None
    status: int | None = None  # a fixed status (e.g. 403, 404) instead of the file
    redirect: str | None = None
    content_type: str = "application/octet-stream"
    trickle: tuple[int, float] | None = None  # (chunk bytes, seconds between chunks)


@dataclass
class Request:
    path: str
    range: str | None
    authorization: str | None
    status: int = 0
    body_bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None


@dataclass
class FileServer:
    files: dict[str, Served] = field(default_factory=dict)
    faults: dict[str, list] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    url: str = ""

    def add(self, path: str, data: bytes = b"", **kw) -> str:
        self.files[path] = Served(data, **kw)
        return self.url + path

    def fault(self, path: str, *actions) -> None:
        self.faults.setdefault(path, []).extend(actions)

    def requests(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]


def _handler(server: FileServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes, ctype: str, extra=None, limit=None,
                  trickle=None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            if limit is not None or trickle:
                self.send_header("Connection", "close")
            self.end_headers()
            payload = body if limit is None else body[:limit]
            if trickle:
                size, delay = trickle
                for i in range(0, len(payload), size):
                    if i:
                        time.sleep(delay)
                    # counted before writing: the client may finish reading before we return
                    self.req.body_bytes += len(payload[i:i + size])
                    self.req.ended = time.monotonic()
                    try:
                        self.wfile.write(payload[i:i + size])
                        self.wfile.flush()
                    except OSError:
                        break
            else:
                self.req.body_bytes += len(payload)
                self.wfile.write(payload)
            if limit is not None:
                self.wfile.flush()
                self.close_connection = True

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            req = Request(path, self.headers.get("Range"), self.headers.get("Authorization"))
            self.req = req
            server.log.append(req)
            served = server.files.get(path)
            if served is None:
                req.status = 404
                return self._send(404, b"not found", "text/plain")
            if served.auth is not None:
                want = "Basic " + base64.b64encode(":".join(served.auth).encode()).decode()
                if req.authorization != want:
                    req.status = 401
                    return self._send(401, b"unauthorized", "text/plain",
                                      {"WWW-Authenticate": 'Basic realm="test"'})
            if served.status is not None:
                req.status = served.status
                return self._send(served.status, b"refused", "text/plain")
            if served.redirect is not None:
                req.status = 302
                return self._send(302, b"", "text/plain", {"Location": served.redirect})
            queue = server.faults.get(path) or []
            action = queue.pop(0) if queue else None
            if action == "500":
                req.status = 500
                return self._send(500, b"oops", "text/plain")
            if action == "html":
                req.status = 200
                return self._send(200, LOGIN_PAGE, "text/html; charset=utf-8")
            data, start = served.data, 0
            rng = req.range
            if rng and action != "ignore-range" and rng.startswith("bytes="):
                start = int(rng[6:].split("-", 1)[0])
                if start >= len(data):
                    req.status = 416
                    return self._send(416, b"", "text/plain",
                                      {"Content-Range": f"bytes */{len(data)}"})
                req.status = 206
                extra = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
                limit = action[1] if isinstance(action, tuple) else None
                return self._send(206, data[start:], served.content_type, extra, limit,
                                  served.trickle)
            req.status = 200
            limit = action[1] if isinstance(action, tuple) else None
            return self._send(200, data, served.content_type, None, limit, served.trickle)

    return Handler


@pytest.fixture()
def server():
    fs = FileServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fs))
    httpd.daemon_threads = True
    fs.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fs
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No real credentials, fast backoff, no proxies, no user overlay."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("PHYSIONET_USERNAME", "PHYSIONET_PASSWORD", "KAGGLE_USERNAME", "KAGGLE_KEY",
                "KAGGLE_CONFIG_DIR", "NETRC", "CLIMB_CATALOG", "CLIMB_KAGGLE_API",
                "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                "all_proxy", "CLIMB_MAX_EXTRACT_RATIO"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLIMB_DOWNLOAD_BACKOFF", "0.01")
    monkeypatch.setenv("CLIMB_DOWNLOAD_RETRIES", "3")
    return home


def entry(name: str, sources: list[dict], tier: str = "open", **over) -> dict:
    """A complete catalog entry for an overlay file."""
    data = {
        "name": name,
        "title": f"Test dataset {name}",
        "modality": "ecg",
        "domain": "cardiology",
        "tasks": [{"name": "rhythm", "type": "binary", "classes": ["normal", "abnormal"]}],
        "samples": {"total": 2},
        "size_gb": 0.001,
        "access": {"tier": tier, "gate": "test gate, see steps", "steps": [],
                   "url": "https://example.org/project"},
        "license": "CC-BY-4.0",
        "homepage": "https://example.org/project",
        "citation": "@misc{toy, title={Toy}}",
        "split": {"official": False, "definition": "none; patient-level"},
        "patient_ids": {"available": True, "field": "patient"},
        "sources": sources,
    }
    data.update(over)
    return data


@pytest.fixture()
def overlay(tmp_path):
    """overlay(entry(...), ...) -> path of a catalog overlay YAML holding those entries."""
    counter = iter(range(1000))

    def write(*entries: dict):
        path = tmp_path / f"overlay-{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(list(entries), sort_keys=False), encoding="utf-8")
        return path

    return write
