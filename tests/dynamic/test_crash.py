"""SIGKILL `mintloom serve` mid-load (MINTLOOM_CRASH_AT) and restart it: every creative the server
returned before it died is in the log and the blob store (write-ahead), and the request it died
on is served after the restart from what it committed, without a second leaf."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mintloom.api.runs import PASSWORD_ENV
from mintloom.faults import ENV_CRASH_AT
from mintloom.studio import Studio
from tests.conftest import PASSWORD
from tests.dynamic.conftest import render_token, serve_dynamic

URL = "/campaigns/live/render?format=medium-rectangle"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(
    root: Path, crash_at: str | None = None, *args: str
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """`mintloom serve` on loopback as a real process, until it exits (or is killed here); its
    log goes to a file beside the workspace (the third value), for a failing assertion to show."""
    port = _free_port()
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(root), PASSWORD_ENV: PASSWORD,
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}  # fmt: skip
    env.pop(ENV_CRASH_AT, None)
    if crash_at:
        env[ENV_CRASH_AT] = crash_at
    cmd = [sys.executable, "-m", "mintloom.cli.main", "serve", "--port", str(port), "--offline", *args]
    log = root.parent / f"serve-{port}.log"  # a file, not a pipe nobody reads: a full one stalls the server
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # workers start slowly on a machine shared by many
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                if proc.poll() is not None:
                    pytest.fail(f"server exited: {log.read_text(errors='replace')}")
                time.sleep(0.2)
        yield proc, base, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.mark.parametrize(
    ("point", "committed"), [("run.job:4", False), ("dynamic.rendered:4", True), ("dynamic.respond:4", True)]
)
def test_sigkill_mid_load_loses_no_returned_render(studio: Studio, point: str, committed: bool) -> None:
    served = serve_dynamic(studio, "anchorer = false\n")
    auth = render_token(served)
    root = served.workspace.root
    served.close()
    returned: dict[int, tuple[str, bytes]] = {}
    died_on: int | None = None
    with server(root, crash_at=point) as (proc, base, _log), httpx.Client(base_url=base, headers=auth) as c:
        for offer in range(10):
            try:
                r = c.post(URL, json={"offer": offer}, timeout=60)
            except httpx.TransportError:
                died_on = offer
                break
            assert r.status_code == 200, r.text
            assert "X-Mintloom-Fallback" not in r.headers, r.headers.get("X-Mintloom-Error")
            returned[offer] = (r.headers["X-Mintloom-CID"], r.content)
        assert proc.wait(30) == -signal.SIGKILL
    assert died_on == 3 and len(returned) == 3
    check = Studio(served.workspace, password=PASSWORD)
    try:
        log = check.log
        log.refresh()
        size = log.size
        assert size == (4 if committed else 3)
        for cid, body in returned.values():
            assert log.index_of(cid) is not None, f"returned render {cid} is not in the log"
            assert check.blobs.get(cid) == body
    finally:
        check.close()
    with server(root) as (_proc, base, _log), httpx.Client(base_url=base, headers=auth) as c:
        r = c.post(URL, json={"offer": died_on}, timeout=60)
        assert r.status_code == 200
        assert "X-Mintloom-Fallback" not in r.headers, r.headers.get("X-Mintloom-Error")
        assert r.headers["X-Mintloom-Cache"] == ("hit" if committed else "miss")
        again = c.post(URL, json={"offer": 0}, timeout=60)
        assert again.headers["X-Mintloom-CID"] == returned[0][0]
    check = Studio(served.workspace, password=PASSWORD)
    try:
        check.log.refresh()
        assert check.log.size == 4  # the one that died is logged once, either way
    finally:
        check.close()
