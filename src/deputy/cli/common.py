"""What every command shares: opening the local store, printing, turning errors into messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from deputy.config import ConfigError, Settings
from deputy.errors import DeputyError
from deputy.runtime import Deputy

console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")

HomeOption = typer.Option(None, "--home", help="Deputy's data directory (default: $DEPUTY_HOME or ./.deputy).")


def settings_for(home: Path | None, **overrides: Any) -> Settings:
    try:
        return Settings.from_env(home=home.resolve() if home else None, **overrides)
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


@contextmanager
def open_deputy(home: Path | None) -> Iterator[Deputy]:
    settings = settings_for(home)
    try:
        deputy = Deputy.open(settings)
    except DeputyError as exc:
        err_console.print(f"[red]cannot open the store:[/red] {exc.description}")
        raise typer.Exit(1) from None
    try:
        yield deputy
    except DeputyError as exc:
        err_console.print(f"[red]error:[/red] {exc.description}")
        raise typer.Exit(1) from None
    finally:
        deputy.close()


def run(home: Path | None, action: Callable[[Deputy], T]) -> T:
    with open_deputy(home) as deputy:
        return action(deputy)


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))
