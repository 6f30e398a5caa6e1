"""Response models of the API: every field a client may see is listed here, and nothing else is
served (no audience segment, no personalised text, no path of the machine)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mintloom.provenance.log import SignedCheckpoint
from mintloom.store.catalog import AssetRow
from mintloom.verify.report import VerifyReport


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


# --- from catalog rows and reports ----------------------------------------------------------------
def summary_of(row: AssetRow) -> AssetSummary:
    """The public summary of a catalog row."""
    return AssetSummary(
        cid=row.cid,
        kind=row.kind,
        media_type=row.media_type,
        campaign=row.campaign,
        locale=row.locale,
        format=row.format,
        width=row.width,
        height=row.height,
        leaf_index=row.leaf_index,
        tags=public_tags(row.tag_dict()),
    )


def detail_of(row: AssetRow, parents: list[LineageParent], seed_commitment: str | None) -> AssetDetail:
    """The public detail of a catalog row, with its lineage parents and its seed's commitment."""
    return AssetDetail(
        **dict(summary_of(row)),
        content_cid=row.content_cid,
        sidecar_cid=row.sidecar_cid,
        manifest_hash=bytes(row.manifest_hash).hex(),
        engine=row.engine,
        engine_version=row.engine_version,
        model_id=row.model_id,
        seed_commitment=seed_commitment,
        created_at=row.created_at.isoformat(),
        parents=parents,
    )


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


# --- runs (authenticated) ------------------------------------------------------------------------
class RunIn(BaseModel):
    """A campaign run to start: ``spec`` is relative to the workspace root."""

    model_config = ConfigDict(extra="forbid")

    spec: str = Field(min_length=1, max_length=1024)
    anchor: bool = True
    publish: bool = True
    workers: int = Field(default=1, ge=1, le=64)

    @model_validator(mode="after")
    def _publish_needs_anchor(self) -> RunIn:
        if self.publish and not self.anchor:
            raise ValueError("publishing needs an anchored checkpoint: set anchor or unset publish")
        return self


class RunAccepted(BaseModel):
    id: str
    status: str


class ProgressOut(BaseModel):
    stage: str
    done: int
    total: int


class RunSummaryOut(BaseModel):
    """Counts and chain ids only: no segment name, no path, no copy text."""

    campaign: str
    planned: int
    skipped: int
    generated: dict[str, int]
    log_size: int
    checkpoint_size: int
    anchored_size: int | None = None
    anchor_tx: str | None = None
    split_id: int | None = None


class RunOut(BaseModel):
    id: str
    status: str
    events: list[ProgressOut]
    summary: RunSummaryOut | None = None
    error: ErrorOut | None = None
