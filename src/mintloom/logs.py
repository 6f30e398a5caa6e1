"""Structured logging: key=value records on stderr, JSON with MINTLOOM_LOG_JSON=1."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

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
