"""`climb download NAME... --root DIR` and `climb verify NAME --root DIR`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    @app.command("download")
    def download_cmd(
        names: list[str] = typer.Argument(..., help="dataset names, e.g. ptbxl"),
        root: Path = typer.Option(..., "--root", help="files land in ROOT/NAME/"),
        workers: int = typer.Option(4, "--workers", min=1, help="files fetched in parallel"),
        subset: Path | None = typer.Option(
            None, "--subset", help="text file of records/patients to fetch (one per line)"
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="print files, total size and missing access steps"
        ),
        catalog: Path | None = typer.Option(
            None, "--catalog", help="overlay YAML adding/overriding entries (also $CLIMB_CATALOG)"
        ),
    ) -> None:
        """Download datasets: resumable, sha256-verified, with PhysioNet/Kaggle credentials."""
        from climb.acquire.api import download

        console = Console(stderr=True)
        download(names, root, workers=workers, subset=subset, dry_run=dry_run,
                 catalog=catalog, console=Console() if dry_run else console)

    @app.command("verify")
    def verify_cmd(
        name: str = typer.Argument(..., help="dataset name"),
        root: Path = typer.Option(..., "--root", help="the download root (ROOT/NAME/)"),
        catalog: Path | None = typer.Option(
            None, "--catalog", help="overlay YAML adding/overriding entries (also $CLIMB_CATALOG)"
        ),
    ) -> None:
        """Re-check sizes and sha256 of a downloaded (or hand-placed) copy."""
        from climb.acquire.api import verify

        rows = verify(name, root, catalog=catalog, console=Console())
        Console().print(f"[green]ok[/] {name}: {len(rows)} file(s) verified", highlight=False)
