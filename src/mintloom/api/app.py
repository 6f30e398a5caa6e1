"""The HTTP API: read the catalog, fetch content and receipts, get log proofs, verify uploads.

>>> app = create_app(Studio.open(), offline=True)     # then: uvicorn.run(app)

Read-only: nothing here signs, appends or touches the workspace keys (no key password is
needed). Public only, until clients authenticate: no response carries an audience segment's name,
personalised copy (tags, or the content of a ``copy`` asset) or a path of the machine; every field
served is listed in its response model. ``POST /verify`` runs
:func:`~mintloom.verify.verifier.verify_bytes`, the same function as ``mintloom verify``, with one
:class:`~mintloom.verify.verifier.VerifyContext` shared by all requests. Every
:class:`~mintloom.errors.MintloomError` becomes ``{"error", "hint"}`` with a status chosen by
subsystem; so do FastAPI's own HTTP and validation errors.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Annotated, Any

from fastapi import FastAPI, File, HTTPException, Path, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mintloom import __version__
from mintloom.campaign.run import seed_commitment
from mintloom.errors import (
    ConfigError,
    LedgerError,
    MintloomError,
    ProvenanceError,
    SpecError,
    StoreError,
    VerifyError,
)
from mintloom.provenance.log import LogLeaf, Receipt, SignedCheckpoint
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.cid import parse_cid
from mintloom.studio import Studio
from mintloom.types import CID
from mintloom.verify.report import VerifyReport
from mintloom.verify.verifier import VerifyContext, verify_bytes

logger = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024
"""Largest request body ``POST /verify`` accepts (file, sidecar and multipart framing)."""

MAX_PAGE = 500
MAX_INDEX = 2**53
"""Largest offset or tree size a query may name: above any real log, below SQLite's 64-bit integers."""
DEFAULT_MAX_VERIFICATIONS = 2
"""``POST /verify`` requests verifying at once (each may hold an image of up to 40 MP decoded);
others wait up to :data:`DEFAULT_VERIFY_WAIT` seconds for a slot, then get 503 with Retry-After."""
DEFAULT_VERIFY_WAIT = 5.0


# --- errors ---------------------------------------------------------------------------------------
class ApiError(MintloomError):
    """An error the API raises about the request itself."""

    status_code = 400


class NotFoundError(ApiError):
    status_code = 404


class InvalidInputError(ApiError):
    status_code = 422


class PayloadTooLargeError(ApiError):
    status_code = 413


class PrivateContentError(ApiError):
    """Personalised content (a copy asset's text) asked of an API that does not authenticate."""

    status_code = 403


class BusyError(ApiError):
    """Every verification slot is taken: the client retries after ``Retry-After`` seconds."""

    status_code = 503
    retry_after = 1


def status_for(exc: MintloomError) -> int:
    """HTTP status of a mintloom error, by subsystem."""
    if isinstance(exc, ApiError):
        return exc.status_code
    if isinstance(exc, (VerifyError, SpecError)):
        return 422
    if isinstance(exc, LedgerError):
        return 503
    return 500


def _public(exc: MintloomError, status: int) -> tuple[str, str | None]:
    """The message a client may see: storage failures can carry paths and SQL, so they don't."""
    if isinstance(exc, StoreError):
        return "the catalog or blob store failed", "see the server log for details"
    if isinstance(exc, ConfigError):
        return "the workspace is misconfigured", "see the server log for details"
    if isinstance(exc, LedgerError):
        return "the chain is unavailable", exc.hint
    return exc.message, exc.hint


# --- response models ------------------------------------------------------------------------------
class ErrorOut(BaseModel):
    error: str
    hint: str | None = None


class HealthOut(BaseModel):
    """Public: no path of the machine."""

    status: str = "ok"
    version: str
    log_size: int = Field(ge=0)
    checkpoint_size: int | None = None
    offline: bool


class Colour(BaseModel):
    name: str
    hex: str


class Dimensions(BaseModel):
    width: int
    height: int


class AssetTags(BaseModel):
    """The public auto-tags of an asset: what it looks or sounds like, never its text. An
    allow-list: tags the catalog holds beyond these (text, text boxes) are not served."""

    engine: str | None = None
    kind: str | None = None
    locale: str | None = None
    format: str | None = None
    layout: str | None = None
    dimensions: Dimensions | None = None
    colors: list[Colour] | None = None
    model: str | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    scale: str | None = None


class AssetSummary(BaseModel):
    """Public fields of an asset: no segment, no text, no path."""

    cid: str
    kind: str
    media_type: str
    campaign: str
    locale: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    leaf_index: int = Field(ge=0)
    tags: AssetTags = Field(default_factory=AssetTags)


class AssetPage(BaseModel):
    total: int = Field(ge=0)
    limit: int
    offset: int
    items: list[AssetSummary]


class LineageParent(BaseModel):
    cid: str
    relation: str


class AssetDetail(AssetSummary):
    content_cid: str
    """CID of the engine output before signing."""
    sidecar_cid: str | None = None
    manifest_hash: str
    engine: str
    engine_version: str
    model_id: str | None = None
    seed_commitment: str | None = None
    """Salted commitment of the engine seed (the seed itself is derived from the segment name)."""
    created_at: str
    parents: list[LineageParent] = Field(default_factory=list)


class CheckpointOut(BaseModel):
    origin: str
    size: int
    root: str
    timestamp: int
    note: str
    signature: str
    signer_chain: str
    signed_note: str
    """The checkpoint as a C2SP signed note (body, blank line, signature line)."""

    @classmethod
    def of(cls, cp: SignedCheckpoint) -> CheckpointOut:
        return cls(**cp.model_dump(), signed_note=cp.signed_note())


class InclusionProofOut(BaseModel):
    cid: str
    leaf_index: int
    tree_size: int
    manifest_hash: str
    leaf_hash: str
    root: str
    proof: list[str]
    """RFC 9162 audit path, hex, deepest sibling first."""
    checkpoint: CheckpointOut | None = None
    """The signed checkpoint of ``tree_size``, if one was signed."""


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: list[str]
    """RFC 9162 consistency proof, hex."""


def _summary_fields(row: AssetRow) -> dict[str, Any]:
    return {
        "cid": row.cid,
        "kind": row.kind,
        "media_type": row.media_type,
        "campaign": row.campaign,
        "locale": row.locale,
        "format": row.format,
        "width": row.width,
        "height": row.height,
        "leaf_index": row.leaf_index,
        "tags": public_tags(row.tag_dict()),
    }


_PUBLIC_HISTORY = frozenset({"action", "ingredient", "relationship", "valid", "derived_from", "relation"})


def public_report(report: VerifyReport) -> VerifyReport:
    """The report with only the public keys of its history entries (an allow-list)."""
    history = [{k: v for k, v in h.items() if k in _PUBLIC_HISTORY} for h in report.history]
    return report.model_copy(update={"history": history})


def public_tags(tags: dict[str, Any]) -> AssetTags:
    """The allow-listed tags, each dropped if it does not have its public type."""
    kept: dict[str, Any] = {}
    for name in AssetTags.model_fields:
        if name in tags:
            try:
                AssetTags.model_validate({name: tags[name]})
            except ValueError:
                continue
            kept[name] = tags[name]
    return AssetTags.model_validate(kept)


# --- request size limit ---------------------------------------------------------------------------
class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the upload exceeds {limit} bytes")


class UploadLimit:
    """Refuse request bodies over ``limit`` bytes on ``paths``: by Content-Length before anything
    is read, and by counting for chunked uploads (the multipart parser then stops with 413)."""

    def __init__(self, app: ASGIApp, limit: int, paths: frozenset[str]) -> None:
        self.app = app
        self.limit = limit
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    body = ErrorOut(error=f"the upload exceeds {self.limit} bytes").model_dump_json()
                    resp = Response(body, status_code=413, media_type="application/json")
                    await resp(scope, receive, send)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


# --- shared verification context ------------------------------------------------------------------
class _Verifier:
    """The one VerifyContext of the app, built on first use (or at startup) under a lock, with its
    fingerprint index rebuilt when the log has grown since (another process ran a campaign)."""

    def __init__(self, studio: Studio, offline: bool) -> None:
        self.studio = studio
        self.offline = offline
        self._lock = threading.Lock()
        self._ctx: VerifyContext | None = None
        self._indexed_size = -1

    def context(self, offline: bool = False) -> VerifyContext:
        with self._lock:
            log = self.studio.log
            log.refresh()
            ctx = self._ctx
            if ctx is None:
                ctx = VerifyContext.from_studio(self.studio, offline=self.offline)
            elif self._indexed_size != log.size:
                ctx = replace(ctx, _index=None)  # the same context, its fingerprint index rebuilt
            if ctx is not self._ctx:
                ctx.fingerprint_index()  # lazily built inside; never concurrently
                self._ctx, self._indexed_size = ctx, log.size
        if offline and ctx.chain is not None:
            return replace(ctx, chain=None, chain_error=None)
        return ctx


def _cid(raw: str) -> CID:
    try:
        return parse_cid(raw)
    except ProvenanceError as exc:
        raise InvalidInputError(
            exc.message, hint="CIDs are base32 CIDv1 (sha2-256, raw 'bafkrei...' or dag-pb 'bafybei...')"
        ) from exc


# --- the app --------------------------------------------------------------------------------------
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Not found"},
    422: {"model": ErrorOut, "description": "Invalid request"},
}

CidPath = Annotated[str, Path(description="CIDv1 (base32, raw, sha2-256) of the asset")]


def create_app(
    studio: Studio,
    *,
    offline: bool = False,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
    max_verifications: int = DEFAULT_MAX_VERIFICATIONS,
    verify_wait: float = DEFAULT_VERIFY_WAIT,
) -> FastAPI:
    """The API over ``studio``'s workspace. ``offline`` never consults the chain when verifying."""
    verifier = _Verifier(studio, offline)
    slots = threading.BoundedSemaphore(max_verifications)
    # open the shared parts now, so concurrent first requests don't race on the cached properties
    _ = studio.db, studio.log
    catalog = Catalog(studio.db)
    blobs = LocalBlobStore(studio.workspace.blobs_dir)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(verifier.context)  # build the context and fingerprint index once
        yield

    app = FastAPI(
        title="mintloom",
        version=__version__,
        description="Catalog, transparency-log proofs and verification of a mintloom workspace.",
        lifespan=lifespan,
    )
    app.add_middleware(UploadLimit, limit=max_upload_bytes, paths=frozenset({"/verify"}))
    app.state.studio = studio
    app.state.verifier = verifier
    app.state.verify_slots = slots

    # -- errors -----------------------------------------------------------------------------------
    async def mintloom_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, MintloomError)
        status = status_for(exc)
        if status >= 500:
            logger.error("request failed: %s", exc, exc_info=exc)
        error, hint = _public(exc, status)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, BusyError) else None
        return JSONResponse(
            ErrorOut(error=error, hint=hint).model_dump(), status_code=status, headers=headers
        )

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        body = ErrorOut(error=str(exc.detail)).model_dump()
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    async def validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()
        ]
        body = ErrorOut(error="invalid request", hint="; ".join(problems) or None).model_dump()
        return JSONResponse(body, status_code=422)

    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
        MintloomError: mintloom_error,
        StarletteHTTPException: http_error,
        RequestValidationError: validation_error,
    }
    for cls, handler in handlers.items():
        app.add_exception_handler(cls, handler)

    # -- health -----------------------------------------------------------------------------------
    @app.get("/health", tags=["meta"])
    def health() -> HealthOut:
        """Liveness, version and the size of the transparency log (public: never the workspace path)."""
        studio.log.refresh()
        cp = studio.log.latest_checkpoint()
        return HealthOut(
            version=__version__,
            log_size=studio.log.size,
            checkpoint_size=None if cp is None else cp.size,
            offline=offline,
        )

    # -- assets -----------------------------------------------------------------------------------
    @app.get("/assets", tags=["assets"], responses={422: ERRORS[422]})
    def list_assets(
        *,
        campaign: Annotated[str | None, Query(max_length=64)] = None,
        kind: Annotated[str | None, Query(max_length=16, description="image, copy or audio")] = None,
        locale: Annotated[str | None, Query(max_length=35, description="BCP 47 tag, e.g. en-US")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
    ) -> AssetPage:
        """Assets in log order, filtered and paginated. Public fields only: no audience segment (nor a
        filter by one, which would confirm a guessed name), no text, no path."""
        conds = []
        if campaign is not None:
            conds.append(AssetRow.campaign == campaign)
        if kind is not None:
            conds.append(AssetRow.kind == kind)
        if locale is not None:
            conds.append(AssetRow.locale == locale)
        with studio.db.session() as s:
            total = s.scalar(select(func.count()).select_from(AssetRow).where(*conds)) or 0
            rows = s.scalars(
                select(AssetRow).where(*conds).order_by(AssetRow.leaf_index).limit(limit).offset(offset)
            )
            items = [AssetSummary(**_summary_fields(r)) for r in rows]
        return AssetPage(total=total, limit=limit, offset=offset, items=items)

    def _asset(raw: str) -> AssetRow:
        cid = _cid(raw)
        row = catalog.asset(cid)
        if row is None:
            raise NotFoundError(f"no asset {cid} in this catalog")
        return row

    def _seed_commitment(row: AssetRow) -> str | None:
        campaign = catalog.campaign(row.campaign)
        return None if campaign is None else seed_commitment(campaign.salt, row.seed)

    @app.get("/assets/{cid}", tags=["assets"], responses=ERRORS)
    def get_asset(cid: CidPath) -> AssetDetail:
        """One asset with its lineage parents: public fields only (no segment, text or path)."""
        row = _asset(cid)
        parents = [LineageParent(cid=p, relation=r) for p, r in catalog.parents(row.cid)]
        return AssetDetail(
            **_summary_fields(row),
            content_cid=row.content_cid,
            sidecar_cid=row.sidecar_cid,
            manifest_hash=bytes(row.manifest_hash).hex(),
            engine=row.engine,
            engine_version=row.engine_version,
            model_id=row.model_id,
            seed_commitment=_seed_commitment(row),
            created_at=row.created_at.isoformat(),
            parents=parents,
        )

    def _blob(cid: str, media_type: str, filename: str) -> Response:
        data = blobs.get(cid)
        return Response(
            data,
            media_type=media_type,
            headers={
                "ETag": f'"{cid}"',
                "Cache-Control": "public, max-age=31536000, immutable",
                "Content-Disposition": f'inline; filename="{filename}"',
            },
        )

    content_response: dict[int | str, dict[str, Any]] = {
        200: {"content": {"application/octet-stream": {}}, "description": "The file as distributed"},
        403: {"model": ErrorOut, "description": "Personalised copy: not served without authentication"},
        **ERRORS,
    }

    @app.get("/assets/{cid}/content", tags=["assets"], response_class=Response, responses=content_response)
    def get_content(cid: CidPath) -> Response:
        """The asset's bytes (with its embedded Content Credential), served with its media type.
        Images and audio only: a ``copy`` asset is personalised text (403 until clients authenticate)."""
        row = _asset(cid)
        if row.kind == "copy":
            raise PrivateContentError(
                f"asset {row.cid} is personalised copy, which this API does not serve",
                hint="read it in the workspace (out/ or `mintloom export`); its sidecar manifest is public",
            )
        return _blob(row.cid, row.media_type, f"{row.cid}.{row.extension}")

    sidecar_response = {k: v for k, v in content_response.items() if k != 403}

    @app.get("/assets/{cid}/sidecar", tags=["assets"], response_class=Response, responses=sidecar_response)
    def get_sidecar(cid: CidPath) -> Response:
        """The asset's detached C2PA manifest, for formats that carry it beside the file."""
        row = _asset(cid)
        if row.sidecar_cid is None:
            raise NotFoundError(f"asset {row.cid} has no sidecar manifest")
        return _blob(row.sidecar_cid, "application/c2pa", f"{row.cid}.{row.extension}.c2pa")

    @app.get("/assets/{cid}/receipt", tags=["assets", "log"], responses=ERRORS)
    def get_receipt(cid: CidPath) -> Receipt:
        """The asset's log receipt: leaf, inclusion proof, signed checkpoint and anchor if any."""
        c = _cid(cid)
        receipt = studio.log.receipt(c)
        if receipt is None:
            raise NotFoundError(
                f"no receipt for {c}", hint="receipts are issued when the log is checkpointed"
            )
        return receipt

    # -- log --------------------------------------------------------------------------------------
    @app.get("/log/checkpoint", tags=["log"], responses={404: ERRORS[404]})
    def get_checkpoint() -> CheckpointOut:
        """The latest signed checkpoint of the transparency log."""
        cp = studio.log.latest_checkpoint()
        if cp is None:
            raise NotFoundError("the log has no checkpoint yet", hint="run a campaign first")
        return CheckpointOut.of(cp)

    def _default_size() -> int:
        cp = studio.log.latest_checkpoint()
        return studio.log.size if cp is None else cp.size

    def _checkpoint_at(size: int) -> CheckpointOut | None:
        try:
            return CheckpointOut.of(studio.log.checkpoint_at(size))
        except ProvenanceError:
            return None

    @app.get("/log/proof/inclusion", tags=["log"], responses=ERRORS)
    def inclusion_proof(
        cid: Annotated[str, Query(description="CID of the asset")],
        size: Annotated[
            int | None, Query(ge=1, le=MAX_INDEX, description="tree size (default: the latest checkpoint's)")
        ] = None,
    ) -> InclusionProofOut:
        """RFC 9162 inclusion proof of an asset's leaf in the tree of ``size`` leaves."""
        c = _cid(cid)
        studio.log.refresh()
        log = studio.log
        with studio.db.session() as s:
            leaf = s.scalars(select(LogLeaf).where(LogLeaf.cid == c)).first()
            index, mh, lh = (None, b"", b"") if leaf is None else (leaf.index, bytes(leaf.manifest_hash),
                                                                   bytes(leaf.leaf_hash))  # fmt: skip
        if index is None:
            raise NotFoundError(f"{c} is not in the log")
        n = _default_size() if size is None else size
        if n > log.size:
            raise InvalidInputError(f"tree size {n} is beyond the log ({log.size} leaves)")
        if index >= n:
            raise InvalidInputError(
                f"leaf {index} is not in the tree of size {n}", hint=f"ask for a size above {index}"
            )
        proof = log.inclusion_proof(index, n)
        return InclusionProofOut(
            cid=c,
            leaf_index=index,
            tree_size=n,
            manifest_hash=mh.hex(),
            leaf_hash=lh.hex(),
            root=log.root(n).hex(),
            proof=[p.hex() for p in proof],
            checkpoint=_checkpoint_at(n),
        )

    @app.get("/log/proof/consistency", tags=["log"], responses={422: ERRORS[422]})
    def consistency_proof(
        old: Annotated[int, Query(ge=1, le=MAX_INDEX, description="older tree size")],
        new: Annotated[
            int | None, Query(ge=1, le=MAX_INDEX, description="newer size (default: latest checkpoint)")
        ] = None,
    ) -> ConsistencyProofOut:
        """RFC 9162 proof that the tree of ``old`` leaves is a prefix of the tree of ``new``."""
        studio.log.refresh()
        log = studio.log
        n = _default_size() if new is None else new
        if n > log.size:
            raise InvalidInputError(f"tree size {n} is beyond the log ({log.size} leaves)")
        if old > n:
            raise InvalidInputError(f"old size {old} is larger than new size {n}")
        return ConsistencyProofOut(
            old_size=old,
            new_size=n,
            old_root=log.root(old).hex(),
            new_root=log.root(n).hex(),
            proof=[p.hex() for p in log.consistency_proof(old, n)],
        )

    # -- verify -----------------------------------------------------------------------------------
    @app.post(
        "/verify",
        tags=["verify"],
        responses={
            413: {"model": ErrorOut, "description": "Upload too large"},
            422: ERRORS[422],
            503: {
                "model": ErrorOut,
                "description": "Every verification slot is busy: retry after Retry-After",
            },
        },
    )
    async def verify(
        file: Annotated[UploadFile, File(description="The media file to verify")],
        sidecar: Annotated[UploadFile | None, File(description="Detached C2PA manifest (.c2pa)")] = None,
        offline: Annotated[bool, Query(description="Do not consult the chain")] = False,
    ) -> VerifyReport:
        """Verify a file exactly as ``mintloom verify`` does. The verdict (VERIFIED, TAMPERED,
        UNTRUSTED, UNKNOWN) is in the report: the status is 200 whatever it is. The history names
        ancestors by CID and relation only (the catalog's label holds the audience segment)."""
        if not await run_in_threadpool(slots.acquire, True, verify_wait):
            raise BusyError(f"all {max_verifications} verification slots are busy", hint="retry shortly")
        try:
            data = await file.read()
            side = None if sidecar is None else await sidecar.read()
            if len(data) + len(side or b"") > max_upload_bytes:
                raise PayloadTooLargeError(f"the upload exceeds {max_upload_bytes} bytes")
            ctx = await run_in_threadpool(verifier.context, offline)
            name = file.filename or "upload"
            report = await run_in_threadpool(lambda: verify_bytes(data, name, ctx, sidecar=side or None))
            return public_report(report)
        finally:
            slots.release()

    return app


__all__ = [
    "DEFAULT_MAX_UPLOAD",
    "ApiError",
    "PrivateContentError",
    "create_app",
    "public_report",
    "public_tags",
    "status_for",
]
