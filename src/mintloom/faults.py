"""Named crash points for the crash-safety suite.

A test sets ``MINTLOOM_CRASH_AT=<point>`` (optionally ``<point>:<n>`` to crash on the n-th time
the point is reached) and the process kills itself with SIGKILL there — the same death as an
out-of-memory kill or a pulled plug, with no ``finally`` blocks, atexit handlers or buffered
writes run. Unset, :func:`crash_point` is one dictionary lookup. The points are the phase
boundaries named in ``docs/architecture.md`` (crash/recovery model).
"""

from __future__ import annotations

import os
import signal

ENV_CRASH_AT = "MINTLOOM_CRASH_AT"
_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    """SIGKILL this process if ``$MINTLOOM_CRASH_AT`` names this point (and its hit count)."""
    target = os.environ.get(ENV_CRASH_AT)
    if not target:
        return
    point, _, nth = target.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.SIGKILL)
