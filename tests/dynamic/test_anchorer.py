"""The background anchorer inside the app: it anchors new render leaves after M leaves or N
seconds, survives a chain that is down (logging the error by name, retrying) and anchors a
checkpoint once (no new leaves: nothing is sent)."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from mintloom.api.app import create_app
from mintloom.api.render import RenderService
from mintloom.api.runs import PASSWORD_ENV
from mintloom.campaign.spec import TEXT_FIELDS
from mintloom.ledger.anchoring import latest_on_chain
from mintloom.ledger.node import NodeInfo
from mintloom.studio import Studio
from tests.conftest import PASSWORD
from tests.dynamic.conftest import render_token, serve_dynamic

pytestmark = pytest.mark.xdist_group("anvil")
URL = "/campaigns/live/render?format=medium-rectangle"


def _until(predicate: Callable[[], bool], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def rpc_proxy(port: int, upstream: str) -> Iterator[None]:
    """JSON-RPC forwarded from ``port`` to ``upstream`` (the chain is 'up' while this runs)."""

    class Forward(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            r = httpx.post(upstream, content=body, headers={"Content-Type": "application/json"}, timeout=30)
            self.send_response(r.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(r.content)))
            self.end_headers()
            self.wfile.write(r.content)

        def log_message(self, *_: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Forward)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()


def _verify_shows_render(
    studio: Studio, body: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mintloom verify` on a served render names campaign, template, signing time and anchor."""
    from typer.testing import CliRunner

    from mintloom.campaign.spec import load_spec
    from mintloom.cli.console import close_studios, console
    from mintloom.cli.main import app as cli

    monkeypatch.setattr(console, "width", 300)  # made at import: COLUMNS below may come too late

    path = tmp_path / "served.png"
    path.write_bytes(body)
    out = CliRunner().invoke(cli, ["verify", str(path)], env={"COLUMNS": "300"})
    close_studios()
    assert out.exit_code == 0, out.output
    spec = load_spec(studio.workspace.root / "campaign" / "campaign.yaml").spec
    template = hashlib.sha256("\n".join(spec.brand.messages["en-US"][f] for f in TEXT_FIELDS).encode())
    assert "VERIFIED" in out.output and "campaign" in out.output and " live " in out.output
    assert template.hexdigest() in out.output
    assert "signed at" in out.output and "leaf 2 of 3" in out.output and "tx 0x" in out.output


def test_anchorer_survives_a_chain_that_is_down_then_anchors_once(
    studio: Studio,
    shared_anvil: NodeInfo,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    studio.contracts()  # deployed while the chain is reachable
    port = _free_port()
    monkeypatch.setenv("MINTLOOM_CHAIN__RPC_URL", f"http://127.0.0.1:{port}")  # nothing listens: down
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    served = serve_dynamic(studio, "anchor_every_seconds = 0.5\nanchor_every_leaves = 2\n")
    auth = render_token(served)
    caplog.set_level(logging.WARNING, logger="mintloom.api.anchorer")
    try:
        with TestClient(create_app(served, offline=True)) as c:
            anchorer = c.app.state.render.anchorer  # type: ignore[attr-defined]
            assert isinstance(c.app.state.render, RenderService) and anchorer is not None  # type: ignore[attr-defined]
            for offer in (1, 2):
                assert c.post(URL, json={"offer": offer}, headers=auth).status_code == 200  # renders go on
            _until(lambda: anchorer.stats.failures >= 1)
            assert anchorer.stats.anchored_size == 0
            assert "anchoring failed (" in caplog.text and anchorer.stats.last_error in caplog.text
            with rpc_proxy(port, shared_anvil.rpc_url):  # the chain comes back
                _until(lambda: anchorer.stats.anchored_size == 2)
                assert anchorer.stats.anchors == 1 and anchorer.stats.lags
                time.sleep(1.5)  # ticks with no new leaf send nothing
                assert anchorer.stats.anchors == 1
                last = c.post(URL, json={"offer": 3}, headers=auth)
                assert last.status_code == 200
                _until(lambda: anchorer.stats.anchored_size == 3)  # N seconds pass with 1 < M leaves
                assert anchorer.stats.anchors == 2
                _verify_shows_render(served, last.content, tmp_path, monkeypatch)
        assert latest_on_chain(studio.chain).size == 3
    finally:
        served.close()


def test_the_anchorer_runs_in_its_own_process_ready_before_the_first_request(
    studio: Studio, shared_anvil: NodeInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread of the server, the anchorer took the GIL from the renders: loading its key on the
    first anchor (a scrypt derivation that holds the GIL ~1 s) stalled one render 590 ms in the
    bench, and each anchor's ~100 ms of Python (web3, checkpoint, receipts) slowed the render it
    overlapped. It is a process of its own now, loaded before the server answers."""
    studio.contracts()
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    served = serve_dynamic(studio, "anchor_every_seconds = 0.5\n")
    try:
        with TestClient(create_app(served, offline=True)) as c:
            anchorer = c.app.state.render.anchorer  # type: ignore[attr-defined]
            assert anchorer is not None and anchorer.stats.ready  # loaded before the first request
            assert anchorer.process.is_alive() and anchorer.process.pid != os.getpid()
            assert anchorer.stats.failures == 0 and anchorer.stats.anchors == 0
            assert c.post(URL, json={"offer": 4}, headers=render_token(served)).status_code == 200
            _until(lambda: anchorer.stats.anchored_size == 1)  # its reports reach the server
            process = anchorer.process
        assert not process.is_alive()  # stopped with the app
        assert latest_on_chain(studio.chain).size == 1
    finally:
        served.close()


def test_the_anchoring_process_stops_when_the_server_dies(tmp_path: Path) -> None:
    """A killed server leaves no anchorer behind (a restarted one starts its own)."""
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from mintloom.api.anchorer import Anchorer\n"
        "from mintloom.config import DynamicSettings\n"
        "from mintloom.workspace import Workspace\n"
        "ws = Workspace.init(Path(sys.argv[1]))\n"
        "a = Anchorer(ws, DynamicSettings(anchor_every_seconds=0.2), 'x' * 12)\n"
        "a.start()\n"
        "print(a.process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "ws")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        child = int(server.stdout.readline())
        assert _alive(child)
    finally:
        server.kill()
        server.wait(10)
    _until(lambda: not _alive(child), 30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
