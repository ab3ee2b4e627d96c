"""`prepare`: adapter -> splits -> sharded, checksummed Parquet store + manifest.

Two resumable phases, journaled in ``STORE/NAME/.work/``:

1. **decode** — the adapter's items are cut into chunks; each chunk is decoded (by the local
   process pool or by Ray tasks), its records encoded as Arrow rows with their split, and
   written to ``.work/chunks/{i:06d}.arrow`` (memory-mappable) plus a ``.json`` commit marker
   (row count, quarantined sources, the (size, mtime_ns) fingerprint of its items' source
   files and a content hash of its quarantined ones). A chunk with a marker is not decoded
   again unless one of its source files changed since.
2. **write** — the chunks are memory-mapped, each split's records are sorted by sample_id and
   streamed into shards ``{split}-{i:05d}.parquet`` (written to a temp name, renamed when
   complete; an existing shard is never rewritten), then ``splits.csv`` and
   ``manifest.json`` are written and ``.work`` is removed.

Any exception one item raises while it is decoded quarantines that item (see
:func:`quarantine_entry`); only I/O errors on the store itself stop a run. A finished run
leaves ``.climb-prepare.json`` (fingerprints of the source files), so that a rerun after a
source file changed (a quarantined one fixed) prepares the dataset again. A worker process
that dies while decoding (segfault, SIGKILL, OOM killer) costs only the item it was decoding
(:func:`_on_worker_death`, quarantined as ``WorkerDied``). A whole-dataset run checks the
records it produced against the catalog's counts (:func:`counts_check`).

The output depends only on the adapter's records and the config (no timestamps; records
sorted), so two runs, an interrupted-and-resumed run, and the local and Ray engines give
byte-identical stores.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import climb
from climb.adapt.base import Adapter, Item, get_adapter
from climb.catalog import DatasetEntry, entry_hash, load_catalog
from climb.errors import ClimbError, LabelMappingError, RecordError
from climb.record import SPLITS
from climb.split import SplitConfig, assign_split, official_conflicts, write_splits_csv
from climb.store import engines
from climb.store.codecs import (
    CODEC_KEYS,
    SIGNAL_CODEC_KEY,
    VOLUME_CODEC_KEYS,
    ImageCodec,
    StoreCodec,
)
from climb.store.index import INDEX, index_part, shard_index_part, write_index
from climb.store.manifest import MANIFEST, SCHEMA_VERSION, compute_counts, write_manifest
from climb.store.sources import SourceFiles, fingerprint
from climb.store.writer import (
    build_schema,
    conform,
    input_kind,
    payload_bytes,
    read_ipc,
    record_row,
    sha256_file,
    write_ipc,
    write_parquet_shard,
)

log = logging.getLogger(__name__)

THROTTLE_ENV = "CLIMB_PREPARE_THROTTLE_S"  # seconds to sleep per item and per shard (tests)
DEFAULT_CHUNK_ITEMS = 32  # the most source items per chunk when ``chunk_items`` is None
MIN_CHUNKS = 16  # ... and fewer on a small dataset: about this many chunks (auto_chunk_items)
STATE = ".climb-prepare.json"  # fingerprints of the source files of the finished run
# climb.acquire.lockfile.LOCKFILE (not imported: workers need not load the download stack)
DOWNLOAD_LOCKFILE = ".climb-download.json"
DEFAULT_COUNTS_TOLERANCE = 0.01  # records may differ from the catalog's counts by 1%
#: ``off`` skips the counts check: test suites prepare fixture-sized copies of real datasets.
COUNTS_CHECK_ENV = "CLIMB_COUNTS_CHECK"


@dataclass(frozen=True)
class StoreConfig:
    """Shard layout: a shard closes at ``shard_bytes`` of payload or ``shard_rows`` rows (0 =
    no row limit); row groups hold about ``row_group_bytes`` of payload (at least one row:
    records of that size or more get a row group each, so that one record is one read)."""

    shard_bytes: int = 256 * 1024 * 1024
    shard_rows: int = 0
    row_group_bytes: int = 64 * 1024
    compression: str = "zstd"

    KEYS = ("shard_bytes", "shard_rows", "row_group_bytes", "compression")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StoreConfig:
        kwargs = {k: config[k] for k in cls.KEYS if k in config}
        for k in ("shard_bytes", "shard_rows", "row_group_bytes"):
            if k in kwargs:
                kwargs[k] = int(kwargs[k])
        return cls(**kwargs)


STORE_KEYS = (*StoreConfig.KEYS, "split_seed", "split_ratios", *CODEC_KEYS, *VOLUME_CODEC_KEYS,
              SIGNAL_CODEC_KEY)


@dataclass
class ChunkJob:
    """One unit of decode work (picklable: goes to a pool process or a Ray task)."""

    index: int
    entry: DatasetEntry
    adapter_config: dict[str, Any]
    raw_dir: str
    items: list[Item]
    split: SplitConfig
    tasks: list[tuple[str, str, int]]
    ipc_path: str | None  # write the chunk here, or None to return its bytes (Ray)
    adapter_cls: type[Adapter] | None = None  # the class the parent resolved (else by name)
    progress_path: str | None = None  # the worker notes here which item it is decoding
    died: dict[int, str] = field(default_factory=dict)  # item position -> how its worker died
    image_codec: ImageCodec | None = None  # how image/volume/clip arrays are stored (None: raw)


@dataclass
class ChunkResult:
    index: int
    rows: int
    quarantined: list[dict[str, str]]
    inputs: dict[str, str]
    ipc: bytes | None = None


_ADAPTERS: dict[str, Adapter] = {}


def _adapter_for(job: ChunkJob) -> Adapter:
    key = job.entry.name + json.dumps(job.adapter_config, sort_keys=True, default=str)
    if job.adapter_cls is not None:
        key = f"{job.adapter_cls.__module__}.{job.adapter_cls.__qualname__}:{key}"
    if key not in _ADAPTERS:
        _ADAPTERS[key] = (job.adapter_cls(entry=job.entry, config=job.adapter_config)
                          if job.adapter_cls is not None
                          else get_adapter(job.entry, job.adapter_config))
    return _ADAPTERS[key]


def _raised_at(tb: TracebackType | None) -> str:
    """``module:function:line`` of the innermost frame of a traceback."""
    if tb is None:
        return "unknown"
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    return f"{frame.f_globals.get('__name__', '?')}:{frame.f_code.co_name}:{tb.tb_lineno}"


def quarantine_entry(source: str, err: Exception, raw: Path, stage: str) -> dict[str, str]:
    """The manifest entry of one quarantined source, free of header values and PHI.

    A :class:`RecordError` keeps its message (readers name the file and the kind of problem,
    never a value). Any other exception may carry raw header values or free text, so its text
    is never copied: the entry says its type and where it was raised instead.
    """
    if isinstance(err, RecordError):  # paths relative to the raw root: no machine-specific text
        return {"source": source, "type": "RecordError",
                "error": str(err).replace(str(raw) + os.sep, "")}
    kind = type(err).__name__
    where = _raised_at(err.__traceback__)
    if isinstance(err, OSError) and err.errno in errno.errorcode:
        kind += f" [{errno.errorcode[err.errno]}]"
    if isinstance(err, LabelMappingError):
        problem = (f"label mapping failed: a native label has no usable entry in the dataset's "
                   f"mapping table ({kind} at {where})")
    else:
        problem = f"unexpected error while {stage}: {kind} raised at {where}"
    return {"source": source, "type": type(err).__name__, "where": where,
            "error": f"{source}: {problem}"}


def worker_died_entry(source: str, how: str) -> dict[str, str]:
    """The manifest entry of a source whose decoding killed the worker process twice (once
    in its chunk, once alone): ``how`` is the signal or exit code, e.g. ``signal SIGSEGV``."""
    return {"source": source, "type": "WorkerDied", "where": how,
            "error": f"{source}: the worker process decoding it died ({how})"}


def auto_chunk_items(n_items: int) -> int:
    """Source items per chunk when none is given: ``ceil(n_items / MIN_CHUNKS)``, at most
    :data:`DEFAULT_CHUNK_ITEMS`. A dataset of under ``MIN_CHUNKS * DEFAULT_CHUNK_ITEMS``
    items still makes more than ``MIN_CHUNKS / 2`` chunks (one per item below that) for the
    workers to share, so that a worker left with the last chunk holds up the others little.
    It depends on the item count only, not on ``workers``: a run resumed with another
    ``--workers`` keeps the chunks already decoded."""
    return max(1, min(DEFAULT_CHUNK_ITEMS, -(-n_items // MIN_CHUNKS)))


PROGRESS_WIDTH = 10  # digits of the position in a chunk's progress file (fixed: no truncate)


def _note_progress(fd: int, position: int) -> None:
    """Record which item of its chunk a worker is at (read by the parent if the worker dies):
    one fixed-width write at offset 0 of the chunk's progress file, which the worker holds
    open for the chunk. It reaches the page cache, so it survives the process being killed."""
    os.pwrite(fd, f"{position:0{PROGRESS_WIDTH}d}".encode(), 0)


def _read_progress(path: str | None) -> int | None:
    try:
        return int(Path(path).read_text()) if path else None
    except (OSError, ValueError):
        return None


def process_chunk(job: ChunkJob) -> ChunkResult:
    """Decode and encode one chunk of items; any exception one item raises quarantines that
    item alone (see :func:`quarantine_entry`), never the run."""
    adapter = _adapter_for(job)
    raw = Path(job.raw_dir)
    throttle = float(os.environ.get(THROTTLE_ENV, "0") or 0)
    progress_fd = (os.open(job.progress_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                   if job.progress_path else None)
    try:
        rows, quarantined, kinds = _decode_items(job, adapter, raw, throttle, progress_fd)
    finally:
        if progress_fd is not None:
            os.close(progress_fd)
    schema = build_schema([(t, ty) for t, ty, _ in job.tasks], kinds)
    table = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
    result = ChunkResult(job.index, table.num_rows, quarantined, kinds)
    if job.ipc_path:
        write_ipc(Path(job.ipc_path), table)
    else:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        result.ipc = sink.getvalue().to_pybytes()
    return result


def _decode_items(
    job: ChunkJob, adapter: Adapter, raw: Path, throttle: float, progress_fd: int | None
) -> tuple[list[dict[str, Any]], list[dict[str, str]], dict[str, str]]:
    """The Arrow rows, quarantine entries and input kinds of one chunk's items."""
    rows: list[dict[str, Any]] = []
    quarantined: list[dict[str, str]] = []
    kinds: dict[str, str] = {}
    for position, item in enumerate(job.items):
        if position in job.died:  # its decoding killed a worker (see worker_died_entry)
            quarantined.append(worker_died_entry(item.source, job.died[position]))
            continue
        if progress_fd is not None:
            _note_progress(progress_fd, position)
        if throttle:
            time.sleep(throttle)
        stage = "decoding"
        try:
            encoded = []
            item_kinds: dict[str, str] = {}
            for record in adapter.load(raw, item):
                stage = "encoding"
                record.validate()
                if record.dataset != job.entry.name:
                    raise RecordError(item.source, "record dataset differs from the catalog name")
                split = assign_split(record, job.split)
                encoded.append(record_row(record, split, job.tasks, job.image_codec))
                for name, inp in record.inputs.items():
                    kind = input_kind(inp)
                    other = kinds.get(name, item_kinds.get(name, kind))
                    if other != kind:
                        raise RecordError(item.source, f"input {name!r} is {kind} here but "
                                                       f"{other} in other records")
                    item_kinds[name] = kind
                stage = "decoding"
        except Exception as err:  # any failure of one item quarantines it, never the run
            quarantined.append(quarantine_entry(item.source, err, raw, stage))
            continue
        rows.extend(encoded)
        kinds.update(item_kinds)
    if progress_fd is not None:
        _note_progress(progress_fd, len(job.items))  # past the items: not one's fault
    return rows, quarantined, kinds


# ---------------------------------------------------------------------------- helpers


def _hash_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def parse_config(pairs: list[str] | None) -> dict[str, Any]:
    """``["key=value", ...]`` -> dict (values parsed as YAML scalars: 1, 0.5, true, a,b)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ClimbError(f"--config expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(value) if value else ""
    return out


def _task_specs(adapter: Adapter) -> list[dict[str, Any]]:
    classes = adapter.task_classes()
    return [
        {
            "name": t.name,
            "type": t.type,
            "classes": list(classes.get(t.name) or []),
            "vocabulary": t.vocabulary,
            "level": t.level,
        }
        for t in adapter.entry.tasks
    ]


def _progress():
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


# ---------------------------------------------------------------------------- prepare


def prepare(
    name: str,
    raw_dir: str | Path,
    out: str | Path,
    *,
    engine: str = "local",
    workers: int | None = None,
    limit: int | None = None,
    max_quarantined: int | None = None,
    catalog: str | Path | None = None,
    config: Mapping[str, Any] | None = None,
    chunk_items: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Prepare dataset ``name`` from ``raw_dir`` into ``out/name``; returns the manifest.

    ``chunk_items``: source items per unit of work (None: :func:`auto_chunk_items`)."""
    started: list[engines.LocalWorkers] = []  # workers started before the items are listed
    try:
        return _prepare(name, raw_dir, out, engine=engine, workers=workers, limit=limit,
                        max_quarantined=max_quarantined, catalog=catalog, config=config,
                        chunk_items=chunk_items, ray_address=ray_address, progress=progress,
                        started=started)
    finally:
        for pool in started:
            pool.stop()


def _prepare(
    name: str,
    raw_dir: str | Path,
    out: str | Path,
    *,
    engine: str,
    workers: int | None,
    limit: int | None,
    max_quarantined: int | None,
    catalog: str | Path | None,
    config: Mapping[str, Any] | None,
    chunk_items: int | None,
    ray_address: str | None,
    progress: bool,
    started: list[engines.LocalWorkers],
) -> dict[str, Any]:
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise ClimbError(f"{raw}: raw dataset directory not found")
    entry = load_catalog(catalog).get(name)
    config = dict(config or {})
    store_cfg = StoreConfig.from_config(config)
    split_cfg = SplitConfig.from_config(config)
    try:
        image_codec = StoreCodec.from_config(config)  # images, volumes and clips
    except ValueError as err:
        raise ClimbError(f"{name}: {err}") from None
    adapter_config = {k: v for k, v in config.items() if k not in STORE_KEYS}
    adapter = get_adapter(entry, adapter_config)
    if "work_dir" in adapter.default_config and not adapter.config.get("work_dir"):
        adapter.config["work_dir"] = str(Path(out) / ".work" / entry.name)  # adapter's cache
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    if engine == "local" and workers > 1 and not (Path(out) / entry.name / MANIFEST).exists():
        # A new store: start the workers now, so that their start-up (a new interpreter
        # importing climb and the adapter's module) overlaps the listing below. (Not on a
        # rerun of a finished store, which is most often a no-op.)
        started.append(engines.LocalWorkers(process_chunk, workers, [type(adapter).__module__]))

    items = adapter.items(raw)
    tasks = _task_specs(adapter)  # after items(): classes found in the data (classes_from)
    task_tuples = [(t["name"], t["type"], len(t["classes"])) for t in tasks]
    if limit is not None:
        items = items[: int(limit)]
    if chunk_items is None:
        chunk_items = auto_chunk_items(len(items))
    items_hash = _hash_json([(i.source, i.key, i.info) for i in items])
    full_config = {
        "adapter": {k: v for k, v in adapter.config.items() if k != "work_dir"},
        "store": {k: getattr(store_cfg, k) for k in StoreConfig.KEYS},
        "split": {"seed": split_cfg.seed, "ratios": list(split_cfg.ratios)},
        "limit": limit,
        "image": image_codec.as_dict(),
        "volume": image_codec.volume_dict(),
        "video": image_codec.video_dict(),
        "signal": image_codec.signal_dict(),
    }
    config_hash = _hash_json(full_config)

    dest = Path(out) / entry.name
    dest.mkdir(parents=True, exist_ok=True)
    sources = SourceFiles(adapter, raw)
    item_keys = [sources.stat_key(i) for i in items]
    sources_print = fingerprint(item_keys)
    by_source = {}
    for item in items:
        by_source.setdefault(item.source, item)
    manifest_path = dest / MANIFEST
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old.get("schema_version") != SCHEMA_VERSION:
            log.warning("%s: store schema_version %s; re-preparing it as version %s",
                        dest, old.get("schema_version"), SCHEMA_VERSION)
        same = (
            old.get("schema_version") == SCHEMA_VERSION
            and old.get("config_hash") == config_hash
            and old.get("source", {}).get("items_hash") == items_hash
            and old.get("catalog_entry_hash") == entry_hash(entry)
            and _sources_unchanged(dest / STATE, sources_print, sources, by_source)
        )
        complete = all((dest / s["path"]).exists() for s in old["shards"])
        if same and complete and (not old.get("index") or (dest / INDEX).exists()):
            log.info("%s: already prepared with this config and these source files", dest)
            return _checked(entry, dest, old)
    work = dest / ".work"
    plan = {
        "schema_version": SCHEMA_VERSION,  # a store/work dir of another version is redone
        "config_hash": config_hash,
        "items_hash": items_hash,
        "entry_hash": entry_hash(entry),
        "chunk_items": chunk_items,
    }
    plan_path = work / "plan.json"
    try:
        chunks = [items[i : i + chunk_items] for i in range(0, len(items), chunk_items)]
        prints = [fingerprint(item_keys[i : i + chunk_items])
                  for i in range(0, len(items), chunk_items)]
        freshness = _Freshness(prints, sources, by_source, dest)
        if not plan_path.exists() or json.loads(plan_path.read_text()) != plan:
            # No journal of these inputs and config. A finished run of them (only some source
            # files changed since) gives back the chunks whose files did not change.
            shutil.rmtree(work, ignore_errors=True)
            (work / "chunks").mkdir(parents=True, exist_ok=True)
            seeded = _seed_from_store(dest, work, plan, freshness,
                                      [(t, ty) for t, ty, _ in task_tuples])
            if seeded:
                log.info("%s: %d unchanged chunks taken from the finished store", dest, seeded)
            _drop_outputs(dest)
            plan_path.write_text(json.dumps(plan, sort_keys=True))

        results = _decode(
            entry, adapter.config, raw, chunks, split_cfg, task_tuples, work, engine, workers,
            ray_address, max_quarantined, progress, freshness, type(adapter), image_codec,
            started[0] if started else None,
        )
        manifest = _write(
            entry, dest, work, results, tasks, store_cfg, split_cfg, full_config, config_hash,
            items_hash, len(items), progress,
        )
        manifest["counts_check"] = counts_check(entry, manifest["counts"], limit, raw)
        write_manifest(dest / MANIFEST, manifest)
        quarantined_hashes = {q["source"]: sources.content_hash(by_source[q["source"]])
                              for q in manifest["quarantined"] if q["source"] in by_source}
        state = {"sources": sources_print, "quarantined": quarantined_hashes, "plan": plan,
                 "chunks": _chunk_states(work, len(chunks))}
        (dest / STATE).write_text(json.dumps(state, sort_keys=True, indent=1) + "\n")
    except OSError as err:  # the store itself (disk full, permissions): stop, keep the journal
        where = err.filename or dest
        reason = err.strerror or type(err).__name__
        raise ClimbError(
            f"{where}: writing the store failed ({reason}); the run stopped, finished work is "
            "kept in .work/ - fix the cause and run again"
        ) from err
    shutil.rmtree(work, ignore_errors=True)
    return _checked(entry, dest, manifest)


class CountsCheckError(ClimbError):
    """The records prepared differ from the catalog's declared counts by more than the
    entry's tolerance. The store is written; ``manifest`` is its manifest."""

    def __init__(self, message: str, manifest: dict[str, Any]):
        super().__init__(message)
        self.manifest = manifest


def counts_check(entry: DatasetEntry, counts: Mapping[str, Any], limit: int | None,
                 raw: Path) -> dict[str, Any]:
    """The manifest's ``counts_check``: the records produced (per split and in total) against
    the catalog entry's declared ``samples`` (like Hugging Face datasets' ``verify_splits``).

    Checked only when the entry declares ``samples.counts_are_records`` (its counts are of
    the records `prepare` writes, not of publisher units such as recordings cut into windows),
    on a whole dataset (no ``--limit``, no ``--subset`` download). The total is always
    compared; train/val/test only where declared and the split is official, the records of a
    split the entry does not declare (a val or test the adapter carves from the official
    training split) counting as train (``carved_into_train`` names them). ``ok`` is False
    when a relative difference exceeds ``samples.tolerance`` (default
    :data:`DEFAULT_COUNTS_TOLERANCE`); ``skipped`` says why nothing was compared
    (``CLIMB_COUNTS_CHECK=off`` in the environment skips it: fixture-sized copies in tests).
    """
    declared_counts = entry.samples
    tolerance = (declared_counts.tolerance if declared_counts.tolerance is not None
                 else DEFAULT_COUNTS_TOLERANCE)
    produced = {"total": sum(int(c["samples"]) for c in counts.values())}
    produced |= {split: int(counts[split]["samples"]) for split in SPLITS if split in counts}
    check: dict[str, Any] = {"declared": None, "produced": produced, "tolerance": tolerance,
                             "ok": None, "skipped": None}
    if limit is not None:
        check["skipped"] = f"--limit {limit}: only part of the dataset was prepared"
    elif os.environ.get(COUNTS_CHECK_ENV, "").strip().lower() == "off":
        check["skipped"] = f"{COUNTS_CHECK_ENV}=off (fixture-sized copies of datasets in tests)"
    elif _download_mode(raw) in ("subset", "mixed"):
        check["skipped"] = "the raw folder is a --subset download: only part of the dataset"
    elif not declared_counts.counts_are_records:
        check["skipped"] = ("the catalog's samples are not declared as records "
                            "(samples.counts_are_records)")
    if check["skipped"]:
        return check
    declared = {"total": declared_counts.total}
    if entry.split.official:
        declared |= {split: getattr(declared_counts, split) for split in SPLITS
                     if getattr(declared_counts, split, None) is not None}
        carved = [s for s in SPLITS if s not in declared and produced.get(s)]
        if "train" in declared and carved:
            produced["train"] = produced.get("train", 0) + sum(produced.pop(s) for s in carved)
            check["carved_into_train"] = carved
    check["declared"] = declared
    check["difference"] = {k: produced.get(k, 0) - v for k, v in declared.items()}
    check["ok"] = all(abs(produced.get(k, 0) - v) <= tolerance * v for k, v in declared.items())
    return check


def _download_mode(raw: Path) -> str | None:
    """``full``/``subset``/``mixed`` from the raw folder's download lockfile, if any."""
    try:
        return json.loads((raw / DOWNLOAD_LOCKFILE).read_text()).get("mode")
    except (OSError, ValueError, AttributeError):
        return None


def _checked(entry: DatasetEntry, dest: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Log the manifest's counts check; a :class:`CountsCheckError` when it failed."""
    check = manifest.get("counts_check") or {}
    if check.get("skipped"):
        log.info("%s: counts check skipped (%s)", entry.name, check["skipped"])
    if check.get("ok") is None:
        return manifest
    summary = describe_counts_check(check)
    if not check["ok"]:
        raise CountsCheckError(
            f"{entry.name}: the records prepared differ from the catalog's counts beyond its "
            f"tolerance of {check['tolerance']:.1%} ({summary}; "
            f"{len(manifest.get('quarantined', []))} sources quarantined): an adapter or reader "
            f"drops or repeats records, or the raw data is incomplete. The store was written "
            f"to {dest} (see counts_check in manifest.json)",
            manifest,
        )
    if any(check["difference"].values()):
        log.warning("%s: the records prepared differ from the catalog's counts within its "
                    "tolerance of %.1f%% (%s)", entry.name, 100 * check["tolerance"], summary)
    return manifest


def describe_counts_check(check: Mapping[str, Any]) -> str:
    """``total 17 of 24 declared (-29.2%), train ...``: the compared counts, in words."""
    parts = []
    for key, declared in check["declared"].items():
        produced = check["produced"].get(key, 0)
        change = f" ({(produced - declared) / declared:+.1%})" if declared else ""
        parts.append(f"{key} {produced} of {declared} declared{change}")
    return ", ".join(parts)


def _sources_unchanged(state_path: Path, sources_print: str, sources: SourceFiles,
                       by_source: dict[str, Item]) -> bool:
    """Whether the source files are as the finished run that wrote ``state_path`` saw them."""
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return False  # no record of the files: decode again rather than trust stale output
    if state.get("sources") != sources_print:
        return False
    return all(src in by_source and sources.content_hash(by_source[src]) == digest
               for src, digest in (state.get("quarantined") or {}).items())


@dataclass
class _Freshness:
    """Tells whether a journaled chunk still matches its source files."""

    prints: list[str]  # per chunk: fingerprint of its items' (size, mtime_ns)
    sources: SourceFiles
    by_source: dict[str, Item]
    dest: Path

    def quarantine_hashes(self, result: ChunkResult) -> dict[str, str]:
        return {q["source"]: self.sources.content_hash(self.by_source[q["source"]])
                for q in result.quarantined if q["source"] in self.by_source}

    def fresh(self, index: int, marker: dict[str, Any]) -> bool:
        if marker.get("fingerprint") != self.prints[index]:
            return False
        hashes = marker.get("quarantine_hashes") or {}
        return all(src in self.by_source
                   and self.sources.content_hash(self.by_source[src]) == digest
                   for src, digest in hashes.items())


def _chunk_states(work: Path, n_chunks: int) -> list[dict[str, Any]]:
    """The journal markers of a finished run, each with the sample_ids of its rows."""
    states = []
    for i in range(n_chunks):
        data = json.loads((work / "chunks" / f"{i:06d}.json").read_text())
        ids = (read_ipc(work / "chunks" / f"{i:06d}.arrow").column("sample_id").to_pylist()
               if data["rows"] else [])
        states.append({**data, "sample_ids": ids})
    return states


def _seed_from_store(dest: Path, work: Path, plan: dict[str, Any], freshness: _Freshness,
                     tasks: list[tuple[str, str]]) -> int:
    """Journal the chunks of the finished store in ``dest`` whose source files are unchanged
    (their rows read back from the shards through the index); returns how many."""
    try:
        state = json.loads((dest / STATE).read_text())
        manifest = json.loads((dest / MANIFEST).read_text())
    except (OSError, ValueError):
        return 0
    chunks = state.get("chunks") or []
    if state.get("plan") != plan or len(chunks) != len(freshness.prints):
        return 0
    fresh = [i for i, c in enumerate(chunks) if freshness.fresh(i, c)]
    if not fresh or not manifest.get("index") or not (dest / INDEX).exists():
        return 0
    index = pq.read_table(dest / INDEX, columns=["sample_id", "shard", "row_group", "row"])
    where = dict(zip(index.column("sample_id").to_pylist(),
                     zip(index.column("shard").to_pylist(), index.column("row_group").to_pylist(),
                         index.column("row").to_pylist(), strict=True), strict=True))
    files: dict[str, pq.ParquetFile] = {}
    seeded = 0
    for i in fresh:
        chunk = chunks[i]
        schema = build_schema(tasks, chunk["inputs"])
        if any(sid not in where for sid in chunk["sample_ids"]):
            continue
        groups: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for pos, sid in enumerate(chunk["sample_ids"]):
            shard, group, row = where[sid]
            groups.setdefault((shard, group), []).append((pos, row))
        parts, positions = [], []
        for (shard, group), pairs in groups.items():
            if shard not in files:
                files[shard] = pq.ParquetFile(str(dest / shard), memory_map=True)
            part = files[shard].read_row_group(group, columns=schema.names)
            parts.append(part.select(schema.names).take([r for _, r in pairs]).cast(schema))
            positions += [p for p, _ in pairs]
        table = schema.empty_table()
        if parts:
            order = np.argsort(np.asarray(positions), kind="stable")
            table = pa.concat_tables(parts).take(order).combine_chunks()
        if table.num_rows != chunk["rows"]:
            continue
        write_ipc(work / "chunks" / f"{i:06d}.arrow", table)
        marker = {k: v for k, v in chunk.items() if k != "sample_ids"}
        (work / "chunks" / f"{i:06d}.json").write_text(json.dumps(marker, sort_keys=True))
        seeded += 1
    return seeded


def _drop_outputs(dest: Path) -> None:
    """Remove shards, index and manifest written from chunks that are now being redone."""
    for path in dest.iterdir():
        if path.name == Path(INDEX).parent.name:
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in (".parquet", ".tmp", ".csv", ".json"):
            path.unlink()


def _decode(
    entry, adapter_config, raw, chunks, split_cfg, tasks, work, engine, workers, address,
    max_quarantined, progress, freshness: _Freshness, adapter_cls: type[Adapter] | None = None,
    image_codec: ImageCodec | None = None, started: engines.LocalWorkers | None = None,
) -> list[ChunkResult]:
    chunk_dir = work / "chunks"
    results: dict[int, ChunkResult] = {}
    jobs = []
    stale = False
    for i, chunk in enumerate(chunks):
        marker = chunk_dir / f"{i:06d}.json"
        if marker.exists():
            data = json.loads(marker.read_text())
            if freshness.fresh(i, data):
                results[i] = ChunkResult(i, data["rows"], data["quarantined"], data["inputs"])
                continue
            marker.unlink()  # a source file changed since: decode this chunk again
            stale = True
        local = engine != "ray"
        jobs.append(ChunkJob(
            i, entry, adapter_config, str(raw), chunk, split_cfg, tasks,
            ipc_path=str(chunk_dir / f"{i:06d}.arrow") if local else None,
            adapter_cls=adapter_cls,
            progress_path=str(chunk_dir / f"{i:06d}.progress") if local else None,
            image_codec=image_codec,
        ))
    if stale:  # shards of an interrupted write phase hold the old records
        _drop_outputs(freshness.dest)

    def quarantined_count() -> int:
        return sum(len(r.quarantined) for r in results.values())

    def check_threshold() -> None:
        n = quarantined_count()
        if max_quarantined is not None and n > max_quarantined:
            first = next(q for r in results.values() for q in r.quarantined)
            raise ClimbError(
                f"{entry.name}: {n} sources quarantined, more than --max-quarantined "
                f"{max_quarantined} (first: {first['error']}); fix them and run again "
                "(finished work is kept)"
            )

    check_threshold()
    total_items = sum(len(c) for c in chunks)
    done_items = sum(len(chunks[i]) for i in results)
    with _progress() if progress else _NullProgress() as bar:
        task = bar.add_task(f"{entry.name}: decode", total=total_items, completed=done_items)

        def _journal(job: ChunkJob, result: ChunkResult) -> None:
            if result.ipc is not None:
                ipc = chunk_dir / f"{job.index:06d}.arrow"
                tmp = ipc.with_name(ipc.name + ".tmp")
                tmp.write_bytes(result.ipc)
                tmp.replace(ipc)
                result.ipc = None
            marker = chunk_dir / f"{job.index:06d}.json"
            payload = {"rows": result.rows, "quarantined": result.quarantined,
                       "inputs": result.inputs, "fingerprint": freshness.prints[job.index],
                       "quarantine_hashes": freshness.quarantine_hashes(result)}
            tmp = marker.with_name(marker.name + ".tmp")
            tmp.write_text(json.dumps(payload, sort_keys=True))
            tmp.replace(marker)
            results[job.index] = result
            bar.update(task, advance=len(job.items))
            for q in result.quarantined:
                log.warning("quarantined %s", q["error"])  # PHI-free: see quarantine_entry
            check_threshold()

        try:
            finished = engines.run(engine, process_chunk, jobs, workers, address,
                                   on_death=_on_worker_death, started=started)
            for job, result in finished:
                _journal(job, result)
        except engines.WorkerDied as err:  # Ray, after its own retries: no item to blame
            job = err.job
            raise ClimbError(
                f"{entry.name}: a worker died ({err}) decoding chunk {job.index} "
                f"({job.items[0].source} .. {job.items[-1].source}); run it with --engine "
                "local to find and quarantine the item (finished work is kept)"
            ) from None
    return [results[i] for i in range(len(chunks))]


def _on_worker_death(job: ChunkJob, exitcode: int | None) -> list[ChunkJob]:
    """A worker died running ``job``: the jobs to run in its place.

    The worker noted the item it was decoding (``job.progress_path``). That item is decoded
    once more alone, in a fresh process: if that process dies too, the item is quarantined
    (``WorkerDied``) and the chunk runs again without it; if it lives (the death was the
    machine's, e.g. memory shared by the workers ran out), the chunk simply runs again. The
    engine stops the run when workers keep dying with no chunk finished.
    """
    how = engines.describe_exit(exitcode)
    position = _read_progress(job.progress_path)
    if position is None or not 0 <= position < len(job.items) or position in job.died:
        log.warning("a worker died (%s) in chunk %d outside an item's decoding; running the "
                    "chunk again", how, job.index)
        return [job]
    item = job.items[position]
    probe = replace(job, items=[item], ipc_path=None, progress_path=None, died={})
    alone = engines.run_isolated(process_chunk, probe)
    if alone == 0:
        log.warning("a worker died (%s) decoding %s, which decodes alone: running chunk %d "
                    "again", how, item.source, job.index)
        return [job]
    how = engines.describe_exit(alone)
    return [replace(job, died={**job.died, position: how})]


class _NullProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *args, **kwargs):
        return 0

    def update(self, *args, **kwargs):
        pass


def _write(
    entry, dest, work, results, tasks, store_cfg, split_cfg, full_config, config_hash,
    items_hash, n_items, progress,
) -> dict[str, Any]:
    chunk_dir = work / "chunks"
    kinds: dict[str, str] = {}
    for r in results:
        for name, kind in r.inputs.items():
            if kinds.setdefault(name, kind) != kind:
                raise ClimbError(f"{entry.name}: input {name!r} is both {kinds[name]} and {kind}")
    schema = build_schema([(t["name"], t["type"]) for t in tasks], kinds)
    tables = [
        read_ipc(chunk_dir / f"{r.index:06d}.arrow") if r.rows else None for r in results
    ]

    # A small index of every record: (sample_id, patient_id, split, chunk, row, bytes)
    sample_ids: list[str] = []
    patients: list[str | None] = []
    splits: list[str] = []
    where: list[tuple[int, int]] = []
    sizes: list[int] = []
    for c, table in enumerate(tables):
        if table is None:
            continue
        sample_ids += table.column("sample_id").to_pylist()
        patients += table.column("patient_id").to_pylist()
        splits += table.column("split").to_pylist()
        where += [(c, r) for r in range(table.num_rows)]
        sizes += payload_bytes(table).tolist()
    if len(set(sample_ids)) != len(sample_ids):
        seen: set[str] = set()
        dupes = sorted({s for s in sample_ids if s in seen or seen.add(s)})  # type: ignore[func-returns-value]
        raise ClimbError(f"{entry.name}: duplicate sample_id(s) from the adapter: {dupes[:5]}")
    conflicts = official_conflicts(zip(patients, splits, strict=True))
    for patient, in_splits in conflicts.items():
        if entry.split.single_subject:  # declared in the catalog: split by time, expected
            log.info("%s: single subject %s split by time over %s", entry.name, patient,
                     in_splits)
        else:
            log.warning("%s: patient %s is in splits %s", entry.name, patient, in_splits)

    # Plan the shards of each split: records sorted by sample_id, closed by bytes/rows.
    plans: list[tuple[str, list[int]]] = []
    order = sorted(range(len(sample_ids)), key=sample_ids.__getitem__)
    for split in SPLITS:
        rows = [i for i in order if splits[i] == split]
        current: list[int] = []
        current_bytes = 0
        for i in rows:
            full_rows = store_cfg.shard_rows and len(current) >= store_cfg.shard_rows
            full_bytes = current and current_bytes + sizes[i] > store_cfg.shard_bytes
            if full_rows or full_bytes:
                plans.append((split, current))
                current, current_bytes = [], 0
            current.append(i)
            current_bytes += sizes[i]
        if current:
            plans.append((split, current))

    throttle = float(os.environ.get(THROTTLE_ENV, "0") or 0)
    shard_entries = []
    index_parts = []
    counter: dict[str, int] = {}
    with _progress() if progress else _NullProgress() as bar:
        task = bar.add_task(f"{entry.name}: shards", total=len(plans))
        for split, rows in plans:
            i = counter.get(split, 0)
            counter[split] = i + 1
            fname = f"{split}-{i:05d}.parquet"
            path = dest / fname
            if not path.exists():
                table = _gather(tables, where, rows, schema)
                mean = max(1, int(np.mean([sizes[r] for r in rows])))
                rows_per_group = max(1, store_cfg.row_group_bytes // mean)
                if throttle:
                    time.sleep(throttle * len(rows))
                write_parquet_shard(path, table, rows_per_group, store_cfg.compression)
                index_parts.append(index_part(table, path))
            else:  # finished by an interrupted run: reuse it as is
                index_parts.append(shard_index_part(path))
            shard_entries.append(
                {"path": fname, "split": split, "rows": len(rows), "sha256": sha256_file(path),
                 "bytes": path.stat().st_size}
            )
            bar.update(task, advance=1)

    write_index(dest / INDEX, index_parts)
    planned = {s["path"] for s in shard_entries}
    for stale in dest.glob("*.parquet"):
        if stale.name not in planned:
            stale.unlink()
    write_splits_csv(
        dest / "splits.csv", ((sample_ids[i], patients[i], splits[i]) for i in order)
    )
    quarantined = sorted(
        (q for r in results for q in r.quarantined), key=lambda q: (q["source"], q["error"])
    )
    official = {splits[i] for i in range(len(splits))}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "dataset": entry.name,
        "title": entry.title,
        "modality": entry.modality,
        "catalog_entry_hash": entry_hash(entry),
        "climb_version": climb.__version__,
        "config": full_config,
        "config_hash": config_hash,
        "tasks": [{"name": t["name"], "type": t["type"], "classes": t["classes"],
                   **({"level": t["level"]} if t.get("level") not in (None, "sample") else {})}
                  for t in tasks],
        "label_vocabulary": {
            t["name"]: {"vocabulary": t["vocabulary"], "classes": t["classes"]} for t in tasks
        },
        "inputs": {name: {"kind": kind} for name, kind in sorted(kinds.items())},
        "split": {
            "official": bool(entry.split.official),
            "seed": split_cfg.seed,
            "ratios": list(split_cfg.ratios),
            "splits_present": sorted(official),
            "patient_conflicts": conflicts,
        },
        "shards": shard_entries,
        "index": (
            {"path": INDEX, "sha256": sha256_file(dest / INDEX), "rows": len(sample_ids)}
            if index_parts else None
        ),
        "counts": compute_counts(tables, tasks),
        "quarantined": quarantined,
        "source": {"items": n_items, "items_hash": items_hash},
    }
    write_manifest(dest / MANIFEST, manifest)
    return manifest


def _gather(tables, where, rows, schema) -> pa.Table:
    """The rows (global ids, in order) of one shard, from the memory-mapped chunks."""
    by_chunk: dict[int, list[tuple[int, int]]] = {}
    for pos, i in enumerate(rows):
        c, r = where[i]
        by_chunk.setdefault(c, []).append((pos, r))
    parts = []
    positions: list[int] = []
    for c in sorted(by_chunk):
        pairs = by_chunk[c]
        parts.append(conform(tables[c].take([r for _, r in pairs]), schema))
        positions += [p for p, _ in pairs]
    table = pa.concat_tables(parts)
    inverse = np.argsort(np.asarray(positions), kind="stable")
    return table.take(inverse).combine_chunks()


def read_shard_rows(path: Path) -> int:
    """Rows of a Parquet shard (from its footer)."""
    return pq.ParquetFile(str(path)).metadata.num_rows
