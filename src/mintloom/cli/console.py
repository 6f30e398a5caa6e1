"""Shared Rich console and helpers for CLI commands."""

from __future__ import annotations

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

from mintloom.studio import Studio
from mintloom.workspace import Workspace

console = Console()
err_console = Console(stderr=True)


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


def workspace() -> Workspace:
    return Workspace.find()


def key_password(*, confirm: bool = False) -> str | None:
    """The key password from $MINTLOOM_KEY_PASSWORD, else asked for on a terminal; None lets the
    key store raise its own clear error when there is no terminal to ask on."""
    import os
    import sys

    import typer

    if os.environ.get("MINTLOOM_KEY_PASSWORD"):
        return None
    if not sys.stdin.isatty():
        return None
    value: str = typer.prompt("key password", hide_input=True, confirmation_prompt=confirm)
    return value


_OPEN: list[Studio] = []


def studio(*, password: bool = False, read_only: bool = False) -> Studio:
    """The workspace's :class:`Studio`; with ``password`` the key password is obtained first;
    ``read_only`` for read paths (an older catalog is refused, not migrated).
    It is closed when the command ends (see :func:`close_studios`)."""
    s = Studio(workspace(), password=key_password() if password else None, read_only=read_only)
    _OPEN.append(s)
    return s


def closed_at_exit(s: Studio) -> Studio:
    """Close ``s`` when the command ends, failed or not, like :func:`studio` does."""
    _OPEN.append(s)
    return s


def close_studios() -> None:
    """Close every studio a command opened: an embedded node started for the command stops."""
    while _OPEN:
        _OPEN.pop().close()
