"""``POST /verify``: verify an uploaded file exactly as ``mintloom verify`` does."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from mintloom.api.deps import ApiSettings, SettingsDep, SlotsDep, VerifierDep
from mintloom.api.errors import ERRORS, BusyError, PayloadTooLargeError
from mintloom.api.models import ErrorOut, public_report
from mintloom.verify.report import VerifyReport
from mintloom.verify.verifier import verify_bytes

router = APIRouter(tags=["verify"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "Upload too large"},
    422: ERRORS[422],
    503: {"model": ErrorOut, "description": "Every verification slot is busy: retry after Retry-After"},
}


@router.post("/verify", responses=RESPONSES)
async def verify(
    file: Annotated[UploadFile, File(description="The media file to verify")],
    *,
    shared: VerifierDep,
    slots: SlotsDep,
    settings: SettingsDep,
    sidecar: Annotated[UploadFile | None, File(description="Detached C2PA manifest (.c2pa)")] = None,
    offline: Annotated[bool, Query(description="Do not consult the chain")] = False,
) -> VerifyReport:
    """Verify a file exactly as ``mintloom verify`` does. The verdict (VERIFIED, TAMPERED,
    UNTRUSTED, UNKNOWN) is in the report: the status is 200 whatever it is. The history names
    ancestors by CID and relation only (the catalog's label holds the audience segment)."""
    async with _slot(slots, settings):
        data = await file.read()
        side = None if sidecar is None else await sidecar.read()
        if len(data) + len(side or b"") > settings.max_upload_bytes:
            raise PayloadTooLargeError(f"the upload exceeds {settings.max_upload_bytes} bytes")
        ctx = await run_in_threadpool(shared.context, offline)
        name = file.filename or "upload"
        report = await run_in_threadpool(verify_bytes, data, name, ctx, sidecar=side or None)
        return public_report(report)


@asynccontextmanager
async def _slot(slots: threading.BoundedSemaphore, settings: ApiSettings) -> AsyncIterator[None]:
    """One of the verification slots, waited for up to ``verify_wait`` seconds, else 503."""
    if not await run_in_threadpool(slots.acquire, True, settings.verify_wait):
        raise BusyError(f"all {settings.max_verifications} verification slots are busy", hint="retry shortly")
    try:
        yield
    finally:
        slots.release()
