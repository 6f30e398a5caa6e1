from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mintloom.workspace import Workspace


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {k: v for k, v in os.environ.items() if k != "MINTLOOM_WORKSPACE"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mintloom.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def test_version(tmp_path: Path) -> None:
    r = _cli("--version", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("mintloom ")


def test_init_then_doctor_reports_every_component(tmp_path: Path) -> None:
    r = _cli("init", "ws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ws = tmp_path / "ws"
    assert (ws / "mintloom.toml").is_file() and (ws / ".mintloom" / "catalog.db").is_file()
    d = _cli("doctor", cwd=ws, env={"COLUMNS": "200"})
    assert d.returncode == 0, d.stdout + d.stderr
    for component in ("anvil", "forge", "solc-js", "c2pa", "web3", "database"):
        line = next(ln for ln in d.stdout.splitlines() if f" {component} " in ln)
        assert " ok " in line, line


def test_init_keeps_existing_config(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w")
    ws.config_file.write_text('log_level = "INFO"\n')
    assert _cli("init", "w", cwd=tmp_path).returncode == 0
    assert ws.config_file.read_text() == 'log_level = "INFO"\n'


def test_command_outside_workspace_is_clear_error(tmp_path: Path) -> None:
    r = _cli("node", "status", cwd=tmp_path)
    assert r.returncode == 2
    assert "no mintloom workspace" in r.stderr and "mintloom init" in r.stderr


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("log_level = 'LOUD'\n", "log_level"),
        ("[chain]\nrpc_url = 'ftp://x'\n", "chain.rpc_url"),
        ("= =\n", ""),
    ],
)
def test_bad_config_is_clear_error(tmp_path: Path, content: str, needle: str) -> None:
    ws = Workspace.init(tmp_path / "w")
    ws.config_file.write_text(content)
    r = _cli("node", "status", cwd=ws.root)
    assert r.returncode == 2, r.stderr
    assert "configuration" in r.stderr and needle in r.stderr


def test_env_overrides_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace.init(tmp_path / "w")
    monkeypatch.setenv("MINTLOOM_CHAIN__RPC_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MINTLOOM_ENGINE__WORKERS", "3")
    s = ws.settings()
    assert s.chain.rpc_url == "http://127.0.0.1:9" and s.engine.workers == 3
