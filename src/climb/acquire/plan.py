"""What a download will do: the files of each dataset, their state on disk, missing access.

`build_plan` turns catalog entries into PlannedFiles: one per file source, and for a directory
source (PhysioNet ``files/PROJECT/VERSION/``) or a ``--subset`` download, one per file of the
records of the source's RECORDS-style listing; `render_plan` prints it for ``--dry-run``.

Subset files are plain text, one entry per line, ``#`` starts a comment. An entry selects every
record of the listing that is equal to it (``records500/00000/00001_hr``), lies under it as a
directory (``files/p10/p10000032`` selects a MIMIC-CXR patient) or has it as its last path
component (``00001_hr``). Each selected record is fetched as ``records_base + file`` for each
of its files (`record_files`: the line itself when it has an extension, else WFDB ``.hea`` and
``.dat``) and lands at the same relative path under the local directory of records_base
(ROOT/NAME, or the source's `path` for a directory source); the source's `subset_extras`
(metadata tables) come along.

Where the publisher lists checksums (climb.acquire.publisher: PhysioNet ``SHA256SUMS.txt``,
Zenodo and Figshare md5s, a declared checksum file), each PlannedFile carries the publisher's
digest (and size), which the download verifies; a directory source without a `records` listing
is expanded from the checksum listing itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin

import httpx
from rich.console import Console

from climb.acquire import kaggle, manual, physionet, publisher
from climb.acquire.credentials import credentials_for, missing_steps
from climb.acquire.errors import DownloadError
from climb.acquire.lockfile import Lockfile
from climb.acquire.publisher import ChecksumLookup, ChecksumSource, Listing, Published
from climb.acquire.redact import redact_url, scrub
from climb.catalog.schema import DatasetEntry, Source
from climb.errors import CatalogError

MAX_ROWS = 40  # files shown per dataset by --dry-run


@dataclass
class PlannedFile:
    """One file of a plan."""

    dataset: str
    rel: str  # path under ROOT/NAME
    urls: list[str]  # resolved URLs, primary first
    catalog_url: str
    sha256: str | None = None
    size: int | None = None
    auth: str = "none"
    extract: bool = False
    page: str | None = None
    state: str = "todo"  # todo | partial | done | manual-missing | manual-present
    have: int = 0  # bytes already on disk (finished file or .part)
    published: Published | None = None  # the publisher's checksum for this file
    problem: str | None = None  # catalog and publisher disagree: refused before fetching

    @property
    def check(self) -> str:
        """How the file is verified: publisher, catalog, or none (trust on first use)."""
        if self.published is not None:
            return "publisher"
        return "catalog" if self.sha256 else "none"


@dataclass
class DatasetPlan:
    entry: DatasetEntry
    dir: Path
    files: list[PlannedFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # access steps still missing
    manual_missing: list[Source] = field(default_factory=list)
    subset: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def known_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)

    @property
    def unknown_sizes(self) -> int:
        return sum(1 for f in self.files if f.size is None)

    @property
    def publisher_labels(self) -> list[str]:
        """The publisher listings that verify some of the files."""
        return list(dict.fromkeys(f.published.label for f in self.files if f.published))


def _attach(pf: PlannedFile, pub: Published | None) -> None:
    """Give `pf` the publisher's digest and size (the catalog's, when it has them, must agree)."""
    if pub is None:
        return
    pf.published = pub
    label = f"{pf.dataset}/{pf.rel}"
    if pub.size is not None:
        if pf.size is None:
            pf.size = pub.size
        elif pf.size != pub.size:
            pf.problem = (f"{label}: the catalog says {pf.size:,} bytes, the publisher "
                          f"({pub.label}) {pub.size:,}; fix the catalog entry")
    if pub.algo == "sha256":
        if pf.sha256 is None:
            pf.sha256 = pub.digest
        elif pf.sha256 != pub.digest:
            pf.problem = (f"{label}: the catalog's sha256 {pf.sha256} differs from the "
                          f"publisher's {pub.digest} ({pub.label}); fix the catalog entry")


def _publisher_listing(entry: DatasetEntry, src: Source, cs: ChecksumSource | None,
                       plan: DatasetPlan, checksums: ChecksumLookup | None,
                       real_run: bool) -> Listing | None:
    """The publisher's listing for `src`, or None (noted) when it cannot be had.

    A declared listing that cannot be fetched stops a real download (the catalog promised
    verification); a derived one only adds a note (the files are recorded on first use).
    """
    if cs is None or checksums is None:
        return None
    try:
        return checksums.listing(cs, src.auth)
    except DownloadError as err:
        if real_run and not cs.derived:
            raise DownloadError(f"{entry.name}: {err}; not downloading {src.path} unverified "
                                "(set `checksums: none` in an overlay to accept that)") from None
        note = f"not publisher-verified: {err}"
        if note not in plan.notes:  # one listing often covers several sources
            plan.notes.append(note)
        return None


def resolve_urls(source_url: str, mirrors: list[str]) -> list[str]:
    """The URLs to try for a source: kaggle:// turned into REST API URLs."""
    return [kaggle.api_url(u) if kaggle.is_kaggle(u) else u for u in [source_url, *mirrors]]


def _page(entry: DatasetEntry, url: str) -> str | None:
    if kaggle.is_kaggle(url):
        return kaggle.parse(url).page
    return physionet.project_page(url) or entry.access.url or entry.homepage


def _state(dataset_dir: Path, lock: Lockfile, pf: PlannedFile) -> None:
    dest = dataset_dir / pf.rel
    part = dest.with_name(dest.name + ".part")
    if dest.is_file():
        pf.have = dest.stat().st_size
        rec = lock.entry(pf.rel)
        pub_ok = pf.published is None or (rec or {}).get("publisher", {}).get("digest") \
            == pf.published.digest
        if rec and rec.get("size") == pf.have and (pf.sha256 in (None, rec.get("sha256"))) \
                and pf.size in (None, pf.have) and pub_ok:
            pf.state = "done"
        else:
            pf.state = "partial"  # in place but not yet verified by climb
    elif part.is_file():
        pf.have = part.stat().st_size
        pf.state = "partial"


def _check_rel(rel: str, where: str) -> str:
    rel = rel.strip()
    rel = rel[2:] if rel.startswith("./") else rel
    if not rel or rel.startswith("/") or ".." in rel.split("/") or "\\" in rel:
        raise DownloadError(f"{where}: unsafe record path {rel!r} (absolute or '..'); refused")
    return rel


def read_subset(path: Path) -> list[str]:
    """The entries of a subset file (see the module docstring)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise CatalogError(f"{path}: cannot read the subset file ({err.strerror})") from None
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip().strip("/")
        if line:
            out.append(line)
    if not out:
        raise CatalogError(f"{path}: the subset file lists no records")
    return out


def select(records: list[str], wanted: list[str], where: str) -> list[str]:
    """The records of a listing that the subset entries `wanted` select, in listing order."""
    by_name: dict[str, list[str]] = {}
    for r in records:
        by_name.setdefault(r.rsplit("/", 1)[-1], []).append(r)
    chosen: dict[str, None] = {}
    unmatched = []
    for w in wanted:
        hits = [r for r in records if r == w or r.startswith(w + "/")] or by_name.get(w, [])
        if not hits:
            unmatched.append(w)
        chosen.update(dict.fromkeys(hits))
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (" ..." if len(unmatched) > 5 else "")
        raise CatalogError(f"{where}: {len(unmatched)} subset entr"
                           f"{'y matches' if len(unmatched) == 1 else 'ies match'} no record "
                           f"of the listing: {shown}")
    order = {r: i for i, r in enumerate(records)}
    return sorted(chosen, key=order.__getitem__)


def records_base(source: Source) -> str:
    base = source.records_base or physionet.files_base(source.url)
    if not base:
        raise CatalogError(f"source {source.path}: has 'records' but no 'records_base' (the URL "
                           "the listing and record files are relative to)")
    return base if base.endswith("/") else base + "/"


def base_local(source: Source, base: str) -> str:
    """The directory under ROOT/NAME that corresponds to `base` (records_base).

    A directory source maps its URL to its `path` (``.../2.1.0/files/`` -> ``files/``); the
    base is that directory minus the URL's tail below the base. Otherwise: ROOT/NAME itself.
    """
    if source.url.endswith("/") and source.path.endswith("/") and source.url.startswith(base):
        tail = source.url[len(base):]
        if source.path.endswith(tail):
            return source.path[: len(source.path) - len(tail)]
    return ""


def record_files(source: Source, record: str) -> list[str]:
    """The files of one listed record (relative to records_base)."""
    if source.record_files is not None:
        return [record + sfx for sfx in source.record_files]
    if PurePosixPath(record).suffix and not record.endswith("/"):
        return [record]  # the listing names whole files (e.g. MIMIC-CXR IMAGE_FILENAMES)
    return [record + ".hea", record + ".dat"]  # a WFDB record


def _listing_text(source: Source, dataset_dir: Path, local_rel: str, url: str,
                  client: httpx.Client | None, fetch_listing,
                  published: Published | None = None) -> str:
    """The records listing: from disk if present, else fetched with `fetch_listing`."""
    local = dataset_dir / local_rel
    if not local.is_file():
        if fetch_listing is not None:
            fetch_listing(dataset_dir.name, source, url, local_rel, published)
        else:  # dry run: read it into memory, write nothing
            assert client is not None
            creds = credentials_for(source.auth, httpx.URL(url).host)
            auth = httpx.BasicAuth(*creds.as_tuple()) if creds else None
            try:
                resp = client.get(url, auth=auth)
            except httpx.HTTPError as err:
                raise DownloadError(scrub(f"{local_rel}: cannot fetch the listing from "
                                          f"{redact_url(url)}: {type(err).__name__}")) from None
            if resp.status_code != 200:
                raise DownloadError(f"{local_rel}: HTTP {resp.status_code} fetching the listing "
                                    f"from {redact_url(url)}")
            if published is not None:
                got = hashlib.new(published.algo, resp.content).hexdigest()
                if got != published.digest:
                    raise DownloadError(f"{local_rel}: {published.algo} {got}, expected "
                                        f"{published.digest} ({published.label})")
            return resp.text
    return local.read_text(encoding="utf-8", errors="replace")


def _expand(entry: DatasetEntry, src: Source, plan: DatasetPlan, lock: Lockfile,
            wanted: list[str] | None, subset: Path | None, client, fetch_listing,
            listing: Listing | None) -> None:
    """Add the record files of a source with a listing (all of them, or the subset's).

    Without a `records` listing (a directory source), the publisher's checksum listing
    names the files under the source's URL.
    """
    page = _page(entry, src.url)
    if src.records is None:
        assert listing is not None
        base = urljoin(listing.source.url, ".")
        local_base = base_local(src, base)
        where = f"{entry.name}/{listing.source.label}"
        rels = [_check_rel(k, where) for k in listing.keys_under(src.url)]
        if not rels:
            raise CatalogError(f"{entry.name}: the publisher's checksum listing "
                               f"({listing.source.label}) names no file under {src.url}")
    else:
        base = records_base(src)
        local_base = base_local(src, base)
        where = f"{entry.name}/{src.records}"
        listing_rel = _check_rel(local_base + src.records, where)
        listing_url = urljoin(base, src.records)
        own = listing.find(listing_url, listing_rel) if listing is not None else None
        try:
            text = _listing_text(src, plan.dir, listing_rel, listing_url, client,
                                 fetch_listing, own)
        except DownloadError as err:
            if fetch_listing is not None:  # a real run cannot go on without it
                raise
            plan.notes.append(f"records listing unavailable: {err}")
            return
        records = [_check_rel(line, where) for line in text.splitlines()
                   if line.strip() and not line.startswith("#")]
        if wanted is not None:
            records = select(records, wanted, f"{subset} ({where})")
        rels = list(src.subset_extras) if wanted is not None else []
        rels += [f for r in records for f in record_files(src, r)]
    unlisted = 0
    for rel in dict.fromkeys(rels):
        rel = _check_rel(rel, where)
        url = urljoin(base, rel)
        pf = PlannedFile(entry.name, local_base + rel, [url], url, auth=src.auth, page=page)
        if listing is not None:
            pub = listing.find(url, rel)
            unlisted += pub is None
            _attach(pf, pub)
        _state(plan.dir, lock, pf)
        plan.files.append(pf)
    if unlisted:
        plan.notes.append(f"{unlisted} file(s) of {src.path} are not in the publisher's "
                          f"checksum listing ({listing.source.label}); their sha256 is recorded "
                          "on first download only")


def build_plan(entries: list[DatasetEntry], root: Path, *, subset: Path | None = None,
               client: httpx.Client | None = None, fetch_listing=None,
               checksums: ChecksumLookup | None = None) -> list[DatasetPlan]:
    """Plan the download of `entries` under `root`.

    A file source is one PlannedFile. A directory source (URL and path ending in ``/``, e.g.
    PhysioNet ``files/PROJECT/VERSION/``) expands to every file of its `records` listing; with
    `subset`, only sources with a listing are planned, expanded to the selected records plus
    `subset_extras`. The listing is fetched with `fetch_listing(dataset, source, url, rel)`
    (a real download, kept on disk) or, when that is None (dry run), read into memory with
    `client`. Publisher checksum listings are fetched with `checksums` (default: one on
    `client`); without either, files carry only the catalog's checksums.
    """
    wanted = read_subset(subset) if subset is not None else None
    if checksums is None and client is not None:
        checksums = ChecksumLookup(client)
    real_run = fetch_listing is not None
    plans = []
    for entry in entries:
        dataset_dir = Path(root) / entry.name
        lock = Lockfile(dataset_dir, entry.name)
        plan = DatasetPlan(entry=entry, dir=dataset_dir, subset=wanted is not None)
        if not entry.sources:
            plan.notes.append("the catalog lists no sources for this dataset")
        sources = entry.sources
        if wanted is not None:
            sources = [s for s in entry.sources if s.records]
            if not sources:
                raise CatalogError(f"{entry.name}: no source has a per-record listing "
                                   "('records'), so --subset cannot apply")
        for src in sources:
            if src.auth == "manual":
                pf = PlannedFile(entry.name, src.path, [src.url], src.url, src.sha256, src.size,
                                 "manual", src.extract, entry.access.url)
                present = manual.is_present(dataset_dir, src)
                pf.state = "manual-present" if present else "manual-missing"
                if not present:
                    plan.manual_missing.append(src)
                plan.files.append(pf)
            elif wanted is not None or src.url.endswith("/"):
                cs = publisher.for_records(src) if src.records else publisher.for_file(src)
                listing = _publisher_listing(entry, src, cs, plan, checksums, real_run)
                if not src.records and listing is None:
                    if cs is not None and not real_run:
                        plan.notes.append(f"{src.path}: cannot list the directory without the "
                                          "publisher's checksum listing")
                        continue
                    raise CatalogError(f"{entry.name}: source {src.url} is a directory without "
                                       "a 'records' listing of its files or a publisher "
                                       "checksum listing; climb cannot list it")
                _expand(entry, src, plan, lock, wanted, subset, client, fetch_listing, listing)
            else:
                pf = PlannedFile(entry.name, src.path, resolve_urls(src.url, src.mirrors),
                                 src.url, src.sha256, src.size, src.auth, src.extract,
                                 _page(entry, src.url))
                listing = _publisher_listing(entry, src, publisher.for_file(src), plan,
                                             checksums, real_run)
                if listing is not None:
                    pub = listing.find(src.url, src.path)
                    if pub is None:
                        plan.notes.append(f"{src.path} is not in the publisher's checksum "
                                          f"listing ({listing.source.label})")
                    _attach(pf, pub)
                _state(dataset_dir, lock, pf)
                plan.files.append(pf)
        needs_creds = entry.access.tier in ("credentialed", "registration")
        for kind in dict.fromkeys(f.auth for f in plan.files):
            if kind == "kaggle" or (kind == "physionet" and needs_creds):
                step = missing_steps(kind)
                if step:
                    plan.missing.append(step)
        plans.append(plan)
    return plans


def _fmt_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return str(n)


def render_plan(plans: list[DatasetPlan], console: Console, root: Path) -> None:
    """Print the plan: files, total size, access steps still missing."""
    from rich.table import Table

    grand, unknown = 0, 0
    for plan in plans:
        e = plan.entry
        table = Table(title=f"{e.name}: {e.title}" + (" (subset)" if plan.subset else ""),
                      title_justify="left")
        for col in ("path", "size", "state", "check", "source"):
            # the path stays whole; the source URL wraps first in a narrow terminal
            table.add_column(col, justify="right" if col == "size" else "left",
                             no_wrap=col == "path", overflow="fold")
        for f in plan.files[:MAX_ROWS]:
            size = _fmt_size(f.size) if f.size is not None else "?"
            extra = " +extract" if f.extract else ""
            table.add_row(f.rel, size, f.state + extra, f.check,
                          scrub(redact_url(f.catalog_url)))
        if len(plan.files) > MAX_ROWS:
            table.add_row(f"... and {len(plan.files) - MAX_ROWS:,} more files", "", "", "", "")
        console.print(table)
        console.print(f"  access: {e.access.tier} - {e.access.gate}", highlight=False)
        size_txt = _fmt_size(plan.known_bytes)
        if plan.unknown_sizes:
            size_txt += f" + {plan.unknown_sizes} file(s) of unknown size"
        todo = sum(1 for f in plan.files if f.state in ("todo", "partial"))
        console.print(f"  {len(plan.files)} file(s), {size_txt}; {todo} to fetch", highlight=False)
        verified = sum(1 for f in plan.files if f.published is not None)
        if verified:
            console.print(f"  publisher-verified: {verified} of {len(plan.files)} file(s) "
                          f"({', '.join(plan.publisher_labels)})", highlight=False)
        elif any(n.startswith("not publisher-verified") for n in plan.notes):
            console.print("  publisher-verified: none (the publisher's checksums could not "
                          "be fetched: see the note)", highlight=False)
        else:
            console.print("  publisher-verified: none (no published checksums; files are "
                          "checked against the catalog or recorded on first download)",
                          highlight=False)
        for f in plan.files:
            if f.problem:
                console.print(f"  [red]conflict:[/] {scrub(f.problem)}", highlight=False)
        for step in plan.missing:
            console.print(f"  [yellow]missing:[/] {step}", highlight=False)
        for note in plan.notes:
            console.print(f"  [yellow]note:[/] {scrub(note)}", highlight=False)
        if plan.manual_missing:
            console.print(manual.instructions(e, root, plan.manual_missing), highlight=False,
                          markup=False)
        grand += plan.known_bytes
        unknown += plan.unknown_sizes
    tail = f" + {unknown} file(s) of unknown size" if unknown else ""
    console.print(f"total: {_fmt_size(grand)}{tail} into {root}", highlight=False)
