"""`climb list`, `climb info NAME`, `climb catalog validate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from climb.catalog.loader import Catalog, load_catalog
from climb.catalog.schema import MODALITIES, DatasetEntry

CatalogOption = typer.Option(
    None, "--catalog", help="overlay YAML adding/overriding entries (also $CLIMB_CATALOG)"
)


def entry_dict(entry: DatasetEntry) -> dict[str, Any]:
    """The entry as JSON-able data, plus derived fields (adapter availability)."""
    from climb.adapt.base import has_adapter

    data = entry.model_dump(mode="json")
    data["has_adapter"] = has_adapter(entry)
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


def render_list(entries: list[DatasetEntry], console: Console) -> None:
    table = Table(title="climb catalog", show_lines=False)
    for col in ("name", "title", "modality", "tasks", "samples", "size", "access", "adapter"):
        table.add_column(col, justify="right" if col in {"samples", "size"} else "left")
    from climb.adapt.base import has_adapter

    for e in entries:
        tasks = ", ".join(f"{t.name} ({t.type}{', ' + str(len(t.classes)) if t.classes else ''})"
                          for t in e.tasks)
        table.add_row(
            e.name,
            e.title,
            "+".join(e.modalities),
            tasks,
            _human(e.samples.total),
            _size(e.size_gb),
            e.access.tier,
            "yes" if has_adapter(e) else "",
        )
    tot = totals(entries)
    table.add_section()
    table.add_row(
        f"{tot['datasets']} datasets", "", "", "", _human(int(tot["samples"])),
        f"{tot['size_tb']:.2f} TB", "", "",
    )
    console.print(table)


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
        vocab = f" -> {t.vocabulary}" if t.vocabulary else ""
        classes = f": {', '.join(t.classes)}" if t.classes else ""
        console.print(f"  {t.name} ({t.type}, {t.level}){vocab}{classes}")
    console.print(f"[bold]access[/]: {entry.access.tier} - {entry.access.gate}")
    for i, step in enumerate(entry.access.steps, 1):
        console.print(f"  {i}. {step}")
    if entry.access.url:
        console.print(f"  {entry.access.url}")
    console.print("[bold]sources[/]")
    for src in entry.sources:
        size = f" ({src.size:,} bytes)" if src.size else ""
        console.print(f"  {src.path} <- {src.url} [{src.auth}]{size}")
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
