"""Salted commitments: what a manifest or an API says about a value it must not reveal.

Each is a sha-256 over the campaign's secret salt and the value: whoever holds the salt can
prove what was committed to, nobody else can confirm a guess (a segment name, a seed derived
from one, a prompt rendered with audience data).
"""

from __future__ import annotations

import hashlib


def segment_commitment(salt: bytes, segment: str | None) -> str:
    """Salted hash of the audience segment: links assets of one segment without revealing it."""
    return hashlib.sha256(salt + (segment or "").encode()).hexdigest()


def salted_commitment(salt: bytes, domain: str, value: str) -> str:
    """Salted, domain-separated sha-256 of a value a manifest must not reveal (a rendered prompt,
    a job key hashed from audience data): provable by whoever holds the salt, opaque to others."""
    return hashlib.sha256(salt + domain.encode() + b"\0" + value.encode()).hexdigest()


def seed_commitment(salt: bytes, seed: int) -> str:
    """What a manifest says about the engine seed: the seed is derived from the spec seed and the
    segment name, so the raw seed would confirm a guessed segment offline."""
    return salted_commitment(salt, "seed", str(seed))


__all__ = ["salted_commitment", "seed_commitment", "segment_commitment"]
