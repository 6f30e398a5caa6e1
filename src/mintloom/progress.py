"""Typed progress events of the campaign pipeline.

Every stage reports ``Progress(stage, done, total)``: the counting stages (checking outputs,
generating, verifying) once per item, the others once when they start (``done == 0``) and once
when they end (``done == total == 1``). The CLI draws Rich bars from them, the API and the web
studio can stream them; the core never knows who listens.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Stage(StrEnum):
    """The pipeline's stages, in the order they run."""

    LOAD = "load"
    GATE = "gate"
    PLAN = "plan"
    CHECK_OUTPUTS = "check outputs"
    GENERATE = "generate"
    CHECKPOINT = "checkpoint"
    DEPLOY = "deploy"
    ANCHOR = "anchor"
    PUBLISH = "publish"
    VERIFY = "verify"

    @property
    def counts_items(self) -> bool:
        """Reports once per item (a progress bar), not only start and end."""
        return self in (Stage.CHECK_OUTPUTS, Stage.GENERATE, Stage.VERIFY)


@dataclass(frozen=True)
class Progress:
    stage: Stage
    done: int
    total: int


class ProgressSink(Protocol):
    """Receives the pipeline's progress events; must not raise."""

    def __call__(self, event: Progress, /) -> None: ...


def no_progress(event: Progress, /) -> None:
    """The default sink: ignores every event."""
