"""`climb report RUN_DIR [RUN_DIR ...] --out DIR`: one HTML page + report.md over runs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import track

from climb.evaluate.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED


def register(app: typer.Typer) -> None:
    """Add `climb report` to the CLI."""

    @app.command("report")
    def report(
        run_dirs: list[Path] = typer.Argument(
            ..., help="run directories (a modality-subset study directory adds its runs)"
        ),
        out: Path = typer.Option(..., "--out", help="output directory (index.html, report.md)"),
        split: str = typer.Option("test", "--split", help="split the metrics refer to"),
        bootstrap: int = typer.Option(
            DEFAULT_RESAMPLES, "--bootstrap", help="paired bootstrap resamples for deltas"
        ),
        seed: int = typer.Option(DEFAULT_SEED, "--seed", help="bootstrap seed"),
    ) -> None:
        """Tables and plots (multitask vs single-task, few-shot, fusion, robustness,
        subgroups) from run files -> OUT/index.html and OUT/report.md."""
        from climb.report.html import write_report  # matplotlib/sklearn: import lazily
        from climb.report.runs import expand_studies, load_run_info

        runs = [
            load_run_info(r, split, bootstrap, seed)
            for r in track(expand_studies(run_dirs), description="reading runs")
        ]
        index = write_report(runs, out, split, bootstrap, seed)
        Console().print(f"wrote {index} and {index.parent / 'report.md'}")
