"""Campaign runs started over the API: one background thread per run, one run at a time per
workspace, each through :class:`~mintloom.pipeline.Pipeline` like ``mintloom run``.

Runs live in memory only: a restarted server forgets them (their files, log and chain state stay;
the pipeline resumes, so POSTing the same spec again finishes an interrupted run). The run opens its
own studio with the key password of the server's environment (``MINTLOOM_KEY_PASSWORD``).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mintloom.api.errors import ConflictError, InvalidInputError, UnavailableError, public_error
from mintloom.errors import MintloomError, OutputPathError
from mintloom.pipeline import Pipeline, PipelineOptions
from mintloom.progress import Progress, Stage
from mintloom.store.files import contained
from mintloom.studio import Studio
from mintloom.workspace import Workspace

if TYPE_CHECKING:
    from mintloom.pipeline import PipelineResult

logger = logging.getLogger(__name__)

Status = Literal["queued", "running", "succeeded", "failed"]
PASSWORD_ENV = "MINTLOOM_KEY_PASSWORD"
MAX_RUNS = 100
"""Runs remembered per app; the oldest are forgotten first (the one in progress is the newest)."""

_BUSY: set[Path] = set()
"""Workspaces (resolved roots) with a run in progress, across every app of the process."""
_BUSY_LOCK = threading.Lock()


@dataclass
class RunState:
    id: str
    status: Status = "queued"
    events: dict[Stage, Progress] = field(default_factory=dict)
    """The latest event of each stage reached, in stage order (bounded, however many jobs)."""
    result: PipelineResult | None = None
    error: tuple[str, str | None] | None = None

    def record(self, event: Progress, /) -> None:
        """The pipeline's progress sink (one dict store, atomic under the GIL for readers)."""
        self.events[event.stage] = event


def spec_inside(root: Path, spec: str) -> Path:
    """The spec file named relative to the workspace ``root``, resolved, if it stays inside it
    (no absolute path, ``..``, NUL, or symlink out), is a file and is not in a hidden folder such as
    the workspace state ``.mintloom/`` (keys, catalog); :class:`InvalidInputError` otherwise."""
    hint = "give a path relative to the workspace root, e.g. campaign/campaign.yaml"
    refused = InvalidInputError("the spec must name a file inside the workspace", hint=hint)
    if not spec or "\0" in spec or "\\" in spec or Path(spec).is_absolute() or ".." in Path(spec).parts:
        raise refused
    base = root.resolve()
    try:
        target = contained(base, (base / spec).resolve(strict=True))
    except (OSError, RuntimeError, OutputPathError) as exc:
        raise refused from exc
    if not target.is_relative_to(base) or not target.is_file() or _hidden(target.relative_to(base)):
        raise refused
    return target


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


class RunManager:
    """The runs of one app's workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._runs: dict[str, RunState] = {}
        self.one_process = True
        """False in a worker of `serve --workers N`: a run's state lives in the process that
        started it (another worker would answer its GET with 404), and the guard against two runs
        of one workspace covers one process, so such a server starts none."""

    def get(self, run_id: str) -> RunState | None:
        return self._runs.get(run_id)

    def start(self, spec: str, options: PipelineOptions) -> RunState:
        """Start a run in the background; 503 without a key password, 422 for a spec outside the
        workspace, 409 while another run of this workspace is in progress."""
        if not self.one_process:
            hint = "run campaigns with `mintloom run`, or serve with --workers 1"
            raise UnavailableError("a server of several worker processes starts no runs", hint=hint)
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise UnavailableError("this server cannot run campaigns: it has no key password",
                                   hint=f"start `mintloom serve` with {PASSWORD_ENV} set")  # fmt: skip
        path = spec_inside(self.workspace.root, spec)
        root = self.workspace.root.resolve()
        with _BUSY_LOCK:
            if root in _BUSY:
                raise ConflictError("a run of this workspace is in progress", hint="wait until it ends")
            _BUSY.add(root)
        state = RunState(uuid.uuid4().hex)
        self._runs[state.id] = state
        while len(self._runs) > MAX_RUNS:
            del self._runs[next(iter(self._runs))]
        worker = threading.Thread(target=self._run, args=(state, path, options, password, root), daemon=True)
        worker.start()
        return state

    def _run(self, state: RunState, spec: Path, options: PipelineOptions, password: str, root: Path) -> None:
        state.status = "running"
        try:
            with Studio(self.workspace, password=password) as studio:
                studio.ensure_keys()
                state.result = Pipeline(studio, progress=state.record).run(spec, options)
            state.status = "succeeded"
        except MintloomError as exc:
            message, hint = public_error(exc)
            state.error = (message.replace(str(root), "<workspace>"), hint)
            state.status = "failed"
        except Exception:
            logger.exception("run %s failed", state.id)
            state.error = ("the run failed unexpectedly", "see the server log for details")
            state.status = "failed"
        finally:
            with _BUSY_LOCK:
                _BUSY.discard(root)
