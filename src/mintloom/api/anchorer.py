"""The background anchorer of ``mintloom serve``: renders append leaves one by one, and it
anchors the log's checkpoint every ``dynamic.anchor_every_seconds`` or as soon as
``dynamic.anchor_every_leaves`` leaves wait, whichever comes first.

It runs in a child process with its own studio (catalog connection, log, key, chain client), so
it shares no memory with the server and no GIL: run as a thread, its Python work (web3, checkpoint
and receipts) took the GIL from the render it overlapped, which paid for it (the uncached p99).
The server's :class:`Anchorer` starts it, waits until it has loaded what an anchor needs, follows
its reports (:class:`AnchorStats`; failures logged here by the error's name) and stops it; it also
stops on its own when the server dies. Anchoring goes through
:func:`mintloom.ledger.anchoring.anchor_log`, whose journal sends a checkpoint once: a rerun after
a crash or a failed attempt resends nothing that landed. While the chain is down it retries with a
growing pause."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Literal

from mintloom.config import DynamicSettings
from mintloom.errors import MintloomError
from mintloom.studio import Studio
from mintloom.workspace import Workspace

logger = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
START_SECONDS = 300.0
"""How long a server waits for its anchorer to load (imports, key, chain client: slow when loaded)."""


@dataclass
class AnchorStats:
    """What the anchorer did (read by the bench and tests)."""

    anchored_size: int = 0
    anchors: int = 0
    failures: int = 0
    last_error: str | None = None
    lags: list[float] = field(default_factory=list)
    """Seconds from the first unanchored leaf being seen to its checkpoint being anchored."""
    ready: bool = False
    """The anchoring process has loaded its key and chain client (or said why it could not)."""


@dataclass(frozen=True)
class Report:
    """One thing the anchoring process tells the server."""

    kind: Literal["ready", "anchored", "failed"]
    size: int = 0
    sent: bool = False
    lag: float = 0.0
    error: str = ""
    message: str = ""


class Anchorer:
    """Start with :meth:`start`, stop with :meth:`stop` (the app's lifespan does both)."""

    def __init__(self, workspace: Workspace, settings: DynamicSettings, password: str) -> None:
        self.workspace, self.settings, self.password = workspace, settings, password
        self.stats = AnchorStats()
        self._ctx = multiprocessing.get_context("spawn")  # a fork would copy the server's threads' locks
        self._stop = self._ctx.Event()
        self._ready = threading.Event()
        self.process: multiprocessing.process.BaseProcess | None = None
        self._follower: threading.Thread | None = None

    def start(self, timeout: float = START_SECONDS) -> None:
        """Start the anchoring process and wait until it is ready: what its first anchor loads
        (its signing key, whose scrypt derivation is CPU-bound, web3's client) costs the server's
        start, not a render."""
        receive, send = self._ctx.Pipe(duplex=False)
        args = (_Args(self.workspace.root, self.settings, self.password, os.getpid()), send, self._stop)
        self.process = self._ctx.Process(target=_run, args=args, name="mintloom-anchorer", daemon=True)
        self.process.start()
        send.close()
        self._follower = threading.Thread(
            target=self._follow, args=(receive,), name="mintloom-anchorer-reports", daemon=True
        )
        self._follower.start()
        self._ready.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self.process is not None:
            self.process.join(timeout)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)
        if self._follower is not None:
            self._follower.join(5)

    def _follow(self, conn: Connection) -> None:
        """Record what the process reports until it ends (a process that dies early releases
        a start that waits for it)."""
        with conn:
            while True:
                try:
                    self._record(conn.recv())
                except (EOFError, OSError):
                    break
        self._ready.set()
        code = None if self.process is None else self.process.exitcode
        if not self._stop.is_set():
            logger.error(
                "the anchoring process ended (exit code %s): nothing is anchored until a restart", code
            )

    def _record(self, r: Report) -> None:
        if r.kind == "ready":
            self.stats.ready = True
            self._ready.set()
        elif r.kind == "failed":
            self.stats.failures += 1
            self.stats.last_error = r.error
            logger.warning("anchoring failed (%s): %s; retrying", r.error, r.message)
        else:
            self.stats.anchored_size = r.size
            self.stats.anchors += int(r.sent)
            self.stats.lags.append(r.lag)
            logger.info("anchored the log at size %d", r.size)


@dataclass(frozen=True)
class _Args:
    """What the anchoring process is started with (pickled to it)."""

    root: Path
    settings: DynamicSettings
    password: str
    parent: int
    """The server's pid: this process stops when it is orphaned."""


def _run(args: _Args, conn: Connection, stop: Event) -> None:
    """The anchoring process: ready once loaded, then the loop until told to stop or orphaned
    (the server was killed: a restarted one starts its own)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C stops the server, which stops this
    with conn, Studio(Workspace(args.root), password=args.password) as studio:
        loop = _Loop(studio, args.settings, conn.send)
        loop.prepare()
        conn.send(Report("ready"))
        tick = min(0.5, args.settings.anchor_every_seconds)
        loop.run(lambda: stop.wait(tick) or os.getppid() != args.parent)


class _Loop:
    def __init__(self, studio: Studio, settings: DynamicSettings, report: Callable[[Report], None]) -> None:
        self.studio, self.settings, self.report = studio, settings, report
        self.anchored_size = 0

    def prepare(self) -> None:
        """Load the catalog, the log, the key and the chain client now (a chain that is down now
        is reported by its error's name; the loop retries it)."""
        self.studio.log.refresh()
        try:
            self.studio.signer  # noqa: B018 (loaded for its side effect)
            self.studio.chain  # noqa: B018
        except MintloomError as exc:
            self.report(Report("failed", error=type(exc).__name__, message=exc.message))

    def run(self, stopped: Callable[[], bool]) -> None:
        """Each tick until ``stopped`` (which waits a tick): anchor when due, else wait."""
        backoff, waiting_since, retry_at = 1.0, None, 0.0
        while not stopped():
            log = self.studio.log
            log.refresh()
            pending = log.size - self.anchored_size
            now = time.monotonic()
            if pending <= 0 or now < retry_at:
                continue
            waiting_since = waiting_since or now
            due = now - waiting_since >= self.settings.anchor_every_seconds
            if not (due or pending >= self.settings.anchor_every_leaves):
                continue
            if self._anchor(waiting_since):
                backoff, waiting_since = 1.0, None
            else:
                retry_at, backoff = now + backoff, min(backoff * 2, MAX_BACKOFF)

    def _anchor(self, since: float) -> bool:
        """One attempt, reported; False when it failed."""
        try:
            result = self.studio.anchor()
        except MintloomError as exc:
            self.report(Report("failed", error=type(exc).__name__, message=exc.message))
            return False
        self.anchored_size = result.size
        self.report(Report("anchored", result.size, not result.already_anchored, time.monotonic() - since))
        return True
