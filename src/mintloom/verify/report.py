"""The typed verification report shared by the CLI and the HTTP API.

Verdicts:

* ``VERIFIED``  — the file is bound to a trusted Content Credential (or matched by fingerprint to
  an asset that is), its log receipt proves inclusion, and (online) the checkpoint is anchored.
* ``TAMPERED``  — a credential is present but the content, or the signed claim itself, no longer
  matches what was signed (a data-hash mismatch, or a claim signature that does not match the claim).
* ``UNTRUSTED`` — the credential or a proof does not check out: a valid signature by a signer
  not trusted here, an invalid signing credential, a receipt for another asset, a checkpoint the
  chain does not know, a copy of a logged file whose manifest store was altered where the
  signature does not reach (not the logged file). :attr:`VerifyReport.credential` says which
  (``valid-untrusted`` or ``invalid``).
* ``UNKNOWN``   — no provenance at all: not a media file, no credential and no fingerprint match.
* ``MISSING``   — (folders only) a file the workspace's campaign exported here is absent, or holds
  other bytes: the folder does not hold everything the campaign shipped.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mintloom.provenance.content_credentials import ActionInfo, SignerInfo


class Verdict(StrEnum):
    VERIFIED = "VERIFIED"
    TAMPERED = "TAMPERED"
    UNTRUSTED = "UNTRUSTED"
    UNKNOWN = "UNKNOWN"
    MISSING = "MISSING"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]


VERDICT_MEANING: dict[Verdict, str] = {
    Verdict.VERIFIED: "bound to a trusted Content Credential and proven in the log",
    Verdict.TAMPERED: "the content or the signed claim was altered after signing",
    Verdict.UNTRUSTED: "the credential or a proof does not check out",
    Verdict.UNKNOWN: "no provenance found for this file",
    Verdict.MISSING: "a file the campaign exported here is absent or holds other bytes",
}
"""What each verdict means, in the words both ``mintloom verify`` and the verify page print."""

EXIT_CODES: dict[Verdict, int] = {
    Verdict.VERIFIED: 0,
    Verdict.TAMPERED: 20,
    Verdict.UNTRUSTED: 21,
    Verdict.UNKNOWN: 22,
    Verdict.MISSING: 23,
}

Status = Literal["pass", "fail", "skip", "info", "warn"]
"""``warn``: a weakness that does not change the verdict (e.g. no trusted signing time)."""


class Check(BaseModel):
    name: str
    status: Status
    detail: str
    effect: Verdict | None = None
    """The verdict a failure of this check implies."""


class TermsInfo(BaseModel):
    """Licence terms attached to an asset's leaf, as the chain describes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    name: str | None
    """The standard flavour's name (``commercial-use`` …), None for custom terms."""
    commercial_use: bool
    derivatives_allowed: bool
    attribution_required: bool
    ai_training_allowed: bool
    rev_share_bps: int
    minting_fee: int
    currency: str
    territory: str
    expiry: int
    uri: str


class TrainedDataset(BaseModel):
    """A dataset a training run used, each link checked: the record's root and count against the
    chain's, the stored manifest against the chain's manifest hash, its contributor count."""

    model_config = ConfigDict(frozen=True)

    id: int
    root: str
    file_count: int
    contributors: int
    root_on_chain: bool
    """the signed record's root and count are the ones the chain registered for this dataset"""
    manifest_on_chain: bool | None = None
    """the stored manifest hashes to the chain's entry and lists that many contributors
    (None: not stored here)"""


class TrainingRunLineage(BaseModel):
    """The signed training run the chain binds to a model (by the sha-256 of its sidecar)."""

    model_config = ConfigDict(frozen=True)

    run_hash: str
    record_cid: str | None = None
    signature_valid: bool = False
    weights_match: bool = False
    """the record's output weights are the model's registered weights"""
    method: str | None = None
    seed: int | None = None
    base_model_hash: str | None = None
    datasets: list[TrainedDataset] = Field(default_factory=list)
    signer_trusted: bool | None = None
    """the record's signer chains to the workspace's trust anchor (None: no anchor to check)"""
    error: str | None = None
    """why the record could not be read or checked (e.g. not in this blob store)"""
    failure: str | None = None
    """the error class naming a broken link (``RunWeightsMismatch`` …): it turns the verdict"""


class ModelLineage(BaseModel):
    """The model linked on chain to an asset's leaf."""

    model_config = ConfigDict(frozen=True)

    id: int
    trainer: str
    license: str
    training_run: TrainingRunLineage | None = None
    """None: the model was registered without a training run"""


class DatasetLineage(BaseModel):
    """A dataset linked on chain to an asset's leaf."""

    model_config = ConfigDict(frozen=True)

    id: int
    curator: str
    license: str
    ai_training_allowed: bool


class SaleInfo(BaseModel):
    """One marketplace sale of the asset's token (prices in wei or ERC-20 units, as strings)."""

    buyer: str
    seller: str | None = None
    """None when bought from a brand's campaign listing (minted to the buyer)."""
    price: str
    royalty: str | None = None
    block: int
    tx_hash: str


class UgcRewardInfo(BaseModel):
    """The family reward a derivative earned (``UGCRewards``): who, how much (wei), for which parent."""

    creator: str
    amount: str
    parent_token: str
    tx_hash: str
    pool: str | None = None
    """The family pool that paid a child proven in its creator's own log (None: this workspace's)."""


class LicenseInfo(BaseModel):
    terms_ids: list[int] = Field(default_factory=list)
    terms: list[TermsInfo] = Field(default_factory=list)
    registered: bool = False
    token_id: str | None = None
    owner: str | None = None
    model: ModelLineage | None = None
    """On-chain lineage: the model linked to the asset's leaf."""
    datasets: list[DatasetLineage] = Field(default_factory=list)
    """On-chain lineage: linked datasets."""
    sales: list[SaleInfo] = Field(default_factory=list)
    """Marketplace sales of its token, oldest first (when a Marketplace is deployed)."""
    ugc_reward: UgcRewardInfo | None = None
    """The UGC reward this derivative earned (when a family's UGCRewards is deployed)."""


CredentialStatus = Literal["trusted", "valid-untrusted", "invalid", "tampered", "unreadable"]


class CredentialSummary(BaseModel):
    """Any signer's Content Credential as a reader sees it: who signed it with what, and whether
    the signature is valid and trusted, invalid, or broken by tampering."""

    status: CredentialStatus
    signer: SignerInfo
    actions: list[ActionInfo] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)
    """c2pa's validation failure codes."""


class VerifyReport(BaseModel):
    file: str
    media_type: str | None = None
    cid: str | None = None
    verdict: Verdict = Verdict.UNKNOWN
    binding: Literal["hard", "fingerprint", "none"] = "none"
    """How the file was tied to its provenance: its own embedded manifest (hard) or a
    perceptual fingerprint match to a registered asset (for stripped or re-encoded copies)."""
    matched_cid: str | None = None
    fingerprint_distance: int | None = None
    checks: list[Check] = Field(default_factory=list)
    origin: dict[str, Any] = Field(default_factory=dict)
    """What made it: engine, model, datasets, template hash, seed commitment, campaign, locale, format."""
    history: list[dict[str, Any]] = Field(default_factory=list)
    """Actions and ingredients, newest first: created, translated, resized, …"""
    receipt: dict[str, Any] | None = None
    license: LicenseInfo | None = None
    signed_at: dt.datetime | None = None
    """When the credential was signed, as a trusted RFC 3161 time-stamp attests (else None)."""
    time_stamp: Literal["trusted", "untrusted", "invalid"] | None = None
    """The claim signature's time-stamp: by a trusted TSA, by an unknown one, not matching the
    signature (ignored), or none."""
    credential: CredentialSummary | None = None
    """The file's own credential (or, matched by fingerprint, its original's), foreign ones included."""
    qa: dict[str, Any] | None = None
    """The workspace's brand QA report of the asset (``held``, findings, measurements), if any."""
    tags: dict[str, list[str]] = Field(default_factory=dict)
    review: dict[str, str] | None = None
    """The signed review decision on the asset's group: reviewer, time (``at``), decision, group."""
    """The asset's searchable tags in the workspace catalog."""

    def add(self, name: str, status: Status, detail: str, effect: Verdict | None = None) -> None:
        self.checks.append(Check(name=name, status=status, detail=detail, effect=effect))

    def decide(self) -> Verdict:
        """The verdict follows from the checks: any failure's effect wins, most severe first."""
        effects = {c.effect for c in self.checks if c.status == "fail" and c.effect is not None}
        for v in (Verdict.TAMPERED, Verdict.UNTRUSTED, Verdict.MISSING, Verdict.UNKNOWN):
            if v in effects:
                self.verdict = v
                return v
        bound = self.binding != "none"
        self.verdict = Verdict.VERIFIED if bound else Verdict.UNKNOWN
        return self.verdict
