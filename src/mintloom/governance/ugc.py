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

from mintloom.errors import (
    ContractError,
    DuplicateChildError,
    NearCopyError,
    NoLicenceError,
    ParentNotInFamilyError,
    RewardBudgetError,
    RewardRefusedError,
)
from mintloom.ledger.assets import token_id
from mintloom.ledger.client import ChainClient
from mintloom.provenance.fingerprint import fingerprint
from mintloom.store.cid import cid_for

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


_REFUSALS: dict[str, type[RewardRefusedError]] = {
    "AlreadyRewarded": DuplicateChildError,
    "NoLicence": NoLicenceError,
    "NotCreator": NoLicenceError,
    "ParentNotInFamily": ParentNotInFamilyError,
    "NotDerivative": ParentNotInFamilyError,
    "UnknownChild": ParentNotInFamilyError,
    "RewardsOff": RewardBudgetError,
    "CreatorCapReached": RewardBudgetError,
    "OverBudget": RewardBudgetError,
    "PoolTooSmall": RewardBudgetError,
}


@dataclass(frozen=True)
class Reward:
    child: str
    amount: int
    tx_hash: str


def register_child(chain: ChainClient, child: bytes, parent: bytes, terms_id: int) -> Reward:
    """Earn the family's reward for the sender's registered derivative ``child`` of ``parent``,
    licensed under ``terms_id``: the near-copy check here, every other check by ``UGCRewards``
    (its revert is refused by name; nothing is sent when the estimate already reverts)."""
    check_remix(parent, child)
    cid = str(cid_for(child))
    try:
        tx = chain.transact("UGCRewards", "submit", token_id(cid), terms_id)
    except ContractError as exc:
        refusal = _REFUSALS.get(exc.error_name or "")
        if refusal is None:
            raise
        raise refusal(f"no UGC reward for {cid}: {exc.message}", hint=_HINTS[refusal]) from exc
    [granted] = chain.events("UGCRewards", "RewardGranted", tx.tx_hash)
    return Reward(cid, int(granted["args"]["amount"]), tx.tx_hash)


_HINTS: dict[type[RewardRefusedError], str] = {
    DuplicateChildError: "each child earns once",
    NoLicenceError: "buy a licence of the parent whose terms allow derivatives (`mintloom license buy`)",
    ParentNotInFamilyError: "remix an asset of the family's campaign, registered as its derivative",
    RewardBudgetError: "see the pool's parameters in `mintloom dao status`; caps reset each epoch",
}


def claim_rewards(chain: ChainClient) -> int:
    """Withdraw the sender's granted rewards (pull payment)."""
    owed = int(chain.call("UGCRewards", "owed", chain.address))
    if owed == 0:
        raise RewardBudgetError(f"no UGC rewards to claim for {chain.address}")
    chain.transact("UGCRewards", "claim", kind=f"ugc:claim:{chain.address}", once=False)
    return owed
