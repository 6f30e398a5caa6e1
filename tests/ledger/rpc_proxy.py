"""A real JSON-RPC proxy in front of anvil that behaves like a public provider: it refuses
``eth_getLogs`` over more than ``limit`` blocks with the error a named provider sends, and can
claim another chain id (an RPC URL of the wrong chain)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.engines.chat_stub import running

# the errors public providers answer an over-wide eth_getLogs with (code, message)
REFUSALS: dict[str, tuple[int, str]] = {
    "infura": (-32005, "query returned more than 10000 results"),
    "alchemy": (
        -32602,
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range "
        "and no limit on the response size, or you can request any block range with a cap of 10K logs "
        "in the response. Based on your parameters, this block range should work: [0x0, 0x7cf]",
    ),
    "alchemy-free": (
        -32600,
        "Under the Free tier plan, you can make eth_getLogs requests with up to a 10 block range.",
    ),
    "quicknode": (-32614, "eth_getLogs is limited to a 10,000 range"),
    "generic": (-32000, "block range too large"),
    "ankr": (-32062, "block range is too wide"),
}


@dataclass
class Proxy:
    url: str
    upstream: str
    limit: int
    style: str
    chain_id: int | None = None
    refused: int = 0
    served_logs: int = 0
    spans: list[int] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    """Every JSON-RPC method asked through the proxy, in order (a batch request counts each)."""


def _call(url: str, body: bytes) -> bytes:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        data: bytes = resp.read()
    return data


def _block(tag: Any, head: int) -> int:
    if tag is None or tag in ("latest", "pending", "safe", "finalized"):
        return head
    if tag == "earliest":
        return 0
    return int(tag, 16)


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = json.loads(body)
            batch = request if isinstance(request, list) else [request]
            proxy.methods += [str(r.get("method")) for r in batch]
            answer = self._answer(request) if not isinstance(request, list) else None
            data = answer if answer is not None else _call(proxy.upstream, body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, request: dict[str, Any]) -> bytes | None:
            """The proxy's own answer, or None to forward the request."""
            method, rid = request.get("method"), request.get("id")
            if method == "eth_chainId" and proxy.chain_id is not None:
                return json.dumps({"jsonrpc": "2.0", "id": rid, "result": hex(proxy.chain_id)}).encode()
            if method != "eth_getLogs":
                return None
            (flt,) = request["params"]
            if "blockHash" in flt:
                return None
            head_body = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []})
            head = int(json.loads(_call(proxy.upstream, head_body.encode()))["result"], 16)
            span = _block(flt.get("toBlock"), head) - _block(flt.get("fromBlock"), head) + 1
            proxy.spans.append(span)
            if span > proxy.limit:
                proxy.refused += 1
                code, message = REFUSALS[proxy.style]
                error = {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}
                return json.dumps(error).encode()
            proxy.served_logs += 1
            return None

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def range_limited(
    upstream: str, limit: int, style: str = "infura", *, chain_id: int | None = None
) -> Iterator[Proxy]:
    """A proxy to ``upstream`` refusing ``eth_getLogs`` over more than ``limit`` blocks."""
    proxy = Proxy(url="", upstream=upstream, limit=limit, style=style, chain_id=chain_id)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    proxy.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    with running(httpd):
        yield proxy
