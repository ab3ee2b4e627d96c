"""`climb export qa` and `climb export table`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    """Add the `export` command group to the climb CLI."""
    export_app = typer.Typer(
        help="Export a prepared store for other trainers (QA JSONL, label tables).",
        no_args_is_help=True,
    )

    @export_app.command("qa")
    def qa(
        paths: list[Path] = typer.Argument(..., help="STORE (all datasets) or STORE/NAME ..."),
        out: Path = typer.Option(..., "--out", help="output directory"),
        fmt: str = typer.Option("qoq", "--format", help="qoq (QoQ-Med) or llava"),
        split: list[str] = typer.Option(None, "--split", help="only these splits"),
        limit: int = typer.Option(None, "--limit", help="first N samples per dataset and split"),
    ) -> None:
        """Question-answer JSONL (OUT/FORMAT/SPLIT.jsonl) and media (OUT/MODALITY/DATASET/)."""
        from climb.export.qa import export_qa

        summary = export_qa(paths, out, fmt, splits=split or None, limit=limit)
        table = Table(title=f"{fmt} export to {out}")
        for col in ("dataset", "split", "questions", "skipped"):
            table.add_column(col)
        for name, entry in summary["datasets"].items():
            for split_name, stats in entry["splits"].items():
                skipped = ", ".join(f"{k}: {v}" for k, v in stats["skipped"].items())
                table.add_row(name, split_name, str(stats["written"]), skipped or "0")
            for task, reason in entry["tasks_skipped"].items():
                table.add_row(name, "-", "0", f"task {task}: {reason}")
        Console().print(table)

    @export_app.command("table")
    def table(
        paths: list[Path] = typer.Argument(..., help="STORE (all datasets) or STORE/NAME ..."),
        out: Path = typer.Option(..., "--out", help="output directory"),
        fmt: str = typer.Option("parquet", "--format", help="parquet or csv"),
    ) -> None:
        """Label tables (sample_id, patient_id, split, one column per task/class)."""
        from climb.export.table import export_table

        for path in export_table(paths, out, fmt):
            Console().print(f"wrote {path}", highlight=False)

    app.add_typer(export_app, name="export")
