"""The `climb` command line (Typer + Rich).

Each layer contributes its commands from its own ``commands`` module, which defines
``register(app: typer.Typer) -> None``; this file only wires them together.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from climb.errors import ClimbError

app = typer.Typer(
    name="climb",
    help="climb: the data foundation for multimodal clinical foundation models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Layers that contribute commands, in the order of the flow.
COMMAND_MODULES = (
    "climb.catalog.commands",  # list, info, catalog validate
    "climb.acquire.commands",  # download, verify
    "climb.store.commands",  # prepare, audit
    "climb.train.commands",  # train
    "climb.evaluate.commands",  # evaluate
    "climb.report.commands",  # report
    "climb.export.commands",  # export qa, export table
    "climb.demo",  # demo
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # that layer has no commands yet
                continue
            raise
        module.register(app)


_register_all()


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from climb.acquire.redact import install_log_filters

    # every record is scrubbed of secrets and URLs; the HTTP stack never logs raw headers
    install_log_filters()


def main() -> None:
    """Console entry point: ClimbErrors become one clear line and exit code 1."""
    try:
        app()
    except ClimbError as err:
        from rich.console import Console
        from rich.markup import escape

        from climb.acquire.redact import scrub

        # escaped: "[tried 2 sources ...]" or a file name in brackets is text, not markup
        Console(stderr=True).print(f"[bold red]error:[/] {escape(scrub(err))}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
