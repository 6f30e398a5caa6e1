"""The off-chain half of UGC rewards: a remix must be a different picture from its parent.

``UGCRewards`` checks on chain what the chain can see (registered derivative of a family asset,
licence held, one reward per child CID, caps, budget). It cannot see pixels: a re-signed or
re-encoded copy of the parent has a new CID and passes. So before a child is submitted (or, with
a DAO-named attester, before the attester vouches for it on chain) both files are fingerprinted
(``provenance/fingerprint.py``: 64-bit pHash and dHash) and a child within the near-copy radius
of its parent is refused. Without an attester this check runs on the fan's side and binds only
honest tooling; with one, the attester runs it and the contract refuses unattested children.
"""

from __future__ import annotations

from dataclasses import dataclass

from mintloom.errors import NearCopyError
from mintloom.provenance.fingerprint import fingerprint

# the radii ``verify`` uses to call two images the same picture (verify/index.py)
NEAR_COPY_PHASH = 10
NEAR_COPY_DHASH = 12


@dataclass(frozen=True)
class RemixDistance:
    """Hamming distances between the parent's and the child's fingerprints."""

    phash: int
    dhash: int


def check_remix(parent: bytes, child: bytes) -> RemixDistance:
    """The child's distance from its parent; :class:`NearCopyError` if it is the same picture."""
    phash, dhash = fingerprint(parent).distance(fingerprint(child))
    if phash <= NEAR_COPY_PHASH and dhash <= NEAR_COPY_DHASH:
        raise NearCopyError(
            f"the remix is the parent picture again (pHash distance {phash}, dHash {dhash})",
            hint="a reward needs a derivative that changes the picture, not a re-signed copy",
        )
    return RemixDistance(phash, dhash)
