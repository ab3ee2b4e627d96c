"""``climb train CONFIG.yaml [key=value ...]``."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        config: str = typer.Argument(..., help="YAML config (see configs/)"),
        overrides: list[str] = typer.Argument(None, help="dotted overrides, e.g. optim.lr=3e-4"),
    ) -> None:
        """Train a model (single | multitask | fewshot | probe | finetune) from a config."""
        from climb.train.runner import train_from_config

        metrics = train_from_config(config, overrides or [])
        if metrics:
            typer.echo(json.dumps(metrics["tasks"], indent=2))
