"""Usage mistakes on the real entry point: the usage line and one error line, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MINTLOOM_WORKSPACE"}
    return subprocess.run(
        [sys.executable, "-m", "mintloom.cli.main", *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "usage", "message"),
    [
        (("run",), "Usage: mintloom run [OPTIONS]", "Error: Missing argument 'spec'."),
        (("verify", "--bogus"), "Usage: mintloom verify [OPTIONS]", "Error: No such option: --bogus"),
        (("verify", "a", "b"), "Usage: mintloom verify [OPTIONS]", "Error: Got unexpected extra argument"),
        (("bogus",), "Usage: mintloom [OPTIONS] COMMAND", "Error: No such command 'bogus'."),
        (("keys", "bogus"), "Usage: mintloom keys [OPTIONS] COMMAND", "Error: No such command 'bogus'."),
        (("run", "-w", "x", "a.yaml"), "Usage: mintloom run [OPTIONS]", "Error: Invalid value for"),
    ],
)  # fmt: skip
def test_usage_errors_print_usage_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], usage: str, message: str
) -> None:
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith(usage)
    assert lines[-1].startswith(message) and sum(ln.startswith("Error:") for ln in lines) == 1
    assert r.stdout == ""


def test_no_arguments_prints_help_without_traceback(tmp_path: Path) -> None:
    r = _cli(cwd=tmp_path)
    assert "Traceback" not in r.stderr and "Usage: mintloom" in r.stdout + r.stderr
    assert r.returncode in (0, 2)
