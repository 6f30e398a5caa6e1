"""``POST /runs`` (scope publish) starts a campaign run; ``GET /runs/{id}`` (scope read, which
publish implies) reports its progress and, once done, a public summary or its error
(:mod:`mintloom.api.runs`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from mintloom.api.auth import AUTH_RESPONSES, require_scope
from mintloom.api.deps import part
from mintloom.api.errors import ERRORS, NotFoundError
from mintloom.api.models import ErrorOut, ProgressOut, RunAccepted, RunIn, RunOut, RunSummaryOut
from mintloom.api.runs import RunManager, RunState
from mintloom.pipeline import PipelineOptions
from mintloom.store.tokens import TokenInfo

router = APIRouter(tags=["runs"])

AUTH = AUTH_RESPONSES


def get_runs(request: Request) -> RunManager:
    return part(request.app.state, "runs", RunManager)


RunsDep = Annotated[RunManager, Depends(get_runs)]


@router.post(
    "/runs",
    status_code=202,
    response_model=RunAccepted,
    responses={**ERRORS, **AUTH, 409: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)
def start_run(
    body: RunIn, runs: RunsDep, _token: Annotated[TokenInfo, Depends(require_scope("publish"))]
) -> RunAccepted:
    """Run the campaign of a spec inside the workspace in the background (one run at a time)."""
    options = PipelineOptions(workers=body.workers, anchor=body.anchor, publish=body.publish)
    state = runs.start(body.spec, options)
    return RunAccepted(id=state.id, status=state.status)


@router.get("/runs/{run_id}", response_model=RunOut, responses={**ERRORS, **AUTH})
def get_run(
    run_id: str, runs: RunsDep, _token: Annotated[TokenInfo, Depends(require_scope("read"))]
) -> RunOut:
    """A run's status, the latest progress event of each stage reached and its summary or error."""
    state = runs.get(run_id)
    if state is None:
        raise NotFoundError(f"no run {run_id!r} on this server", hint="runs are forgotten when it restarts")
    return run_out(state)


def run_out(state: RunState) -> RunOut:
    """The public view of a run: counts and chain ids, never segment names, paths or copy text."""
    events = [
        ProgressOut(stage=e.stage.value, done=e.done, total=e.total) for e in list(state.events.values())
    ]
    error = None if state.error is None else ErrorOut(error=state.error[0], hint=state.error[1])
    return RunOut(id=state.id, status=state.status, events=events, summary=_summary(state), error=error)


def _summary(state: RunState) -> RunSummaryOut | None:
    result = state.result
    if result is None or state.status != "succeeded":
        return None
    s, anchor, published = result.summary, result.anchor, result.publish
    return RunSummaryOut(
        campaign=s.campaign, planned=s.planned, skipped=s.skipped, generated=dict(s.generated),
        log_size=s.log_size, checkpoint_size=s.checkpoint_size,
        anchored_size=None if anchor is None else anchor.size,
        anchor_tx=None if anchor is None or anchor.tx_hash is None else str(anchor.tx_hash),
        split_id=None if published is None else published.split_id,
    )  # fmt: skip
