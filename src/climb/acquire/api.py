"""`download()` and `verify()`: the Python API behind `climb download` and `climb verify`."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from climb.acquire import manual
from climb.acquire.errors import (
    ChecksumError,
    DownloadError,
    ManualStepsRequired,
    VerifyError,
)
from climb.acquire.extract import extract, is_extracted
from climb.acquire.http import Fetcher, FetchJob, ProgressHook
from climb.acquire.lockfile import Lockfile, digests_file
from climb.acquire.plan import DatasetPlan, PlannedFile, build_plan, render_plan
from climb.acquire.publisher import ChecksumLookup, Published
from climb.acquire.redact import install_log_filters, redact_url, scrub
from climb.catalog.loader import load_catalog
from climb.catalog.schema import Source
from climb.errors import ClimbError


@dataclass
class FileOutcome:
    dataset: str
    rel: str
    status: str  # fetched | skipped | verified | failed | manual-missing
    transferred: int = 0
    error: str | None = None
    error_type: type[ClimbError] | None = None


@dataclass
class DownloadReport:
    """What a download did, per file."""

    plans: list[DatasetPlan]
    outcomes: list[FileOutcome] = field(default_factory=list)

    @property
    def transferred(self) -> int:
        """Bytes received over the network in this run."""
        return sum(o.transferred for o in self.outcomes)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


def download(
    names: list[str] | str,
    root: str | Path,
    *,
    workers: int = 4,
    subset: str | Path | None = None,
    dry_run: bool = False,
    catalog: str | Path | None = None,
    console: Console | None = None,
    progress: bool = True,
    retries: int | None = None,
    backoff: float | None = None,
    max_ratio: float | None = None,
) -> DownloadReport:
    """Download datasets into ``root/NAME/`` (resumable, verified, credentialed).

    Raises DownloadError (some files failed; the others are kept) or ManualStepsRequired
    (a manual source is not in place; its steps were printed). `dry_run` only prints the plan.
    """
    install_log_filters()
    names = [names] if isinstance(names, str) else list(names)
    root = Path(root)
    console = console or Console(stderr=True)
    cat = load_catalog(catalog)
    entries = [cat.get(n) for n in names]
    kwargs = {k: v for k, v in (("retries", retries), ("backoff", backoff)) if v is not None}
    fetcher = Fetcher(**kwargs)
    try:
        if dry_run:
            plans = build_plan(entries, root, subset=Path(subset) if subset else None,
                               client=fetcher.client)
            render_plan(plans, console, root)
            return DownloadReport(plans)
        return _run(entries, root, fetcher, workers, subset, console, progress, max_ratio)
    finally:
        fetcher.close()


def _run(entries, root: Path, fetcher: Fetcher, workers: int, subset, console: Console,
         progress: bool, max_ratio: float | None) -> DownloadReport:
    locks: dict[str, Lockfile] = {e.name: Lockfile(root / e.name, e.name) for e in entries}
    outcomes: list[FileOutcome] = []

    def fetch_listing(dataset: str, source: Source, url: str, rel: str,
                      published: Published | None = None) -> None:
        job = FetchJob(dataset, rel, root / dataset / rel, [url], auth=source.auth,
                       catalog_url=source.url)
        _expect(job, published)
        result = _fetch_checked(fetcher, job, published)
        locks[dataset].record(rel, result.size, result.sha256, result.url,
                              published.record() if published else None)
        outcomes.append(FileOutcome(dataset, rel, "fetched", result.transferred))

    plans = build_plan(entries, root, subset=Path(subset) if subset else None,
                       fetch_listing=fetch_listing, checksums=ChecksumLookup(fetcher.client))
    for plan in plans:
        for note in plan.notes:
            console.print(f"[yellow]{plan.entry.name}:[/] {scrub(note)}", highlight=False)
        if any(f.state != "manual-missing" for f in plan.files):
            locks[plan.entry.name].set_mode("subset" if plan.subset else "full")

    work = [(p, f) for p in plans for f in p.files if f.state != "manual-missing"]
    total = sum(f.size or 0 for _, f in work)
    hook: ProgressHook
    if progress:
        from climb.acquire.progress import RichProgress

        hook = RichProgress(total or None, console=console)
    else:
        hook = ProgressHook()
    fetcher.progress = hook
    lock = threading.Lock()

    def one(plan: DatasetPlan, pf: PlannedFile) -> FileOutcome:
        try:
            out = _do_file(plan, pf, fetcher, locks[plan.entry.name], max_ratio)
        except ClimbError as err:
            return FileOutcome(pf.dataset, pf.rel, "failed", error=scrub(err),
                               error_type=type(err))
        except OSError as err:  # disk full, permissions: name the file, carry on with others
            return FileOutcome(pf.dataset, pf.rel, "failed",
                               error=scrub(f"{pf.dataset}/{pf.rel}: {err.strerror or err}"))
        if out.status == "skipped":
            hook.skipped(pf.size or pf.have)
        return out

    try:
        with hook, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(one, p, f) for p, f in work]
            for fut in as_completed(futures):
                with lock:
                    outcomes.append(fut.result())
    finally:  # also on Ctrl-C: what finished is recorded
        for lk in locks.values():
            lk.flush()

    for plan in plans:
        for f in plan.files:
            if f.state == "manual-missing":
                outcomes.append(FileOutcome(f.dataset, f.rel, "manual-missing"))
    report = DownloadReport(plans, outcomes)
    _summary(report, console, root)

    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        lines = [f"{len(failed)} of {len(outcomes)} file(s) failed (the others are kept; "
                 "run again to resume):"] + [f"  {o.error}" for o in failed[:20]]
        if len(failed) > 20:
            lines.append(f"  ... and {len(failed) - 20} more")
        kinds = {o.error_type for o in failed}
        kind = kinds.pop() if len(kinds) == 1 else DownloadError  # e.g. all AccessError
        if kind is None or not issubclass(kind, ClimbError):
            kind = DownloadError
        raise kind("\n".join(lines))
    manual_plans = [p for p in plans if p.manual_missing]
    if manual_plans:
        for p in manual_plans:
            console.print(manual.instructions(p.entry, root, p.manual_missing),
                          highlight=False, markup=False)
        raise ManualStepsRequired(
            f"{', '.join(p.entry.name for p in manual_plans)}: manual download needed; follow "
            "the steps above, then run `climb verify NAME --root ROOT`")
    return report


def _expect(job: FetchJob, pub: Published | None) -> None:
    """Make `job` check the publisher's digest (sha256 directly, another hash after)."""
    if pub is None:
        return
    if pub.algo == "sha256":
        job.sha256 = job.sha256 or pub.digest
    else:
        job.digest = (pub.algo, pub.digest)
    if job.size is None:
        job.size = pub.size


def _fetch_checked(fetcher: Fetcher, job: FetchJob, pub: Published | None):
    """`fetcher.fetch(job)`; a checksum mismatch names the publisher's listing."""
    try:
        return fetcher.fetch(job)
    except ChecksumError as err:
        if pub is not None:
            err.args = (f"{err.args[0]} [checksum published in {pub.label}]",)
        raise


def _do_file(plan: DatasetPlan, pf: PlannedFile, fetcher: Fetcher, lock: Lockfile,
             max_ratio: float | None) -> FileOutcome:
    dest = plan.dir / pf.rel
    label = f"{pf.dataset}/{pf.rel}"
    transferred = 0
    pub = pf.published
    if pf.problem:
        raise ChecksumError(pf.problem)
    if pf.state == "done":
        status = "skipped"
    elif dest.is_dir() and pf.state == "manual-present":
        return FileOutcome(pf.dataset, pf.rel, "verified")
    elif dest.is_file():  # in place but not verified by climb (a copy placed by hand)
        size = dest.stat().st_size
        digests = digests_file(dest, ("sha256", pub.algo) if pub else ("sha256",))
        digest = digests["sha256"]
        if pf.size is not None and size != pf.size:
            raise ChecksumError(f"{label}: size {size:,} bytes, expected {pf.size:,} (the file "
                                "in place was left untouched: replace or delete it)")
        if pf.sha256 is not None and digest != pf.sha256:
            raise ChecksumError(f"{label}: sha256 {digest}, expected {pf.sha256} (the file "
                                "in place was left untouched: replace or delete it)")
        if pub is not None and digests[pub.algo] != pub.digest:
            raise ChecksumError(f"{label}: {pub.algo} {digests[pub.algo]}, expected "
                                f"{pub.digest} per {pub.label} (the file in place was left "
                                "untouched: replace or delete it)")
        lock.record(pf.rel, size, digest, redact_url(pf.catalog_url),
                    pub.record() if pub else None)
        status = "verified"
    else:
        job = FetchJob(pf.dataset, pf.rel, dest, pf.urls, pf.sha256, pf.size, pf.auth,
                       pf.page, pf.catalog_url)
        _expect(job, pub)
        result = _fetch_checked(fetcher, job, pub)
        lock.record(pf.rel, result.size, result.sha256, result.url,
                    pub.record() if pub else None)
        transferred = result.transferred
        status = "fetched"
    if pf.extract and dest.is_file() and not is_extracted(dest, dest.parent):
        members = extract(dest, dest.parent, max_ratio=max_ratio)
        rec = lock.entry(pf.rel) or {}
        lock.record_extracted(pf.rel, members, str(rec.get("sha256", "")))
    return FileOutcome(pf.dataset, pf.rel, status, transferred)


def _summary(report: DownloadReport, console: Console, root: Path) -> None:
    parts = [f"{report.count(s)} {s}" for s in
             ("fetched", "skipped", "verified", "failed", "manual-missing") if report.count(s)]
    mb = report.transferred / 1e6
    console.print(f"download into {root}: {', '.join(parts) or 'nothing to do'}; "
                  f"{mb:,.1f} MB transferred", highlight=False)


# -- verify ---------------------------------------------------------------------------------
@dataclass
class VerifyRow:
    rel: str
    status: str  # ok | missing | size | sha256 | not-extracted
    detail: str = ""


def verify(name: str, root: str | Path, *, catalog: str | Path | None = None,
           console: Console | None = None) -> list[VerifyRow]:
    """Re-check a copy under ``root/NAME`` against its lockfile and the catalog.

    Every file in the lockfile (size + sha256) and, unless it was a --subset download, every
    catalog source (size and sha256 where the catalog has them; a manual directory must be
    non-empty). Raises VerifyError listing the problems.
    """
    install_log_filters()
    entry = load_catalog(catalog).get(name)
    dataset_dir = Path(root) / entry.name
    lock = Lockfile(dataset_dir, entry.name)
    expect: dict[str, tuple[int | None, str | None, bool]] = {}
    published: dict[str, dict] = {}
    for rel, rec in lock.files.items():
        expect[rel] = (rec.get("size"), rec.get("sha256"), False)
        pub_rec = rec.get("publisher")
        if isinstance(pub_rec, dict) and pub_rec.get("algo") in hashlib.algorithms_available:
            published[rel] = pub_rec
    if lock.data.get("mode") != "subset":
        for src in entry.sources:
            size, sha, _ = expect.get(src.path, (None, None, False))
            expect[src.path] = (src.size if src.size is not None else size,
                                src.sha256 or sha, src.extract)
    if not expect:
        raise VerifyError(f"{dataset_dir}: nothing to verify (no {lock.path.name} and no "
                          "sources in the catalog)")
    rows: list[VerifyRow] = []
    for rel, (size, sha, extracted) in sorted(expect.items()):
        path = dataset_dir / rel
        if path.is_dir():
            ok = any(path.iterdir())
            rows.append(VerifyRow(rel, "ok" if ok else "missing", "directory"
                                  if ok else "directory is empty"))
            continue
        if not path.is_file():
            rows.append(VerifyRow(rel, "missing", f"{path} does not exist"))
            continue
        actual = path.stat().st_size
        if size is not None and actual != size:
            rows.append(VerifyRow(rel, "size", f"{actual:,} bytes, expected {size:,}"))
            continue
        pub = published.get(rel)
        algo = pub.get("algo") if pub else None
        digests = digests_file(path, ("sha256", algo) if algo else ("sha256",))
        digest = digests["sha256"]
        if sha is not None and digest != sha:
            rows.append(VerifyRow(rel, "sha256", f"sha256 {digest}, expected {sha}"))
            continue
        if pub and digests[algo] != pub.get("digest"):
            rows.append(VerifyRow(rel, algo, f"{algo} {digests[algo]}, expected "
                                  f"{pub.get('digest')} per {pub.get('from')}"))
            continue
        if extracted and not is_extracted(path, path.parent):
            rows.append(VerifyRow(rel, "not-extracted", "archive not extracted yet (run "
                                  "`climb download` again)"))
            continue
        how = f", matches {pub.get('from')}" if pub else ("" if sha else
                                                          ", no sha256 to compare")
        rows.append(VerifyRow(rel, "ok", f"{actual:,} bytes{how}"))
    if console is not None:
        from rich.table import Table

        table = Table(title=f"verify {entry.name} ({dataset_dir})", title_justify="left")
        for col in ("path", "status", "detail"):
            table.add_column(col)
        for row in rows:
            style = "green" if row.status == "ok" else "red"
            table.add_row(row.rel, f"[{style}]{row.status}[/]", row.detail)
        console.print(table)
    bad = [r for r in rows if r.status != "ok"]
    if bad:
        lines = [f"{entry.name}: {len(bad)} of {len(rows)} file(s) failed verification under "
                 f"{dataset_dir}:"] + [f"  {r.rel}: {r.status}: {r.detail}" for r in bad[:20]]
        if entry.access.tier != "open" and any(s.auth == "manual" for s in entry.sources):
            lines.append(f"  (manual dataset: see `climb download {entry.name} --root {root} "
                         "--dry-run` for the steps)")
        raise VerifyError("\n".join(lines))
    return rows
