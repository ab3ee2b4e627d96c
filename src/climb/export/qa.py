"""Question-answer export of a prepared store for vision-language training.

``export_qa(paths, out, fmt)`` writes ``OUT/<fmt>/<split>.jsonl`` (one JSON object per line)
and the media it names, once, under ``OUT/<modality>/<dataset>/``: PNG for images, ``.pt``
(``torch.save`` of the float32 ``[C, T]`` array) for signals, the stored bytes for videos.
Media paths in the JSONL are relative to ``OUT``; their second component is the dataset, which
is where QoQ-Med's DRPO takes a sample's domain from.

Formats:

- ``qoq`` (QoQ-Med's ``RLHFDataset`` JSONL): ``{"problem", "answer", "images", "videos",
  "time-series", "dataset", "id", "split", "task"}``; ``problem`` holds one ``<image>`` token
  per image (``<video>`` per video).
- ``llava`` (the CLIMB reference format): ``{"id", "images", "videos", "time-series",
  "conversations": [{"from": "human", "value": "<image>\\n<question>"}, {"from": "gpt",
  "value": "<answer>"}], "dataset", "split", "task"}``.

One sample per (record, classification task). The question lists the answer options in the
harmonized vocabulary (``Options: a; b; c.``); the answer is always among them: multiclass
and binary give one class; multilabel gives the positive classes, comma-separated, or the
vocabulary's no-finding class (``normal``, ``no_finding``...) when none is positive, else the
option ``none of these``. Skipped and counted (``OUT/<fmt>/summary.json``): a missing
multiclass label, a multilabel vector with no positive and any unknown entry (NaN), samples
with no input this export can carry; regression and segmentation tasks are not exported
(listed under ``tasks_skipped``). Text inputs and short feature vectors go into the question;
volumes, graphs and arrays without a sampling rate are not exported.

No patient id travels: ids are ``<dataset>/<sample_id>/<task>`` and media are named by sample
id, except where a sample id contains its patient id: then an opaque
``s-<sha256(dataset/sample_id)[:16]>`` replaces it. No meta is copied. Output is sorted by
(dataset, sample id, task) and byte-identical on rerun.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from climb.errors import ClimbError
from climb.store.codecs import is_encoded
from climb.store.reader import PreparedDataset, RowGroupView, open_store
from climb.store.writer import input_kinds

FORMATS = ("qoq", "llava")
CLASSIFICATION = ("binary", "multiclass", "multilabel")
#: harmonized class names that mean "nothing found": the multilabel answer when none is positive
NO_FINDING = ("no_finding", "no finding", "nofinding", "normal", "none")
NONE_OPTION = "none of these"
VIDEO_ENCODINGS = ("mp4", "avi", "webm", "mov", "video")
#: a 1-D array input of at most this many values is written into the question text
MAX_TEXT_FEATURES = 32
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class SplitSummary:
    """What one (dataset, split) contributed."""

    written: int = 0
    skipped: Counter = field(default_factory=Counter)


def display(name: str) -> str:
    """A harmonized class or task name as the question shows it (``pleural_effusion`` ->
    ``pleural effusion``)."""
    return name.replace("_", " ")


def no_finding_class(classes: Sequence[str]) -> str | None:
    """The vocabulary's no-finding-like class, if it has one."""
    for name in classes:
        if name.lower() in NO_FINDING:
            return name
    return None


def options_for(task: dict[str, Any]) -> list[str]:
    """The answer options a task's question lists (display names, vocabulary order)."""
    options = [display(c) for c in task["classes"]]
    if task["type"] == "multilabel" and no_finding_class(task["classes"]) is None:
        options.append(NONE_OPTION)
    return options


def answer_for(task: dict[str, Any], label: Any) -> tuple[str | None, str | None]:
    """(answer, None) or (None, reason skipped) for one label of a classification task."""
    classes = task["classes"]
    if task["type"] == "multilabel":
        if label is None:
            return None, "labels unknown"
        vec = np.asarray(label, dtype=np.float32)
        known = ~np.isnan(vec)
        if not known.any():
            return None, "labels unknown"
        positives = [display(classes[i]) for i in np.flatnonzero(known & (vec > 0.5))]
        if positives:
            return ", ".join(positives), None
        if not known.all():
            return None, "no positive, some unknown"
        nf = no_finding_class(classes)
        return (display(nf) if nf else NONE_OPTION), None
    if label is None or int(label) < 0 or int(label) >= len(classes):
        return None, "label missing"
    return display(classes[int(label)]), None


def question_for(task: dict[str, Any], modality: str, dataset: str, context: str) -> str:
    """The question text (without media tokens): context, the task, and its options."""
    options = "; ".join(options_for(task))
    what = f"this {display(modality)} sample from {dataset}"
    if task["type"] == "multilabel":
        ask = (
            f"Which {display(task['name'])} are present in {what}? Options: {options}. "
            "Answer with every option that applies, comma-separated."
        )
    else:
        ask = (
            f"Which {display(task['name'])} class fits {what}? Options: {options}. "
            "Answer with exactly one option."
        )
    return f"{context}{ask}"


def media_key(dataset: str, sample_id: str, patient_id: str | None) -> str:
    """The name a sample's media and id use: its sample id made path-safe, or an opaque hash
    where the sample id contains the patient id (or needed changing to be path-safe)."""
    safe = _SAFE.sub("_", sample_id)
    if (patient_id and patient_id in sample_id) or safe != sample_id or safe.startswith("."):
        return "s-" + hashlib.sha256(f"{dataset}/{sample_id}".encode()).hexdigest()[:16]
    return sample_id


def _is_image(value: np.ndarray, attrs: dict[str, Any], name: str) -> bool:
    if is_encoded(attrs.get("encoding")):
        return True
    if "sampling_rate" in attrs:
        return False
    if value.dtype == np.uint16:  # 16-bit grey, kept by the readers: a 16-bit PNG
        return value.ndim == 2
    if value.dtype != np.uint8:
        return False
    return (
        value.ndim == 2
        or (value.ndim == 3 and value.shape[-1] in (1, 3, 4))
        or (name == "image" and value.ndim == 3 and value.shape[0] in (1, 3, 4))
    )


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    arr = np.ascontiguousarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.ascontiguousarray(arr.transpose(1, 2, 0))
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _pt_bytes(signal: np.ndarray) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(torch.tensor(np.asarray(signal, dtype=np.float32)), buf)
    return buf.getvalue()


def _write_once(root: Path, rel: str, data: bytes, written: set[str]) -> None:
    """Write ``data`` to ``root/rel`` unless this export wrote it already or it is there
    with the same bytes (atomic: temp file + rename)."""
    if rel in written:
        return
    written.add(rel)
    dest = root / rel
    if dest.exists() and dest.read_bytes() == data:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dest)


@dataclass
class SampleMedia:
    """What one record contributes to every question asked about it."""

    images: list[str]
    videos: list[str]
    series: list[str]
    context: str


def _media(row: dict[str, Any], key: str, root: Path, written: set[str]) -> SampleMedia | None:
    """Write a record's media; None when it has no input this export can carry."""
    base = f"{row['modality']}/{row['dataset']}"
    images: list[str] = []
    videos: list[str] = []
    series: list[str] = []
    context: list[str] = []
    for name in sorted(row["inputs"]):
        value = row["inputs"][name]
        attrs = row["input_attrs"].get(name, {})
        suffix = "" if name in ("image", "video") or name == row["modality"] else f".{name}"
        if isinstance(value, str):
            if value.strip():
                context.append(f"{display(name).capitalize()}: {value.strip()}\n")
        elif isinstance(value, bytes | bytearray):
            encoding = str(attrs.get("encoding", ""))
            if encoding in VIDEO_ENCODINGS:
                rel = f"{base}/{key}{suffix}.{'mp4' if encoding == 'video' else encoding}"
                _write_once(root, rel, bytes(value), written)
                videos.append(rel)
            else:
                from climb.load.dataset import decode_encoded

                rel = f"{base}/{key}{suffix}.png"
                _write_once(root, rel, _png_bytes(decode_encoded(bytes(value), encoding)), written)
                images.append(rel)
        elif isinstance(value, np.ndarray):
            if _is_image(value, attrs, name):
                rel = f"{base}/{key}{suffix}.png"
                _write_once(root, rel, _png_bytes(value), written)
                images.append(rel)
            elif value.ndim == 2 and "sampling_rate" in attrs:
                rel = f"{base}/{key}{suffix}.pt"
                _write_once(root, rel, _pt_bytes(value), written)
                series.append(rel)
            elif value.ndim == 1 and value.size <= MAX_TEXT_FEATURES:
                names = attrs.get("channels") or []
                if len(names) != value.size:
                    names = [f"f{i}" for i in range(value.size)]
                units = attrs.get("units")
                unit = f" {units}" if isinstance(units, str) else ""
                pairs = ", ".join(
                    f"{n}={float(v):.4g}{unit}" for n, v in zip(names, value, strict=True)
                )
                context.append(f"{display(name).capitalize()}: {pairs}\n")
    if not (images or videos or series or context):
        return None
    return SampleMedia(images, videos, series, "".join(context))


def _rows(ds: PreparedDataset, split: str, wanted: set[str] | None) -> Iterator[dict[str, Any]]:
    """Decoded rows of one split (only ``wanted`` sample ids, when given)."""
    for path in ds.shards(split):
        pf = pq.ParquetFile(str(path), memory_map=True)
        kinds = input_kinds(pf.schema_arrow)
        for g in range(pf.num_row_groups):
            if wanted is not None:
                ids = pf.read_row_group(g, columns=["sample_id"]).column(0)
                if not pc.any(pc.is_in(ids, pa.array(sorted(wanted)))).as_py():
                    continue
            table = pf.read_row_group(g)
            if wanted is not None:
                table = table.filter(pc.is_in(table.column("sample_id"), pa.array(sorted(wanted))))
            view = RowGroupView(table, kinds)
            for i in range(len(view)):
                yield view.row(i)


def _split_ids(ds: PreparedDataset, split: str) -> list[str]:
    ids: list[str] = []
    for path in ds.shards(split):
        ids += pq.read_table(path, columns=["sample_id"]).column(0).to_pylist()
    return sorted(ids)


def _record(
    fmt: str,
    *,
    qid: str,
    dataset: str,
    split: str,
    task: str,
    question: str,
    answer: str,
    media: SampleMedia,
) -> dict[str, Any]:
    tokens = "<image>\n" * len(media.images) + "<video>\n" * len(media.videos)
    if fmt == "qoq":
        return {
            "problem": tokens + question,
            "answer": answer,
            "images": media.images,
            "videos": media.videos,
            "time-series": media.series,
            "dataset": dataset,
            "id": qid,
            "split": split,
            "task": task,
        }
    return {
        "id": qid,
        "images": media.images,
        "videos": media.videos,
        "time-series": media.series,
        "conversations": [
            {"from": "human", "value": tokens + question},
            {"from": "gpt", "value": answer},
        ],
        "dataset": dataset,
        "split": split,
        "task": task,
    }


def resolve(paths: Sequence[str | Path]) -> list[PreparedDataset]:
    """Prepared datasets named by ``STORE`` (all of it) or ``STORE/NAME`` paths, sorted by
    name; a dataset named twice is taken once."""
    found: dict[str, PreparedDataset] = {}
    for p in paths:
        for ds in open_store(p):
            found.setdefault(ds.name, ds)
    if not found:
        raise ClimbError("no prepared datasets given")
    return [found[n] for n in sorted(found)]


def export_qa(
    paths: Sequence[str | Path],
    out: str | Path,
    fmt: str = "qoq",
    splits: Sequence[str] | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Write ``OUT/<fmt>/<split>.jsonl`` and the media; returns (and writes as
    ``OUT/<fmt>/summary.json``) what was written and skipped, per dataset and split."""
    if fmt not in FORMATS:
        raise ClimbError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if limit is not None and limit < 1:
        raise ClimbError("--limit must be at least 1")
    root = Path(out)
    datasets = resolve(paths)
    written_media: set[str] = set()
    lines: dict[str, list[str]] = {}
    summary: dict[str, Any] = {"format": fmt, "limit": limit, "datasets": {}}
    for ds in datasets:
        tasks = [t for t in ds.manifest["tasks"] if t["type"] in CLASSIFICATION and t["classes"]]
        skipped_tasks = {
            t["name"]: f"{t['type']} tasks are not exported as questions"
            for t in ds.manifest["tasks"]
            if t not in tasks
        }
        entry: dict[str, Any] = {
            "tasks": [t["name"] for t in tasks],
            "tasks_skipped": skipped_tasks,
            "splits": {},
        }
        summary["datasets"][ds.name] = entry
        present = sorted({s["split"] for s in ds.manifest["shards"]})
        for split in [s for s in present if splits is None or s in splits]:
            stats = SplitSummary()
            ids = _split_ids(ds, split)
            wanted = set(ids[:limit]) if limit is not None else None
            keyed: list[tuple[str, int, str]] = []  # (sample id, task, line): sorted below
            for row in _rows(ds, split, wanted) if tasks else ():
                key = media_key(ds.name, row["sample_id"], row.get("patient_id"))
                answers = [(t, *answer_for(t, row["labels"].get(t["name"]))) for t in tasks]
                if all(a is None for _, a, _ in answers):
                    stats.skipped.update(reason for _, _, reason in answers)
                    continue
                media = _media(row, key, root, written_media)
                if media is None:
                    asked = sum(a is not None for _, a, _ in answers)
                    stats.skipped["no exportable input"] += asked
                    continue
                for t, (task, answer, reason) in enumerate(answers):
                    if answer is None:
                        stats.skipped[reason] += 1
                        continue
                    question = question_for(task, row["modality"], ds.name, media.context)
                    record = _record(
                        fmt,
                        qid=f"{ds.name}/{key}/{task['name']}",
                        dataset=ds.name,
                        split=split,
                        task=task["name"],
                        question=question,
                        answer=answer,
                        media=media,
                    )
                    keyed.append((row["sample_id"], t, json.dumps(record, ensure_ascii=False)))
                    stats.written += 1
            lines.setdefault(split, []).extend(line for *_, line in sorted(keyed))
            entry["splits"][split] = {
                "written": stats.written,
                "skipped": dict(sorted(stats.skipped.items())),
            }
    fmt_dir = root / fmt
    fmt_dir.mkdir(parents=True, exist_ok=True)
    for split, split_lines in sorted(lines.items()):
        text = "".join(line + "\n" for line in split_lines)
        tmp = fmt_dir / f"{split}.jsonl.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, fmt_dir / f"{split}.jsonl")
    (fmt_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary
