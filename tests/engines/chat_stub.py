"""A real local chat-completions server (OpenAI-compatible) for the model engine tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar, TypeVar


class JsonHandler(BaseHTTPRequestHandler):
    """A handler answering JSON, quiet in the test output."""

    def reply(self, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


S = TypeVar("S", bound=HTTPServer)


@contextmanager
def running(httpd: S) -> Iterator[S]:
    """Serve ``httpd`` (bound to a loopback port) from a thread until the block ends."""
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A local server with ``handler``: its base URL (``.../v1``) while it runs."""
    with running(HTTPServer(("127.0.0.1", 0), handler)) as httpd:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"


class ChatHandler(JsonHandler):
    received: ClassVar[list[dict[str, object]]] = []
    headers_seen: ClassVar[list[str]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "body": body})
        type(self).headers_seen.append(self.headers.get("Authorization", ""))
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b'{"error": "nope"}')
            return
        answer = {
            "id": "chatcmpl-1",
            "model": body["model"] + "-served",
            "system_fingerprint": "fp_test",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "  Sommerschlussverkauf!  "}}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3},
        }
        self.reply(answer)


@contextmanager
def serve_chat() -> Iterator[str]:
    """The server's base URL (``.../v1``) while it runs; requests land in ``ChatHandler.received``."""
    ChatHandler.received = []
    ChatHandler.headers_seen = []
    ChatHandler.status = 200
    with serve(ChatHandler) as url:
        yield url
