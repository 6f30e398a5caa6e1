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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from eth_typing import HexStr
from web3.contract import Contract
from web3.logs import DISCARD

from mintloom.errors import (
    AttestedForAnotherError,
    ChildNotProvenError,
    ContractError,
    DuplicateChildError,
    NearCopyError,
    NoLicenceError,
    NotAttestedError,
    NotLogOwnerError,
    ParentNotInFamilyError,
    RewardBudgetError,
    RewardRefusedError,
)
from mintloom.ledger.assets import token_id
from mintloom.ledger.client import ChainClient, TxResult
from mintloom.provenance.fingerprint import fingerprint
from mintloom.provenance.log import Receipt, TransparencyLog
from mintloom.store.cid import DAG_PB_CODEC, cid_for, codec_of, digest_of

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
    "NotAttested": NotAttestedError,
    "AttestedForAnother": AttestedForAnotherError,
    "AttestedForOtherParent": AttestedForAnotherError,
    "NotLogOwner": NotLogOwnerError,
    "RegisteredChild": DuplicateChildError,
    "NotAProvenanceLog": ChildNotProvenError,
    "CheckpointNotAnchored": ChildNotProvenError,
    "NotInLog": ChildNotProvenError,
}


@dataclass(frozen=True)
class Reward:
    child: str
    amount: int
    tx_hash: str
    gas_used: int


def register_child(chain: ChainClient, child: bytes, parent: bytes, terms_id: int) -> Reward:
    """Earn the family's reward for the sender's registered derivative ``child`` of ``parent``,
    licensed under ``terms_id``: the near-copy check here, every other check by ``UGCRewards``
    (its revert is refused by name; nothing is sent when the estimate already reverts)."""
    check_remix(parent, child)
    cid = str(cid_for(child))
    with _refusals(cid):
        # a rerun after a kill reports the reward it sent; a deliberate repeat is a DuplicateChildError
        tx = chain.transact(
            "UGCRewards", "submit", token_id(cid), terms_id, kind=f"ugc-register:{cid}", once=False
        )
    [granted] = chain.events("UGCRewards", "RewardGranted", tx.tx_hash)
    return Reward(cid, int(granted["args"]["amount"]), tx.tx_hash, tx.gas_used)


def register_logged_child(
    chain: ChainClient, rewards: str, log: TransparencyLog, child: bytes, parent: bytes, *, terms_id: int
) -> Reward:
    """Earn the reward of the family whose UGCRewards is at ``rewards`` for ``child``, a remix
    logged and anchored in this workspace's own log (another organisation than the family's):
    the contract proves its leaf against this workspace's ProvenanceLog, whose admin the sender
    must be. The near-copy check runs here first; refusals are named as for :func:`register_child`."""
    check_remix(parent, child)
    cid, parent_cid = str(cid_for(child)), str(cid_for(parent))
    receipt = _anchored_receipt(log, cid, parent_cid)
    logged = (
        digest_of(cid),
        bytes.fromhex(receipt.manifest_hash),
        token_id(parent_cid),
        codec_of(cid) == DAG_PB_CODEC,
        codec_of(parent_cid) == DAG_PB_CODEC,
        receipt.leaf_index,
        receipt.tree_size,
    )
    proof = [bytes.fromhex(p) for p in receipt.inclusion_proof]
    pool_contract(chain, rewards)
    abi = chain.artifact("UGCRewards").abi
    args = (chain.address_of("ProvenanceLog"), logged, proof, terms_id)
    with _refusals(cid):
        tx = chain.transact_at(rewards, abi, "submitFromLog", *args, kind=f"ugc-register:{cid}", once=False)
    return Reward(cid, _granted(chain, rewards, tx), tx.tx_hash, tx.gas_used)


def _anchored_receipt(log: TransparencyLog, cid: str, parent_cid: str) -> Receipt:
    """The child's receipt in this log, anchored, its leaf committing to ``parent_cid``."""
    receipt = log.receipt(cid)
    if receipt is None or receipt.anchor is None:
        raise ChildNotProvenError(
            f"{cid} is not anchored in this workspace's log",
            hint="make the remix here with `mintloom remix` (it logs and anchors the child)",
        )
    if receipt.parent != parent_cid:
        raise ParentNotInFamilyError(
            f"{cid}'s leaf names parent {receipt.parent}, not {parent_cid}",
            hint="pass the asset the child was remixed from as --parent",
        )
    return receipt


def _granted(chain: ChainClient, rewards: str, tx: TxResult) -> int:
    """The amount of the RewardGranted event ``tx`` emitted at ``rewards``."""
    receipt = chain.w3.eth.get_transaction_receipt(HexStr(tx.tx_hash))
    [granted] = pool_contract(chain, rewards).events.RewardGranted().process_receipt(receipt, errors=DISCARD)
    return int(granted["args"]["amount"])


def pool_contract(chain: ChainClient, rewards: str) -> Contract:
    """The UGCRewards at ``rewards``; :class:`ParentNotInFamilyError` if no contract is there."""
    if not chain.w3.is_address(rewards) or not chain.has_code(rewards):
        raise ParentNotInFamilyError(
            f"no family reward pool at {rewards} on chain {chain.chain_id}",
            hint="pass the family's UGCRewards address (`mintloom dao create` prints it)",
        )
    return chain.w3.eth.contract(
        address=chain.w3.to_checksum_address(rewards), abi=chain.artifact("UGCRewards").abi
    )


@contextmanager
def _refusals(cid: str) -> Iterator[None]:
    """A UGCRewards revert as the refusal class that names it (nothing was sent)."""
    try:
        yield
    except ContractError as exc:
        refusal = _REFUSALS.get(exc.error_name or "")
        if refusal is None:
            raise
        raise refusal(f"no UGC reward for {cid}: {exc.message}", hint=_HINTS[refusal]) from exc


_HINTS: dict[type[RewardRefusedError], str] = {
    DuplicateChildError: "each child earns once",
    NoLicenceError: "buy a licence of the parent whose terms allow derivatives (`mintloom license buy`)",
    ParentNotInFamilyError: "remix an asset of the family's campaign, registered as its derivative",
    RewardBudgetError: "see the pool's parameters in `mintloom dao status`; caps reset each epoch",
    NotLogOwnerError: "register from the workspace whose log holds the child (its admin account)",
    ChildNotProvenError: "anchor the child in this workspace's log first (`mintloom remix` does)",
    NotAttestedError: "ask the family's attester to attest it (`mintloom ugc attest`), then register",
    AttestedForAnotherError: "only the creator the child's credential names earns its reward",
}


def claim_rewards(chain: ChainClient, rewards: str | None = None) -> int:
    """Withdraw the sender's granted rewards (pull payment) from this workspace's family, or from
    the family whose UGCRewards is at ``rewards`` (another organisation's)."""
    target = rewards or chain.address_of("UGCRewards")
    owed = int(pool_contract(chain, target).functions.owed(chain.address).call())
    abi = chain.artifact("UGCRewards").abi
    if owed == 0:
        raise RewardBudgetError(f"no UGC rewards to claim for {chain.address}")
    chain.transact_at(target, abi, "claim", kind=f"ugc:claim:{chain.address}", once=False)
    return owed
