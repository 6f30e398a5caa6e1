"""SIGKILL `mintloom render-url` while it makes the workspace's render-URL key: the rerun issues a
URL the server accepts (a half-made key must never be left for the server to refuse forever)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mintloom.campaign.render_url import KEY_FILE, url_key
from mintloom.errors import ConfigError
from mintloom.faults import ENV_CRASH_AT
from tests.dynamic.conftest import Live


def _render_url(root: Path, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(root), "COLUMNS": "4000"}
    env.pop(ENV_CRASH_AT, None)
    if crash_at:
        env[ENV_CRASH_AT] = crash_at
    cmd = [sys.executable, "-m", "mintloom.cli.main", "render-url", "live", "-v", "weather=rainy"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_kill_while_the_key_is_made_leaves_a_usable_workspace(live: Live) -> None:
    state = live.studio.workspace.state_dir
    killed = _render_url(live.studio.workspace.root, crash_at="render-url.key")
    assert killed.returncode == -9, killed.stderr
    assert not (state / "render-url.key").exists() or len((state / "render-url.key").read_bytes()) == 32
    rerun = _render_url(live.studio.workspace.root)
    assert rerun.returncode == 0, rerun.stderr
    url = "".join(rerun.stdout.split())
    served = live.client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert served.status_code == 200, served.text
    assert served.headers["X-Mintloom-CID"]
    assert len((state / "render-url.key").read_bytes()) == 32
    assert [p.name for p in state.iterdir() if p.name.startswith("render-url.key.")] == []


def test_an_empty_key_left_by_an_earlier_version_is_replaced(tmp_path: Path) -> None:
    """Before the key was written whole, a kill between create and write left it empty: a server
    refuses it (and writes nothing), the next maker replaces it with a whole key."""
    (tmp_path / KEY_FILE).write_bytes(b"")
    with pytest.raises(ConfigError, match="damaged"):
        url_key(tmp_path, create=False)
    assert (tmp_path / KEY_FILE).read_bytes() == b""
    key = url_key(tmp_path)
    assert len(key) == 32 and url_key(tmp_path, create=False) == key
