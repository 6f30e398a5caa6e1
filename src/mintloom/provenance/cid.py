"""IPFS-compatible content identifiers: CIDv1, raw codec (0x55), sha2-256 multihash, base32.

A single-block CID: the same string ``ipfs add --cid-version 1 --raw-leaves`` gives for a file
that fits in one block, and the same as ``ipfs block put --cid-codec raw``.
"""

from __future__ import annotations

import base64
import hashlib

from mintloom.errors import ProvenanceError
from mintloom.types import CID

_CID_VERSION = 0x01
RAW_CODEC = 0x55
SHA2_256 = 0x12
_PREFIX = bytes([_CID_VERSION, RAW_CODEC, SHA2_256, 32])


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def cid_from_digest(digest: bytes) -> CID:
    if len(digest) != 32:
        raise ProvenanceError(f"sha2-256 digest must be 32 bytes, got {len(digest)}")
    return CID("b" + base64.b32encode(_PREFIX + digest).decode("ascii").lower().rstrip("="))


def cid_for(data: bytes) -> CID:
    """CIDv1 (raw, sha2-256, base32 lower) of ``data``."""
    return cid_from_digest(sha256(data))


def cid_bytes(cid: str) -> bytes:
    """Binary form of a CID string (version, codec, multihash)."""
    if not cid.startswith("b"):
        raise ProvenanceError(f"unsupported CID {cid!r}: only base32 CIDv1 ('b...') is accepted")
    body = cid[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise ProvenanceError(f"malformed CID {cid!r}: {exc}") from exc
    if len(raw) != 36 or raw[:4] != _PREFIX:
        raise ProvenanceError(f"unsupported CID {cid!r}: expected CIDv1 raw sha2-256")
    return raw


def digest_of(cid: str) -> bytes:
    """The sha2-256 digest inside a CID (what the chain stores as ``bytes32``)."""
    return cid_bytes(cid)[4:]


def parse_cid(cid: str) -> CID:
    """Validate and normalise a CID string."""
    return cid_from_digest(digest_of(cid))
