"""The background anchorer inside the app: it anchors new render leaves after M leaves or N
seconds, survives a chain that is down (logging the error by name, retrying) and anchors a
checkpoint once (no new leaves: nothing is sent)."""

from __future__ import annotations

import hashlib
import logging
import socket
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
