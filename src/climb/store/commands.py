"""`climb prepare` and `climb audit`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def bundled_raw_dir(name: str, catalog: Path | None = None) -> Path:
    """The packaged raw folder of a bundled dataset; other tiers need ``--raw``."""
    from climb import demo_data
    from climb.catalog import load_catalog
    from climb.errors import ClimbError

    entry = load_catalog(catalog).get(name)
    if entry.access.tier != "bundled":
        raise ClimbError(
            f"{entry.name}: --raw DIR is required (the raw dataset in its official layout; "
            f"see `climb download {entry.name} --root ROOT`, then --raw ROOT/{entry.name})"
        )
    return demo_data.path(entry.name)


def register(app: typer.Typer) -> None:
    """Add `prepare` and `audit` to the climb CLI."""

    @app.command()
    def prepare(
        name: str = typer.Argument(..., help="catalog dataset name"),
        raw: Path = typer.Option(
            None, "--raw", help="raw dataset directory (official layout); optional for the "
            "bundled demo sets, which ship with climb"
        ),
        out: Path = typer.Option(..., "--out", help="store directory; writes OUT/NAME/"),
        engine: str = typer.Option("local", "--engine", help="local (process pool) or ray"),
        workers: int = typer.Option(None, "--workers", help="processes / Ray CPUs"),
        limit: int = typer.Option(None, "--limit", help="only the first N source items"),
        max_quarantined: int = typer.Option(
            None, "--max-quarantined", help="fail when more sources than this are quarantined"
        ),
        catalog: Path = typer.Option(None, "--catalog", help="catalog overlay YAML"),
        config: list[str] = typer.Option(
            None, "--config", help="key=value (adapter options; shard_bytes, shard_rows, "
            "row_group_bytes, split_seed, split_ratios=0.8,0.1,0.1)"
        ),
        ray_address: str = typer.Option(None, "--ray-address", help="Ray cluster address"),
        chunk_items: int = typer.Option(
            None, "--chunk-items",
            help="source items per work unit (default: 32, fewer on a small dataset)",
        ),
    ) -> None:
        """Decode a dataset into a sharded, checksummed, patient-split Parquet store."""
        from climb.store.prepare import CountsCheckError, describe_counts_check, parse_config
        from climb.store.prepare import prepare as run_prepare

        if raw is None:
            raw = bundled_raw_dir(name, catalog)
        failed: CountsCheckError | None = None
        try:
            manifest = run_prepare(
                name, raw, out, engine=engine, workers=workers, limit=limit,
                max_quarantined=max_quarantined, catalog=catalog, config=parse_config(config),
                ray_address=ray_address, chunk_items=chunk_items,
            )
        except CountsCheckError as err:  # the store is written: summarize it, then fail
            manifest, failed = err.manifest, err
        console = Console()
        counts = manifest["counts"]
        summary = ", ".join(f"{s} {c['samples']}" for s, c in counts.items())
        console.print(
            f"[bold green]prepared[/] {manifest['dataset']} -> {out / manifest['dataset']}: "
            f"{summary}; {len(manifest['shards'])} shards; "
            f"{len(manifest['quarantined'])} quarantined",
            highlight=False,
        )
        for q in manifest["quarantined"][:10]:
            console.print(f"  [yellow]quarantined[/] {q['error']}", highlight=False)
        if len(manifest["quarantined"]) > 10:
            console.print(f"  ... and {len(manifest['quarantined']) - 10} more (manifest.json)")
        unexpected = [q for q in manifest["quarantined"] if "unexpected error" in q["error"]]
        if unexpected:
            console.print(
                f"  [red]{len(unexpected)} unexpected error(s)[/] while decoding (a reader or "
                "adapter bug, not a bad file): the exception type and where it was raised are "
                "in manifest.json; its text is not recorded, it may hold header values",
                highlight=False,
            )
        check = manifest.get("counts_check") or {}
        if check.get("skipped"):
            console.print(f"  counts check skipped: {check['skipped']}", highlight=False)
        elif check.get("ok") is not None:
            words = describe_counts_check(check)
            if not check["ok"]:
                console.print(f"  [red]counts check failed[/]: {words} (tolerance "
                              f"{check['tolerance']:.1%})", highlight=False)
            elif any(check["difference"].values()):
                console.print(f"  [yellow]counts differ[/] within the tolerance of "
                              f"{check['tolerance']:.1%}: {words}", highlight=False)
            else:
                console.print(f"  counts check ok: {words}", highlight=False)
        if failed is not None:
            raise failed

    @app.command()
    def audit(
        store: Path = typer.Argument(..., help="store directory (or one STORE/NAME)"),
        names: list[str] = typer.Argument(None, help="datasets to audit (default: all)"),
        as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
        no_checksums: bool = typer.Option(False, "--no-checksums", help="skip sha256 checks"),
    ) -> None:
        """Check a store for patient overlap, duplicate content across splits, and any
        inconsistency between manifest.json, splits.csv, the shards and the index."""
        from climb.store.audit import audit as run_audit

        report = run_audit(store, names or None, verify_checksums=not no_checksums)
        console = Console()
        if as_json:
            console.print_json(json.dumps(report.to_dict()))
        else:
            table = Table(title=f"audit of {store} ({report.samples} samples)")
            table.add_column("check")
            table.add_column("result")
            rows = [
                ("patients in two splits", len(report.patient_overlaps)),
                ("identical content across splits", len(report.cross_split_duplicates)),
                ("shard checksum mismatches", len(report.checksum_errors)),
                ("splits.csv mismatches", len(report.split_mismatches)),
                ("store inconsistencies (manifest, splits.csv, shards, index)",
                 len(report.integrity_errors)),
            ]
            for label, n in rows:
                table.add_row(label, "[green]0[/]" if n == 0 else f"[red]{n}[/]")
            table.add_row("identical content within a split", str(report.within_split_duplicates))
            table.add_row("single-subject datasets in several splits (declared, expected)",
                          str(len(report.expected_overlaps)))
            table.add_row("identical text across splits, different patients (warning)",
                          str(len(report.cross_split_text_duplicates)))
            console.print(table)
            for o in report.expected_overlaps[:10]:
                console.print(f"  [yellow]expected[/] {o['dataset']}: single subject "
                              f"{o['patient_id']} split by time over {', '.join(o['splits'])}",
                              highlight=False)
            for o in report.patient_overlaps[:10]:
                console.print(f"  [red]leak[/] {o['dataset']}: patient {o['patient_id']} in "
                              f"{', '.join(o['splits'])}", highlight=False)
            for dup in report.cross_split_duplicates[:10]:
                where = ", ".join(f"{s['dataset']}/{s['sample_id']} ({s['split']})"
                                  for s in dup["samples"])
                console.print(f"  [red]duplicate[/] {where}", highlight=False)
            for e in report.checksum_errors[:10]:
                console.print(f"  [red]checksum[/] {e['dataset']}/{e['path']}: sha256 differs "
                              "from manifest.json", highlight=False)
            for e in report.integrity_errors[:20]:
                console.print(f"  [red]inconsistent[/] {e['dataset']}/{e['file']}: "
                              f"{e['problem']}", highlight=False)
            if len(report.integrity_errors) > 20:
                console.print(f"  ... and {len(report.integrity_errors) - 20} more (--json)")
        if not report.ok:
            raise typer.Exit(1)
