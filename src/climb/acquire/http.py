"""The HTTP(S) engine: resume with byte ranges, verify, retry with backoff, fall back to mirrors.

A file is written to ``DEST.part`` and renamed to ``DEST`` only once its size and sha256 check
out; an interrupted ``.part`` is continued with a ``Range`` request the next time. Connection
errors, 429 and 5xx are retried with exponential backoff; other failures move on to the next
mirror. 401/403, or a 200 whose body is an HTML login/consent page, is an AccessError that says
what to do. Credentials go in an ``Authorization`` header (httpx drops it on redirects to
another origin) and never appear in a message. Redirects are followed at most MAX_REDIRECTS
times, to http(s) URLs only and never from https to http; a loop or a bad ``Location`` is a
DownloadError (not retried) naming the redacted URL.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from climb.acquire import kaggle, physionet
from climb.acquire.credentials import credentials_for
from climb.acquire.errors import AccessError, ChecksumError, DownloadError
from climb.acquire.lockfile import digests_file
from climb.acquire.redact import redact_url, scrub

log = logging.getLogger("climb.acquire")

ENV_BACKOFF = "CLIMB_DOWNLOAD_BACKOFF"  # first retry delay in seconds (doubles each retry)
ENV_RETRIES = "CLIMB_DOWNLOAD_RETRIES"
MAX_REDIRECTS = 10
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass
class FetchJob:
    """One file to fetch. `urls` are tried in order (the primary, then mirrors)."""

    dataset: str
    rel: str  # path under ROOT/NAME, used in messages
    dest: Path
    urls: list[str]
    sha256: str | None = None
    size: int | None = None
    auth: str = "none"
    page: str | None = None  # the project/dataset page named in access errors
    catalog_url: str = ""  # the catalog's URL (e.g. kaggle://...) for access help
    digest: tuple[str, str] | None = None  # (algorithm, hex) another checksum, e.g. an md5

    @property
    def label(self) -> str:
        return f"{self.dataset}/{self.rel}"


@dataclass
class FetchResult:
    size: int
    sha256: str
    transferred: int  # bytes received over the network in this run
    url: str  # the URL (redacted) that delivered the file


class ProgressHook:
    """Progress callbacks; the default does nothing (see climb.acquire.progress)."""

    def start(self, label: str, total: int | None, completed: int) -> None: ...
    def advance(self, label: str, n: int) -> None: ...
    def reset(self, label: str, completed: int) -> None: ...
    def finish(self, label: str) -> None: ...
    def skipped(self, size: int) -> None: ...

    def __enter__(self) -> ProgressHook:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _Retryable(Exception):
    pass


class UnsafeRedirect(httpx.HTTPError):
    """A redirect climb will not follow: a Location that is not a valid http(s) URL, or one
    that leaves https for plain http. The message holds redacted URLs only."""


def check_redirect(response: httpx.Response) -> None:
    """httpx response hook: refuse a redirect before httpx follows it (see UnsafeRedirect)."""
    if not response.has_redirect_location:
        return
    source = response.request.url
    here = redact_url(str(source))
    try:
        target = source.join(response.headers["location"])
        port = target.port
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise UnsafeRedirect(f"HTTP {response.status_code} from {here} with an invalid "
                             "redirect Location; refused") from None
    if target.scheme not in ("http", "https") or not _valid_host(target.host) or (
            port or 0) > 65535:
        what = (f"redirects to a non-HTTP URL ({target.scheme}:)"
                if target.scheme not in ("http", "https") else
                "with an invalid redirect Location (host or port)")
        raise UnsafeRedirect(f"HTTP {response.status_code} from {here} {what}; refused")
    if source.scheme == "https" and target.scheme == "http":
        raise UnsafeRedirect(f"HTTP {response.status_code} from {here} redirects from https "
                             f"to plain http ({redact_url(str(target))}); refused")


def _valid_host(host: str) -> bool:
    """A DNS name (IDNA allowed) or an IP address; not percent-escapes or brackets."""
    if re.fullmatch(r"[\w.-]+", host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _describe_redirect(err: httpx.HTTPError, url: str) -> str:
    if isinstance(err, httpx.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects (a redirect loop?) from {redact_url(url)}"
    return str(err)  # UnsafeRedirect: names the (redacted) URL that answered


@dataclass
class Fetcher:
    """Fetch files over HTTP(S); thread-safe (one httpx.Client shared by the workers)."""

    retries: int = field(default_factory=lambda: int(os.environ.get(ENV_RETRIES, "5")))
    backoff: float = field(default_factory=lambda: float(os.environ.get(ENV_BACKOFF, "1.0")))
    timeout: float = 60.0
    progress: ProgressHook = field(default_factory=ProgressHook)
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client | None = None

    def __post_init__(self) -> None:
        if self.client is None:
            self.client = httpx.Client(
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                event_hooks={"response": [check_redirect]},  # every hop, before it is followed
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 20.0)),
                # identity: byte ranges must count bytes of the file itself
                headers={"User-Agent": "climb-downloader", "Accept-Encoding": "identity"},
                trust_env=True,  # HTTPS_PROXY/NO_PROXY and SSL_CERT_FILE (hospital networks)
            )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    # -- public ----------------------------------------------------------------------------
    def fetch(self, job: FetchJob) -> FetchResult:
        """Fetch `job` to `job.dest` (verified), trying each URL in turn."""
        errors: list[DownloadError] = []
        for url in job.urls:
            try:
                return self._fetch_from(url, job)
            except DownloadError as err:
                log.info("%s", err)  # the caller reports the final error once
                errors.append(err)
        self.progress.finish(job.label)
        # The most actionable failure wins: access, then checksum, then the last one.
        for kind in (AccessError, ChecksumError):
            for err in errors:
                if isinstance(err, kind):
                    raise _with_tried(err, len(job.urls))
        raise _with_tried(errors[-1], len(job.urls))

    # -- one URL ---------------------------------------------------------------------------
    def _auth(self, job: FetchJob, url: str) -> httpx.BasicAuth | None:
        creds = credentials_for(job.auth, urlsplit(url).hostname)
        return httpx.BasicAuth(*creds.as_tuple()) if creds else None

    def _fetch_from(self, url: str, job: FetchJob) -> FetchResult:
        part = job.dest.with_name(job.dest.name + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        auth = self._auth(job, url)
        attempt = 0
        hasher, hashed = hashlib.sha256(), 0  # digest of the first `hashed` bytes of `part`
        transferred = 0
        while True:
            offset = part.stat().st_size if part.exists() else 0
            if job.size is not None and offset > job.size:
                part.unlink()
                offset = 0
            if hashed != offset:  # resuming a part left by an earlier run: hash what is there
                hasher, hashed = _hash_prefix(part, offset)
            self.progress.start(job.label, job.size, offset)
            try:
                received, complete = self._stream(url, job, part, offset, auth, hasher)
            except (httpx.TooManyRedirects, UnsafeRedirect) as err:
                # not retried: the server answers the same way again; the next mirror may not
                raise DownloadError(scrub(f"{job.label}: {_describe_redirect(err, url)}")
                                    ) from None
            except (httpx.TransportError, _Retryable) as err:
                # chunks are written and hashed together, so the digest still matches the disk
                now = part.stat().st_size if part.exists() else 0
                got = max(now - offset, 0)
                transferred += got
                hashed = now
                attempt = 0 if got > 0 else attempt + 1  # progress resets the retry budget
                if attempt > self.retries:
                    raise DownloadError(scrub(
                        f"{job.label}: {_describe(err)} from {redact_url(url)} "
                        f"(gave up after {self.retries} retries)")) from None
                delay = self.backoff * (2 ** max(attempt - 1, 0))
                log.info("%s", scrub(f"{job.label}: {_describe(err)}; retry in {delay:.2f}s"))
                self.sleep(delay)
                continue
            transferred += received
            if complete:
                break
            hasher, hashed = hashlib.sha256(), 0  # the part was dropped: start from zero
            self.progress.reset(job.label, 0)

        size = part.stat().st_size
        digest = hasher.hexdigest()
        problem = None
        if job.size is not None and size != job.size:
            problem = f"size {size:,} bytes, expected {job.size:,}"
        elif job.sha256 is not None and digest != job.sha256:
            problem = f"sha256 {digest}, expected {job.sha256}"
        elif job.digest is not None:
            algo, want = job.digest
            got = digests_file(part, (algo,))[algo]
            problem = None if got == want else f"{algo} {got}, expected {want}"
        if problem:
            part.unlink()
            self.progress.reset(job.label, 0)
            if transferred < size:  # part of it came from an earlier run: refetch it all once
                log.warning("%s", f"{job.label}: {problem}; refetching from the start")
                return self._fetch_from(url, job)
            raise ChecksumError(
                f"{job.label}: {problem} (from {redact_url(url)}); the file was not kept")
        os.replace(part, job.dest)
        self.progress.finish(job.label)
        return FetchResult(size=size, sha256=digest, transferred=transferred,
                           url=redact_url(url))

    def _stream(self, url: str, job: FetchJob, part: Path, offset: int,
                auth: httpx.BasicAuth | None, hasher) -> tuple[int, bool]:
        """One GET; appends to `part`. Returns (bytes received, whether the file is whole)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        assert self.client is not None
        with self.client.stream("GET", url, headers=headers, auth=auth) as resp:
            status = resp.status_code
            if status == 416 and offset:
                # Nothing left to send: the part is complete if its size is the file's size.
                total = re.match(r"bytes \*/(\d+)", resp.headers.get("content-range", ""))
                expected = job.size if job.size is not None else (
                    int(total.group(1)) if total else None)
                if expected is None or offset == expected:
                    return 0, True
                part.unlink()
                return 0, False
            if status in (401, 403):
                raise self._access_error(job, url, status, auth is not None)
            if status == 429 or status >= 500:
                raise _Retryable(f"HTTP {status}")
            if status >= 400:
                raise DownloadError(f"{job.label}: HTTP {status} from {redact_url(url)}")
            chunks = resp.iter_bytes()  # as received, so a drop loses nothing
            first = next(chunks, b"")
            if _looks_like_html(resp, first) and not job.rel.lower().endswith((".html", ".htm")):
                raise self._access_error(job, url, status, auth is not None, html=True)
            mode = "wb"
            if status == 206 and offset:
                match = _CONTENT_RANGE.match(resp.headers.get("content-range", ""))
                if match is None or int(match.group(1)) != offset:
                    part.unlink()  # a range we did not ask for: start again
                    return 0, False
                mode = "ab"
            elif offset:  # 200 to a Range request: drop the part, ask again from zero
                part.unlink()
                self.progress.reset(job.label, 0)
                return 0, False
            total = _total_size(resp, offset)
            if total is not None and job.size is None:
                self.progress.start(job.label, total, offset)
            received = 0
            with part.open(mode) as fh:
                for chunk in _chain(first, chunks):
                    fh.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    self.progress.advance(job.label, len(chunk))
            return received, True

    def _access_error(self, job: FetchJob, url: str, status: int, have_creds: bool,
                      html: bool = False) -> AccessError:
        what = (f"HTTP {status} with an HTML page (a login or consent page) instead of the file"
                if html else f"HTTP {status}")
        if job.auth == "kaggle" or kaggle.is_kaggle(job.catalog_url):
            text = kaggle.access_help(job.catalog_url, have_credentials=have_creds,
                                      status=status if not html else 403)
            if html:
                text = f"{what}; {text}"
        elif job.auth == "physionet" or physionet.is_physionet(url):
            text = physionet.access_help(url, job.page, have_credentials=have_creds, status=what)
        else:
            page = f" Visit {job.page} for access." if job.page else ""
            text = f"{what}: access refused{'' if have_creds else ' (no credentials sent)'}.{page}"
        return AccessError(scrub(f"{job.label}: {text} (from {redact_url(url)})"))


def _hash_prefix(part: Path, offset: int):
    hasher = hashlib.sha256()
    if offset:
        with part.open("rb") as fh:
            remaining = offset
            while remaining and (chunk := fh.read(min(1 << 20, remaining))):
                hasher.update(chunk)
                remaining -= len(chunk)
    return hasher, offset


def _chain(first: bytes, rest):
    if first:
        yield first
    yield from rest


def _looks_like_html(resp: httpx.Response, first: bytes) -> bool:
    ctype = resp.headers.get("content-type", "").lower()
    if ctype.startswith(("text/html", "application/xhtml")):
        return True
    head = first[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _total_size(resp: httpx.Response, offset: int) -> int | None:
    length = resp.headers.get("content-length")
    return offset + int(length) if length and length.isdigit() else None


def _describe(err: BaseException) -> str:
    name = type(err).__name__
    text = str(err)
    if isinstance(err, _Retryable):
        return text
    return f"{name}: {text}" if text else name


def _with_tried(err: DownloadError, n: int) -> DownloadError:
    if n > 1:
        err.args = (f"{err.args[0]} [tried {n} sources: the URL and its mirrors]",)
    return err
