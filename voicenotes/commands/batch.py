"""CLI commands for the batch area (filled in by its issue)."""

import typer


def register(app: typer.Typer) -> None:
    pass
