"""`climb list`, `climb info NAME`, `climb catalog validate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from climb.catalog.loader import Catalog, load_catalog
from climb.catalog.schema import MODALITIES, DatasetEntry, Task
from climb.errors import CatalogError

CatalogOption = typer.Option(
    None, "--catalog", help="overlay YAML adding/overriding entries (also $CLIMB_CATALOG)"
)


def entry_dict(entry: DatasetEntry) -> dict[str, Any]:
    """The entry as JSON-able data, plus derived fields (adapter availability)."""
    from climb.acquire.publisher import describe
    from climb.adapt.base import has_adapter

    data = entry.model_dump(mode="json")
    data["has_adapter"] = has_adapter(entry)
    # how each source's files are checked (publisher-verified, catalog sha256, or neither)
    data["source_checks"] = [describe(src) for src in entry.sources]
    return data


def totals(entries: list[DatasetEntry]) -> dict[str, float]:
    """Datasets, samples and terabytes of a list of entries."""
    return {
        "datasets": len(entries),
        "samples": sum(e.samples.total for e in entries),
        "size_tb": round(sum(e.size_gb for e in entries) / 1000, 3),
    }


def _human(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1_000_000 else f"{n:,}"


def _size(gb: float) -> str:
    return f"{gb / 1000:.2f} TB" if gb >= 1000 else f"{gb:g} GB"


def class_counts(task: Task) -> tuple[int | None, int]:
    """(classes of the harmonized vocabulary the task maps into, or None; native classes)."""
    if not task.vocabulary:
        return None, len(task.classes)
    from climb.harmonize import load_vocabulary

    try:
        return len(load_vocabulary(task.vocabulary).classes), len(task.classes)
    except CatalogError:  # an overlay naming a vocabulary climb does not ship
        return None, len(task.classes)


def task_label(task: Task) -> str:
    """``name (type, N)`` with N the classes a model sees: the harmonized vocabulary's count
    when the task maps into one (``climb7 (multilabel, 7; 54 native)``), else the native one."""
    if not task.classes:
        return f"{task.name} ({task.type})"
    harmonized, native = class_counts(task)
    if harmonized is not None and harmonized != native:
        return f"{task.name} ({task.type}, {harmonized}; {native} native)"
    return f"{task.name} ({task.type}, {native})"


_ACCESS_SHORT = {"credentialed": "cred.", "registration": "reg.", "bundled": "bund."}
WIDE = 160  # from this terminal width on, `climb list` shows titles and every task
MEDIUM = 110  # from this width on, modalities and the adapter column; below, neither


def _size_short(gb: float) -> str:
    if gb >= 1000:
        return f"{gb / 1000:.1f}T"
    if gb >= 10:
        return f"{gb:.0f}G"
    return f"{gb:.1f}G" if gb >= 0.1 else "<.1G"


def render_list(entries: list[DatasetEntry], console: Console) -> None:
    """The catalog as a table, one line per dataset at any terminal width (80 columns too).

    From WIDE columns on: every column and task. Narrower: no title, the first task and a
    count of the others; below MEDIUM also no modality, short sizes and access tiers, and a
    ``*`` after the name marks an adapter. Names are never cut; a task label that still does
    not fit ends in an ellipsis (`climb info NAME` and `climb list --json` show everything).
    """
    from rich import box

    from climb.adapt.base import has_adapter

    width = console.width
    tier = "wide" if width >= WIDE else "medium" if width >= MEDIUM else "narrow"
    cols = {"wide": ["name", "title", "modality", "tasks", "samples", "size", "access",
                     "adapter"],
            "medium": ["name", "modality", "tasks", "samples", "size", "access", "adapter"],
            "narrow": ["name", "tasks", "samples", "size", "access"]}[tier]
    narrow = tier == "narrow"
    table = Table(title="climb catalog", box=box.SIMPLE_HEAD, padding=(0, 0),
                  show_edge=False)
    rows = []
    for e in entries:
        labels = [task_label(t) for t in e.tasks]
        if tier == "wide":
            tasks = ", ".join(labels)
        else:
            tasks = labels[0] + (f" +{len(labels) - 1}" if len(labels) > 1 else "")
        rows.append({
            "name": e.name + ("*" if narrow and has_adapter(e) else ""),
            "title": e.title,
            "modality": "+".join(e.modalities),
            "tasks": tasks,
            "samples": _human(e.samples.total),
            "size": _size_short(e.size_gb) if narrow else _size(e.size_gb),
            "access": _ACCESS_SHORT.get(e.access.tier, e.access.tier) if narrow
            else e.access.tier,
            "adapter": "yes" if has_adapter(e) else "",
        })
    tot = totals(entries)
    rows.append({"name": f"{tot['datasets']} datasets", "samples": _human(int(tot["samples"])),
                 "size": _size_short(sum(e.size_gb for e in entries)) if narrow
                 else f"{tot['size_tb']:.2f} TB"})
    widths = {c: max([len(c)] + [len(r.get(c, "")) for r in rows]) for c in cols}
    # The free-text columns share what the others leave (one space between columns); a
    # label longer than its share ends in an ellipsis instead of wrapping.
    free = [c for c in ("modality", "title", "tasks") if c in cols]
    room = width - sum(widths[c] for c in cols if c not in free) - (len(cols) - 1)
    if sum(widths[c] for c in free) > room:
        caps = {"modality": 14, "title": max(12, (room - 14) // 3)}
        for col in free[:-1]:
            widths[col] = min(widths[col], caps[col])
        widths["tasks"] = max(8, room - sum(widths[c] for c in free[:-1]))
    for col in cols:
        table.add_column(col, justify="right" if col in {"samples", "size"} else "left",
                         no_wrap=True, overflow="ellipsis", width=widths[col])
    for row in rows[:-1]:
        table.add_row(*(row[c] for c in cols))
    table.add_section()
    table.add_row(*(rows[-1].get(c, "") for c in cols))
    console.print(table)
    if narrow:
        console.print("* = has an adapter; more columns: a wider terminal, `climb info NAME` "
                      "or --json", highlight=False, markup=False)


def render_info(entry: DatasetEntry, console: Console) -> None:
    from climb.adapt.base import has_adapter

    console.print(f"[bold]{entry.title}[/] ([cyan]{entry.name}[/])")
    console.print(f"modality: {', '.join(entry.modalities)}    domain: {entry.domain}")
    console.print(f"homepage: {entry.homepage}    license: {entry.license}")
    s = entry.samples
    splits = ", ".join(f"{k} {v:,}" for k, v in (("train", s.train), ("val", s.val),
                                                 ("test", s.test)) if v is not None)
    console.print(f"samples: {s.total:,} {s.unit}" + (f" ({splits})" if splits else ""))
    console.print(f"size: ~{_size(entry.size_gb)}    adapter: "
                  f"{'yes (' + str(entry.adapter) + ')' if has_adapter(entry) else 'not yet'}")
    console.print(f"split: {'official' if entry.split.official else 'none official'} - "
                  f"{entry.split.definition}")
    pid = entry.patient_ids
    console.print(f"patient ids: {'yes' if pid.available else 'no'}"
                  + (f" ({pid.field})" if pid.field else ""))
    console.print("[bold]tasks[/]")
    for t in entry.tasks:
        harmonized, native = class_counts(t)
        vocab = f" -> {t.vocabulary}" if t.vocabulary else ""
        if harmonized is not None:
            vocab += f" ({harmonized} classes)"
        classes = f"; {native} native classes: {', '.join(t.classes)}" if t.classes else ""
        console.print(f"  {t.name} ({t.type}, {t.level}){vocab}{classes}", highlight=False,
                      markup=False)
    console.print(f"[bold]access[/]: {entry.access.tier} - {entry.access.gate}")
    for i, step in enumerate(entry.access.steps, 1):
        console.print(f"  {i}. {step}")
    if entry.access.url:
        console.print(f"  {entry.access.url}")
    from climb.acquire.publisher import describe

    console.print("[bold]sources[/]")
    for src in entry.sources:
        size = f" ({src.size:,} bytes)" if src.size else ""
        console.print(f"  {src.path} <- {src.url} \\[{src.auth}]{size}", highlight=False)
        console.print(f"    checksums: {describe(src)}", highlight=False, markup=False)
    console.print("[bold]citation[/]")
    console.print(entry.citation.strip(), highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    @app.command("list")
    def list_cmd(
        modality: str | None = typer.Option(None, "--modality", "-m", help="filter by modality"),
        access: str | None = typer.Option(
            None, "--access", "-a", help="open | registration | credentialed | bundled"
        ),
        as_json: bool = typer.Option(False, "--json", help="print the merged entries as JSON"),
        catalog: Path | None = CatalogOption,
    ) -> None:
        """List the datasets of the catalog, with totals."""
        if modality and modality not in MODALITIES:
            raise typer.BadParameter(f"unknown modality {modality!r}; one of {MODALITIES}")
        cat = load_catalog(catalog)
        entries = cat.filter(modality=modality, access=access)
        if as_json:
            payload = {"datasets": [entry_dict(e) for e in entries], "totals": totals(entries)}
            typer.echo(json.dumps(payload, indent=2))
            return
        render_list(entries, Console())

    @app.command("info")
    def info_cmd(
        name: str = typer.Argument(..., help="dataset name, e.g. ptbxl"),
        as_json: bool = typer.Option(False, "--json"),
        catalog: Path | None = CatalogOption,
    ) -> None:
        """Everything the catalog knows about one dataset, and how to get access."""
        entry = load_catalog(catalog).get(name)
        if as_json:
            typer.echo(json.dumps(entry_dict(entry), indent=2))
            return
        render_info(entry, Console())

    catalog_app = typer.Typer(help="Catalog maintenance.", no_args_is_help=True)
    app.add_typer(catalog_app, name="catalog")

    @catalog_app.command("validate")
    def validate_cmd(catalog: Path | None = CatalogOption) -> None:
        """Validate every entry, overlay included, and the label-mapping coverage."""
        from climb.harmonize import coverage_problems

        cat: Catalog = load_catalog(catalog)
        problems = coverage_problems(cat)
        console = Console()
        if problems:
            for p in problems:
                console.print(f"[red]x[/] {p}", highlight=False)
            raise typer.Exit(1)
        tot = totals(list(cat))
        console.print(
            f"[green]ok[/] {tot['datasets']} datasets, {int(tot['samples']):,} samples, "
            f"{tot['size_tb']:.2f} TB; every mapped native class is covered"
        )
