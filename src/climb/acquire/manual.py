"""Manual sources (TCIA NBIA, Stanford AIMI, Temple TUH, NDA, request forms).

climb cannot fetch these: it prints what a person must do and where the files must go, and
`climb verify` checks the copy once it is in place.
"""

from __future__ import annotations

from pathlib import Path

from climb.catalog.schema import DatasetEntry, Source


def manual_sources(entry: DatasetEntry) -> list[Source]:
    return [s for s in entry.sources if s.auth == "manual"]


def is_present(dataset_dir: Path, source: Source) -> bool:
    """Whether a manual source is in place: a file, or a non-empty directory."""
    path = dataset_dir / source.path
    if path.is_dir():
        return any(path.iterdir())
    return path.is_file()


def instructions(entry: DatasetEntry, root: Path, missing: list[Source] | None = None) -> str:
    """The steps and the expected layout, as plain text."""
    sources = missing if missing is not None else manual_sources(entry)
    dataset_dir = Path(root) / entry.name
    lines = [f"{entry.name} ({entry.title}) must be fetched by hand "
             f"[{entry.access.tier}: {entry.access.gate}]"]
    step = 0
    for text in entry.access.steps:
        step += 1
        lines.append(f"  {step}. {text}")
    for src in sources:
        if src.instructions:
            step += 1
            lines.append(f"  {step}. {src.instructions.strip()}")
        if src.url and src.url != entry.access.url:
            lines.append(f"     from: {src.url}")
    if entry.access.url:
        lines.append(f"  page: {entry.access.url}")
    lines.append(f"  expected layout under {dataset_dir}/:")
    for src in sources:
        detail = []
        if src.size is not None:
            detail.append(f"{src.size:,} bytes")
        if src.sha256:
            detail.append(f"sha256 {src.sha256}")
        kind = "directory" if src.path.endswith("/") else "file"
        tail = f" ({', '.join(detail)})" if detail else ""
        lines.append(f"    {src.path}  [{kind}]{tail}")
    lines.append(f"  then check it with: climb verify {entry.name} --root {root}")
    return "\n".join(lines)
