"""``climb train CONFIG.yaml [key=value ...] [--modality-subsets]``."""

from __future__ import annotations

import json

import typer

from climb.evaluate.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        config: str = typer.Argument(..., help="YAML config (see configs/)"),
        overrides: list[str] = typer.Argument(None, help="dotted overrides, e.g. optim.lr=3e-4"),
        modality_subsets: bool = typer.Option(
            False, "--modality-subsets",
            help="train and evaluate one run per non-empty subset of the model's inputs, "
                 "under RUN_DIR/RUN_NAME/ (the modality-combination study)"),
        bootstrap: int = typer.Option(
            DEFAULT_RESAMPLES, "--bootstrap",
            help="bootstrap resamples of each subset's test CI (with --modality-subsets)"),
        seed: int = typer.Option(DEFAULT_SEED, "--bootstrap-seed",
                                 help="bootstrap seed (with --modality-subsets)"),
    ) -> None:
        """Train a model (single | multitask | fewshot | probe | finetune) from a config."""
        if modality_subsets:
            from rich.console import Console

            from climb.train.config import load_config
            from climb.train.subsets import run_modality_subsets, study_table

            document = run_modality_subsets(load_config(config, overrides or []),
                                            n_resamples=bootstrap, seed=seed)
            Console().print(study_table(document))
            typer.echo(f"study: {document['dir']}")
            return
        from climb.train.runner import train_from_config

        metrics = train_from_config(config, overrides or [])
        if metrics:
            typer.echo(json.dumps(metrics["tasks"], indent=2))
