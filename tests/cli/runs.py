"""Running `mintloom` in tests, one definition for the market and governance suites: in process
(CliRunner, or the installed entry point's exit code), as another dev account, or as a real
process that a named crash point may SIGKILL (the crash suites)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mintloom.cli.console import close_studios
from mintloom.cli.main import app, run
from mintloom.faults import ENV_CRASH_AT
from mintloom.ledger.client import ChainClient
from mintloom.ledger.node import dev_key
from mintloom.studio import Studio
from tests.conftest import PASSWORD

KILLED = -signal.SIGKILL
"""The return code of a CLI process killed at its crash point."""


def mintloom(*args: str) -> Result:
    """``mintloom ARGS`` in this process (its studios closed afterwards)."""
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        close_studios()


def exit_code(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """What the installed `mintloom` exits with (its one error boundary, :func:`run`)."""
    monkeypatch.setattr(sys, "argv", ["mintloom", *args])
    with pytest.raises(SystemExit) as info:
        run()
    return int(info.value.code or 0)


def as_party(monkeypatch: pytest.MonkeyPatch, index: int) -> None:
    """Later in-process commands sign as dev account ``index``."""
    monkeypatch.setenv("MINTLOOM_CHAIN__PRIVATE_KEY", dev_key(index))


def party(studio: Studio, index: int) -> ChainClient:
    """Dev account ``index`` on ``studio``'s chain and catalog."""
    chain = studio.chain
    return ChainClient(chain.rpc_url, dev_key(index), studio.db, chain.deployments)


def run_cli(
    workspace: Path, key: int, *args: str, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``mintloom ARGS`` as a real process on ``workspace`` signing as dev account ``key``,
    SIGKILLed at crash point ``crash_at`` when given."""
    env = {
        **os.environ, "MINTLOOM_WORKSPACE": str(workspace), "MINTLOOM_KEY_PASSWORD": PASSWORD,
        "MINTLOOM_CHAIN__PRIVATE_KEY": dev_key(key), "COLUMNS": "300",
    }  # fmt: skip
    env.pop(ENV_CRASH_AT, None)
    if crash_at is not None:
        env[ENV_CRASH_AT] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "mintloom.cli.main", *args], capture_output=True, text=True, env=env,
        timeout=180, check=False,
    )  # fmt: skip
