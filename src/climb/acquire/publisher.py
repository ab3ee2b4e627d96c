"""Checksums published by a dataset's publisher, so that a download is verified, not trusted.

A catalog source is covered by a publisher's checksum listing when

- it declares one in ``checksums:``: ``zenodo:RECORD`` (the Zenodo record API, md5 + size per
  file), ``figshare:ARTICLE`` (the Figshare article files API, md5 + size), the URL of a
  checksum file (``SHA256SUMS.txt``/``MD5SUMS`` lines ``<hex>  <path>``, paths relative to the
  checksum file's directory; the hash is told by the hex length), or ``none`` to turn off the
  derivation below;
- or it is derived: a PhysioNet ``https://physionet.org/files/PROJECT/VERSION/...`` URL (and the
  records of a ``--subset``/directory download whose ``records_base`` is one) is covered by that
  project version's ``SHA256SUMS.txt``; a ``https://zenodo.org/records/ID/files/NAME`` URL by
  its Zenodo record.

`ChecksumLookup.listing` fetches a listing once per run (with the source's credentials);
`Listing.find` gives the publisher's `Published` digest for one file URL. The API bases can be
pointed elsewhere (a proxy, a test server) with ``CLIMB_ZENODO_API`` / ``CLIMB_FIGSHARE_API``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from climb.acquire import physionet
from climb.acquire.credentials import credentials_for
from climb.acquire.errors import DownloadError
from climb.acquire.redact import redact_url, scrub
from climb.catalog.schema import Source

ENV_ZENODO_API = "CLIMB_ZENODO_API"  # default https://zenodo.org/api
ENV_FIGSHARE_API = "CLIMB_FIGSHARE_API"  # default https://api.figshare.com/v2
_ALGO_BY_HEX_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_SUMS_LINE = re.compile(r"^([0-9a-fA-F]{32,128})\s[ *]?(.+)$")
_ZENODO_URL = re.compile(r"^/records?/(\d+)/files/(.+)$")
_FIGSHARE_PAGE = 1000


@dataclass(frozen=True)
class Published:
    """What the publisher says about one file: its digest (and size, when listed)."""

    algo: str  # md5 | sha1 | sha256 | sha512
    digest: str  # lowercase hex
    size: int | None
    label: str  # the listing, e.g. "PhysioNet SHA256SUMS.txt"

    def record(self) -> dict[str, str]:
        """The lockfile form (no URL with secrets: just the listing's label)."""
        return {"algo": self.algo, "digest": self.digest, "from": self.label}


@dataclass(frozen=True)
class ChecksumSource:
    """Where a source's publisher lists its checksums."""

    kind: str  # sums | zenodo | figshare
    url: str  # the URL that is fetched
    label: str
    derived: bool  # derived from the URL (True) or declared in `checksums:` (False)


def _zenodo_api() -> str:
    return os.environ.get(ENV_ZENODO_API, "https://zenodo.org/api").rstrip("/")


def _figshare_api() -> str:
    return os.environ.get(ENV_FIGSHARE_API, "https://api.figshare.com/v2").rstrip("/")


def _declared(value: str) -> ChecksumSource:
    kind, _, ident = value.partition(":")
    if kind == "zenodo":
        return ChecksumSource(
            "zenodo", f"{_zenodo_api()}/records/{ident}", f"Zenodo record {ident}", False
        )
    if kind == "figshare":
        return ChecksumSource(
            "figshare",
            f"{_figshare_api()}/articles/{ident}/files",
            f"Figshare article {ident}",
            False,
        )
    name = PurePosixPath(urlsplit(value).path).name or "checksum file"
    return ChecksumSource("sums", value, f"{name} ({redact_url(value)})", False)


def _physionet_sums(url: str) -> ChecksumSource | None:
    found = physionet.project_of(url)
    if found is None or not urlsplit(url).path.startswith("/files/"):
        return None  # static zips and get-zip archives are not in SHA256SUMS.txt
    base = physionet.files_base(url)
    return ChecksumSource("sums", f"{base}SHA256SUMS.txt", "PhysioNet SHA256SUMS.txt", True)


def _zenodo_derived(url: str) -> ChecksumSource | None:
    parts = urlsplit(url)
    if parts.hostname not in ("zenodo.org", "www.zenodo.org"):
        return None
    match = _ZENODO_URL.match(parts.path)
    if match is None:
        return None
    ident = match.group(1)
    return ChecksumSource(
        "zenodo", f"{_zenodo_api()}/records/{ident}", f"Zenodo record {ident}", True
    )


def for_url(source: Source, url: str) -> ChecksumSource | None:
    """The checksum listing covering `url`, one file of `source` (declared or derived)."""
    if source.checksums == "none" or source.auth == "manual":
        return None
    if source.checksums:
        return _declared(source.checksums)
    return _physionet_sums(url) or _zenodo_derived(url)


def for_file(source: Source) -> ChecksumSource | None:
    """The listing covering a file source itself."""
    return for_url(source, source.url)


def for_records(source: Source) -> ChecksumSource | None:
    """The listing covering the record files of a source's `records` listing."""
    base = source.records_base or physionet.files_base(source.url)
    return for_url(source, base) if base else None


def describe(source: Source) -> str:
    """One line for `climb info`: how this source's files are checked."""
    if source.auth == "manual":
        return "placed by hand; checked by `climb verify`" + (
            " against the catalog sha256" if source.sha256 else ""
        )
    if source.sha256:
        return "sha256 in the catalog"
    own = for_file(source)
    if own is not None:
        how = "derived from the URL" if own.derived else "declared"
        return f"publisher-verified: {own.label} ({how})"
    recs = for_records(source) if source.records else None
    if recs is not None:
        return (
            f"archive unverified (recorded on first download); --subset records "
            f"publisher-verified: {recs.label}"
        )
    return "no published checksums: sha256 recorded on first download (trust on first use)"


@dataclass
class Listing:
    """A publisher's checksums, by file key (a path, a file name) and by file URL / id."""

    source: ChecksumSource
    by_key: dict[str, Published] = field(default_factory=dict)
    by_url: dict[str, Published] = field(default_factory=dict)  # figshare download URLs, ids

    def __len__(self) -> int:
        return len(self.by_key)

    def keys_under(self, url: str) -> list[str]:
        """Checksum-file keys of the files below directory `url` (relative to the listing)."""
        base = urljoin(self.source.url, ".")
        if self.source.kind != "sums" or not url.startswith(base):
            return []
        prefix = unquote(url[len(base) :])
        return [k for k in self.by_key if k.startswith(prefix) and not k.endswith("/")]

    def find(self, url: str, rel: str) -> Published | None:
        """The publisher's entry for the file fetched from `url` (landing at `rel`)."""
        clean = url.split("?", 1)[0].split("#", 1)[0]
        if self.source.kind == "sums":
            base = urljoin(self.source.url, ".")
            return self.by_key.get(unquote(clean[len(base) :])) if clean.startswith(base) else None
        if clean in self.by_url:
            return self.by_url[clean]
        path = urlsplit(clean).path
        candidates = []
        if self.source.kind == "zenodo":
            match = _ZENODO_URL.match(path)
            if match:
                candidates.append(unquote(match.group(2)).removesuffix("/content"))
        if self.source.kind == "figshare":
            match = re.search(r"/files/(\d+)$", path)
            if match and f"id:{match.group(1)}" in self.by_url:
                return self.by_url[f"id:{match.group(1)}"]
        candidates += [unquote(PurePosixPath(path).name), PurePosixPath(rel).name]
        for key in candidates:
            if key in self.by_key:
                return self.by_key[key]
        return None


def parse_sums(text: str, source: ChecksumSource) -> Listing:
    """A ``<hex>  <path>`` checksum file (sha256sum/md5sum output, PhysioNet SHA256SUMS.txt)."""
    listing = Listing(source)
    for line in text.splitlines():
        match = _SUMS_LINE.match(line.strip())
        if match is None:
            continue
        digest, path = match.group(1).lower(), match.group(2).strip()
        algo = _ALGO_BY_HEX_LENGTH.get(len(digest))
        if algo is None:
            continue
        key = path[2:] if path.startswith("./") else path
        listing.by_key[key] = Published(algo, digest, None, source.label)
    return listing


def _md5_of(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    algo, _, digest = value.rpartition(":")
    digest = digest.lower()
    if (algo or "md5") != "md5" or not re.fullmatch(r"[0-9a-f]{32}", digest):
        return None
    return digest


def parse_zenodo(data: object, source: ChecksumSource) -> Listing:
    """Zenodo ``/api/records/ID``: ``files`` as a list (or ``{"entries": ...}``) of
    ``{key, size, checksum: "md5:..."}``."""
    files = data.get("files") if isinstance(data, dict) else None
    if isinstance(files, dict):
        files = files.get("entries")
    if isinstance(files, dict):
        files = list(files.values())
    if not isinstance(files, list):
        raise ValueError("no 'files' list")
    listing = Listing(source)
    for item in files:
        if not isinstance(item, dict):
            continue
        key = item.get("key") or item.get("filename")
        md5 = _md5_of(item.get("checksum"))
        if not isinstance(key, str) or md5 is None:
            continue
        size = item.get("size", item.get("filesize"))
        listing.by_key[key] = Published(
            "md5", md5, size if isinstance(size, int) else None, source.label
        )
    return listing


def parse_figshare(items: list, source: ChecksumSource) -> Listing:
    """Figshare ``/v2/articles/ID/files``: ``[{id, name, size, computed_md5, supplied_md5,
    download_url}]``."""
    listing = Listing(source)
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        md5 = _md5_of(item.get("computed_md5")) or _md5_of(item.get("supplied_md5"))
        if md5 is None:
            continue
        size = item.get("size")
        pub = Published("md5", md5, size if isinstance(size, int) else None, source.label)
        listing.by_key[item["name"]] = pub
        if isinstance(item.get("download_url"), str):
            listing.by_url[item["download_url"]] = pub
        if item.get("id") is not None:
            listing.by_url[f"id:{item['id']}"] = pub
    return listing


class ChecksumLookup:
    """Fetches publisher listings (each once per run) with `client`."""

    def __init__(self, client: httpx.Client):
        self.client = client
        self._cache: dict[str, Listing | DownloadError] = {}

    def listing(self, cs: ChecksumSource, auth_kind: str) -> Listing:
        """The listing of `cs`; DownloadError when it cannot be fetched or read."""
        cached = self._cache.get(cs.url)
        if cached is None:
            try:
                cached = self._fetch(cs, auth_kind)
            except DownloadError as err:
                cached = err
            self._cache[cs.url] = cached
        if isinstance(cached, DownloadError):
            raise cached
        return cached

    def _get(self, url: str, auth_kind: str, label: str) -> httpx.Response:
        creds = credentials_for(auth_kind, urlsplit(url).hostname)
        auth = httpx.BasicAuth(*creds.as_tuple()) if creds else None
        try:
            resp = self.client.get(url, auth=auth)
        except httpx.HTTPError as err:
            raise DownloadError(
                scrub(
                    f"cannot fetch the publisher checksums ({label}) from "
                    f"{redact_url(url)}: {type(err).__name__}"
                )
            ) from None
        if resp.status_code != 200:
            raise DownloadError(
                f"HTTP {resp.status_code} fetching the publisher checksums "
                f"({label}) from {redact_url(url)}"
            )
        if resp.headers.get("content-type", "").lower().startswith("text/html"):
            raise DownloadError(
                f"an HTML page (a login or consent page?) instead of the "
                f"publisher checksums ({label}) from {redact_url(url)}"
            )
        return resp

    def _fetch(self, cs: ChecksumSource, auth_kind: str) -> Listing:
        where = f"{cs.label} from {redact_url(cs.url)}"
        try:
            if cs.kind == "sums":
                listing = parse_sums(self._get(cs.url, auth_kind, cs.label).text, cs)
            elif cs.kind == "zenodo":
                listing = parse_zenodo(self._get(cs.url, "none", cs.label).json(), cs)
            else:
                items: list = []
                page = 1
                while True:
                    url = f"{cs.url}?page={page}&page_size={_FIGSHARE_PAGE}"
                    batch = self._get(url, "none", cs.label).json()
                    if not isinstance(batch, list):
                        raise ValueError("not a list of files")
                    items += batch
                    if len(batch) < _FIGSHARE_PAGE:
                        break
                    page += 1
                listing = parse_figshare(items, cs)
        except (ValueError, json.JSONDecodeError) as err:
            raise DownloadError(
                f"the publisher checksums ({where}) cannot be read: {type(err).__name__}"
            ) from None
        if not listing.by_key:
            raise DownloadError(f"the publisher checksums ({where}) list no file")
        return listing
