"""Shared Rich console and helpers for CLI commands."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mintloom.workspace import Workspace

console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")


def progress() -> Progress:
    """The progress bar every long-running command uses (quiet when not a terminal)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


@contextmanager
def tracked(items: Iterable[T], total: int, description: str) -> Iterator[Iterable[T]]:
    with progress() as bar:
        yield bar.track(items, total=total, description=description)


def workspace() -> Workspace:
    return Workspace.find()
