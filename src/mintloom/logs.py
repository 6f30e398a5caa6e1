"""Structured logging: key=value records on stderr, JSON with MINTLOOM_LOG_JSON=1."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any
from urllib.parse import urlsplit

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {k: v for k, v in vars(record).items() if k not in _RESERVED}
        base = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        if self.as_json:
            return json.dumps({**base, **fields}, default=str)
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{base['ts']} {base['level']:<7} {base['logger']}: {base['event']}" + (
            f" {extra}" if extra else ""
        )


def configure(level: str = "WARNING") -> None:
    """Configure the ``mintloom`` logger once; call from entry points only."""
    logger = logging.getLogger("mintloom")
    logger.setLevel(level)
    if not any(getattr(h, "_mintloom", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Formatter(os.environ.get("MINTLOOM_LOG_JSON") == "1"))
        handler._mintloom = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name if name.startswith("mintloom") else f"mintloom.{name}")


def public_url(url: str) -> str:
    """``scheme://host[:port]`` of a URL, for messages: the path, query and user info of an RPC
    URL often hold an API key (``https://mainnet.example.io/v3/KEY``)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "?", parts.port
    except ValueError:
        return "<url>"
    hidden = "/…" if parts.path.strip("/") or parts.query or parts.username else ""
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{hidden}"


def scrub_url(text: str, url: str) -> str:
    """``text`` (an exception's message, say) with the secret-bearing parts of ``url`` hidden."""
    try:
        parts = urlsplit(url)
        secrets = (parts.password, parts.username, parts.path.strip("/"), parts.query)
    except ValueError:
        return text.replace(url, "<url>")
    text = text.replace(url, public_url(url))
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "…")
    return text
