"""The background anchorer of ``mintloom serve``: renders append leaves one by one, and this
thread anchors the log's checkpoint every ``dynamic.anchor_every_seconds`` or as soon as
``dynamic.anchor_every_leaves`` leaves wait, whichever comes first.

It has its own studio (its own catalog connection and log), so it never shares in-memory state
with the request threads. Anchoring goes through :func:`mintloom.ledger.anchoring.anchor_log`, whose
journal sends a checkpoint once: a rerun after a crash or a failed attempt resends nothing that
landed. While the chain is down it logs the error by name and retries with a growing pause."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from mintloom.config import DynamicSettings
from mintloom.errors import MintloomError
from mintloom.studio import Studio
from mintloom.workspace import Workspace

logger = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


@dataclass
class AnchorStats:
    """What the anchorer did (read by the bench and tests)."""

    anchored_size: int = 0
    anchors: int = 0
    failures: int = 0
    last_error: str | None = None
    lags: list[float] = field(default_factory=list)
    """Seconds from the first unanchored leaf being seen to its checkpoint being anchored."""


class Anchorer:
    """Start with :meth:`start`, stop with :meth:`stop` (the app's lifespan does both)."""

    def __init__(self, workspace: Workspace, settings: DynamicSettings, password: str) -> None:
        self.workspace, self.settings, self.password = workspace, settings, password
        self.stats = AnchorStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mintloom-anchorer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        tick = min(0.5, self.settings.anchor_every_seconds)
        backoff, waiting_since, retry_at = 1.0, None, 0.0
        with Studio(self.workspace, password=self.password) as studio:
            while not self._stop.wait(tick):
                log = studio.log
                log.refresh()
                pending = log.size - self.stats.anchored_size
                now = time.monotonic()
                if pending <= 0 or now < retry_at:
                    continue
                waiting_since = waiting_since or now
                due = now - waiting_since >= self.settings.anchor_every_seconds
                if not (due or pending >= self.settings.anchor_every_leaves):
                    continue
                if self._anchor(studio):
                    self.stats.lags.append(time.monotonic() - waiting_since)
                    backoff, waiting_since = 1.0, None
                else:
                    retry_at, backoff = now + backoff, min(backoff * 2, MAX_BACKOFF)

    def _anchor(self, studio: Studio) -> bool:
        """One attempt; False (logged by the error's name) when it failed."""
        try:
            result = studio.anchor()
        except MintloomError as exc:
            self.stats.failures += 1
            self.stats.last_error = type(exc).__name__
            logger.warning("anchoring failed (%s): %s; retrying", type(exc).__name__, exc.message)
            return False
        self.stats.anchored_size = result.size
        self.stats.anchors += 0 if result.already_anchored else 1
        logger.info("anchored the log at size %d", result.size)
        return True
