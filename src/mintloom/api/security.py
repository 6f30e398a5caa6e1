"""Security of every response and of ``POST /verify``: headers, a per-client rate limit, the bind rule.

* :class:`SecurityHeaders` puts a Content-Security-Policy (scripts only from this origin, never
  inline), ``nosniff``, ``frame-ancestors 'none'`` / ``X-Frame-Options: DENY`` and a strict
  Referrer-Policy on every response, errors included. FastAPI's ``/docs`` page needs its CDN and
  its one inline script: that page alone gets a policy naming them (the script by its hash).
* :class:`RateLimit` is a token bucket per client IP on the paths it guards: over the rate it
  answers 429 with ``Retry-After`` before the body is read. The client is the peer uvicorn
  reports: ``X-Forwarded-For`` counts only from the proxies uvicorn trusts (loopback by default).
* :func:`check_bind` refuses a non-loopback interface unless the API has authentication.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mintloom.api.models import ErrorOut
from mintloom.errors import UnsafeBindError
from mintloom.store.tokens import TokenStore

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SWAGGER_CDN = "https://cdn.jsdelivr.net"
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def docs_csp(app: FastAPI) -> str:
    """The policy of FastAPI's doc pages: their CDN, and Swagger's inline script by sha-256 only
    (built with the arguments FastAPI's own ``/docs`` route uses)."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "",
        title=f"{app.title} - Swagger UI",
        oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters=app.swagger_ui_parameters,
    )
    html = bytes(page.body).decode()
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    )
    return (
        f"default-src 'self'; script-src 'self' {SWAGGER_CDN} {hashes}; "
        f"style-src 'self' {SWAGGER_CDN} 'unsafe-inline'; "
        "img-src 'self' data: https://fastapi.tiangolo.com; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Add :data:`HEADERS` and a CSP to every HTTP response (``special`` maps a path to its own CSP)."""

    def __init__(self, app: ASGIApp, special: dict[str, str] | None = None) -> None:
        self.app = app
        self.special = special or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self.special.get(scope["path"], CSP).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {n.lower() for n, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in (*HEADERS, (b"content-security-policy", csp)) if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


@dataclass(frozen=True)
class VerifyRate:
    """How many ``POST /verify`` a client may send: ``burst`` at once, ``per_minute`` sustained."""

    per_minute: float = 30.0
    burst: int = 10

    def buckets(self) -> TokenBuckets:
        return TokenBuckets(self.per_minute, self.burst)


DEFAULT_VERIFY_RATE = VerifyRate()


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """Token buckets by key: ``burst`` tokens at most, refilled at ``per_minute`` a minute.
    At most ``max_keys`` buckets are kept (the least recently used go: a fresh bucket is full,
    so forgetting one never refuses anybody)."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 if granted, else the seconds until one is available."""
        with self._lock:
            now = self.clock()
            b = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            b.tokens = min(float(self.burst), b.tokens + (now - b.at) * self.rate)
            b.at = now
            self._buckets[key] = b
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / self.rate if self.rate > 0 else math.inf


class RateLimit:
    """Answer 429 (``Retry-After``) to a client over its rate on ``paths`` (POST only)."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, paths: frozenset[str]) -> None:
        self.app = app
        self.buckets = buckets
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(client[0] if client else "unknown")
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        body = ErrorOut(
            error="too many verifications from this client", hint="retry after Retry-After seconds"
        )
        retry = str(max(1, math.ceil(min(wait, 86_400))))
        response = Response(body.model_dump_json(), 429, {"Retry-After": retry}, "application/json")
        await response(scope, receive, send)


LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 maybe in brackets) is this machine only."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tokens: TokenStore, *, allow_unauthenticated: bool = False) -> None:
    """Refuse to listen on ``host`` beyond loopback unless a live admin token exists (someone
    can administer the server) or the operator said so explicitly."""
    if is_loopback(host) or allow_unauthenticated:
        return
    if any("admin" in t.scopes and not t.revoked for t in tokens.list()):
        return
    raise UnsafeBindError(
        f"refusing to listen on {host}: no API token with the admin scope exists, so nobody could "
        "administer a server reachable from other machines",
        hint="create one with `mintloom tokens create NAME --scope admin`, or pass "
        "--allow-unauthenticated to serve the public routes on purpose",
    )
