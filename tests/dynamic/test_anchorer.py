"""The background anchorer inside the app: it anchors new render leaves after M leaves or N
seconds, survives a chain that is down (logging the error by name, retrying) and anchors a
checkpoint once (no new leaves: nothing is sent)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient

from mintloom.api.app import create_app
from mintloom.api.render import RenderService
from mintloom.api.runs import PASSWORD_ENV
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


def test_anchorer_survives_a_chain_that_is_down_then_anchors_once(
    studio: Studio, shared_anvil: NodeInfo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
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
                assert c.post(URL, json={"offer": 3}, headers=auth).status_code == 200
                _until(lambda: anchorer.stats.anchored_size == 3)  # N seconds pass with 1 < M leaves
                assert anchorer.stats.anchors == 2
        assert latest_on_chain(studio.chain).size == 3
    finally:
        served.close()
