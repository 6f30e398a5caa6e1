"""Signed review decisions: a reviewer's key signs canonical JSON naming what was reviewed.

The record binds the campaign, the group, the sampled CIDs, a digest of every CID in the group,
the decision, the time and the reviewer's certificate fingerprint. Reviewers hold a certificate
of the organisation CA in the ``mintloom reviewers`` unit (so the pipeline's own signer cannot
approve its output); :func:`check_review` refuses by name a signature by any other key, an
altered payload and a record replayed for another group or campaign.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict, ValidationError

from mintloom.errors import CertificateChainError, ForgedReviewError, KeyStoreError, StaleReviewError
from mintloom.provenance.keys import LocalSigner, PrivateKey, Signer, verify_chain, verify_raw_signature
from mintloom.provenance.pkcs8 import encrypt_pkcs8
from mintloom.store.db import Database
from mintloom.store.reviews import Reviews

REVIEWER_UNIT = "mintloom reviewers"
Decision = Literal["approve", "reject"]


class ReviewRecord(BaseModel):
    """What a reviewer signs (no segment, path or audience value: groups are template × locale × family)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["mintloom.review/v1"] = "mintloom.review/v1"
    campaign: str
    group: str
    round: int
    decision: Decision
    sample: tuple[str, ...]
    members: str
    reviewer: str
    """SHA-256 fingerprint (hex) of the reviewer's certificate."""
    at: str
    """ISO 8601 UTC time of the decision."""

    def canonical(self) -> bytes:
        """Sorted keys, no whitespace, UTF-8: the bytes the signature covers."""
        body = self.model_dump(mode="json")
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class SignedReview:
    payload: bytes
    signature: bytes
    certificate_pem: bytes


@dataclass(frozen=True)
class Reviewer:
    name: str
    at: dt.datetime
    record: ReviewRecord


def _leaf(chain_pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificates(chain_pem)[0]
    except (ValueError, IndexError) as exc:
        raise ForgedReviewError("the review's reviewer certificate is not a PEM certificate") from exc


def fingerprint(chain_pem: bytes) -> str:
    return _leaf(chain_pem).fingerprint(hashes.SHA256()).hex()


def sign_review(record: ReviewRecord, signer: Signer) -> SignedReview:
    """Sign ``record`` (whose ``reviewer`` must be the signer's certificate fingerprint)."""
    chain = signer.certificate_chain_pem
    if record.reviewer != fingerprint(chain):
        raise ForgedReviewError("the record names another reviewer than the signing key's certificate")
    payload = record.canonical()
    return SignedReview(payload, signer.sign(payload), chain)


def _subject(leaf: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    attrs = leaf.subject.get_attributes_for_oid(oid)
    return str(attrs[0].value) if attrs else None


def _parse(payload: bytes) -> ReviewRecord:
    try:
        record = ReviewRecord.model_validate_json(payload)
    except ValidationError as exc:
        raise ForgedReviewError("the review payload is not a review record") from exc
    if record.canonical() != payload:
        raise ForgedReviewError("the review payload is not in canonical form")
    return record


def check_review(signed: SignedReview, *, trust_anchor_pem: str, campaign: str, group: str) -> Reviewer:
    """The verified record and reviewer, or :class:`ForgedReviewError` naming what fails."""
    if not verify_raw_signature(signed.certificate_pem, signed.payload, signed.signature):
        raise ForgedReviewError(f"review of {group}: the signature does not match the record")
    record = _parse(signed.payload)
    leaf = _leaf(signed.certificate_pem)
    if record.reviewer != fingerprint(signed.certificate_pem):
        raise ForgedReviewError(f"review of {group}: signed by another certificate than it names")
    at = dt.datetime.fromisoformat(record.at)
    try:
        verify_chain(signed.certificate_pem, trust_anchor_pem, at)
    except CertificateChainError as exc:
        raise ForgedReviewError(f"review of {group}: the reviewer is not trusted ({exc})") from exc
    if _subject(leaf, NameOID.ORGANIZATIONAL_UNIT_NAME) != REVIEWER_UNIT:
        raise ForgedReviewError(f"review of {group}: signed by a certificate that is not a reviewer's")
    if (record.campaign, record.group) != (campaign, group):
        raise ForgedReviewError(f"review of {group}: the record is for {record.campaign}/{record.group}")
    return Reviewer(_subject(leaf, NameOID.COMMON_NAME) or record.reviewer[:16], at, record)


def check_fresh(reviewer: Reviewer, members: str) -> None:
    """Refuse a decision whose group has changed since: :class:`StaleReviewError`."""
    if reviewer.record.members != members:
        raise StaleReviewError(
            f"the assets of {reviewer.record.group} changed after it was reviewed",
            hint="draw a new sample with `mintloom review CAMPAIGN` and review it again",
        )


def verified_decision(db: Database, campaign: str, group: str, trust_anchor_pem: str) -> Reviewer | None:
    """The group's latest decision with its signature and signer checked, if it is on the sample
    drawn now (a decision on an earlier sample is superseded: None, as if undecided)."""
    reviews = Reviews(db)
    row = reviews.latest(campaign, group)
    drawn = reviews.sample(campaign, group)
    if row is None or drawn is None:
        return None
    signed = SignedReview(row.payload.encode(), bytes(row.signature), row.certificate.encode())
    reviewer = check_review(signed, trust_anchor_pem=trust_anchor_pem, campaign=campaign, group=group)
    if list(reviewer.record.sample) != reviews.sample_cids(drawn) or reviewer.record.round != drawn.round:
        return None
    return reviewer


def load_reviewer(key_path: Path, password: str) -> LocalSigner:
    """A reviewer's signer from ``NAME.key.pem`` (encrypted) and ``NAME.pem`` beside it."""
    cert_path = key_path.with_name(key_path.name.removesuffix(".key.pem") + ".pem")
    try:
        data, chain = key_path.read_bytes(), cert_path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"cannot read the reviewer key {key_path} or its certificate: {exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=password.encode())
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"cannot decrypt {key_path.name}: wrong password or damaged file") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyStoreError(f"{key_path.name} holds an unsupported key type")
    return LocalSigner(key, chain)


def save_reviewer(folder: Path, name: str, key: PrivateKey, chain: bytes, password: str) -> Path:
    """Write ``NAME.key.pem`` (encrypted, 0600) and ``NAME.pem``; returns the key's path."""
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / f"{name}.key.pem"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(encrypt_pkcs8(key, password.encode()))
    (folder / f"{name}.pem").write_bytes(chain)
    return key_path
