"""The bounds the API puts on requests: page and index sizes, upload size, verifications at once."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mintloom.api.models import ErrorOut
from mintloom.errors import ConfigError
from mintloom.store.files import MAX_SIDECAR_BYTES, MAX_VERIFY_BYTES

DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024
"""Largest request body ``POST /verify`` accepts (file, sidecar and multipart framing)."""

MAX_RUN_BODY = 16 * 1024
"""Largest ``POST /runs`` body: a spec path and a few options, refused before it is read or parsed."""
MAX_PAGE = 500
MAX_INDEX = 2**53
"""Largest offset or tree size a query may name: above any real log, below SQLite's 64-bit integers."""
DEFAULT_MAX_VERIFICATIONS = 2
"""``POST /verify`` requests verifying at once (each may hold an image of up to 40 MP decoded);
others wait up to :data:`DEFAULT_VERIFY_WAIT` seconds for a slot, then get 503 with Retry-After."""
DEFAULT_VERIFY_WAIT = 5.0


MAX_UPLOAD_BOUND = MAX_VERIFY_BYTES + MAX_SIDECAR_BYTES
"""The most ``POST /verify`` may be configured to accept: what ``mintloom verify`` reads of a file
and its sidecar (the CLI's bounds; decoded pixels are bounded inside the shared verify function)."""


def check_upload_limit(limit: int) -> int:
    """``limit`` if it is within the CLI's verify bounds; :class:`ConfigError` otherwise."""
    if not 0 < limit <= MAX_UPLOAD_BOUND:
        raise ConfigError(
            f"an upload limit of {limit} bytes is outside 1..{MAX_UPLOAD_BOUND}",
            hint="the API verifies no more than `mintloom verify` reads (file and sidecar)",
        )
    return limit


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the upload exceeds {limit} bytes")


class UploadLimit:
    """Refuse request bodies over ``limit`` bytes on ``paths``: by Content-Length before anything
    is read, and by counting for chunked uploads (the multipart parser then stops with 413)."""

    def __init__(self, app: ASGIApp, limit: int, paths: frozenset[str]) -> None:
        self.app = app
        self.limit = limit
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if self._declared(scope) > self.limit:
            body = ErrorOut(error=f"the upload exceeds {self.limit} bytes").model_dump_json()
            await Response(body, status_code=413, media_type="application/json")(scope, receive, send)
            return
        await self.app(scope, _Counted(receive, self.limit), send)

    @staticmethod
    def _declared(scope: Scope) -> int:
        """The largest Content-Length the client declared (0 if none, or not a number)."""
        return max((_int(v) for n, v in scope["headers"] if n == b"content-length"), default=0)


def _int(value: bytes) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


class _Counted:
    """A ``receive`` that counts body bytes and stops the request past ``limit``."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.seen = 0

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                raise _TooLarge(self.limit)
        return message
