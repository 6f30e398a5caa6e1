"""What the DAO page shows: the workspace's campaign family (one per chain), its share token, holders,
governor and timelock, proposals with their readable description, and the UGC pool.

Everything is read through a key-less :class:`~mintloom.ledger.reader.ChainReader` with the same
governance functions ``mintloom dao status`` and ``mintloom dao shares show`` use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from web3 import Web3

from mintloom.errors import MintloomError
from mintloom.governance import dao
from mintloom.governance.licenses import ETH
from mintloom.ledger.lineage import Names
from mintloom.ledger.reader import ChainReader
from mintloom.store.db import Database
from mintloom.store.gallery import campaign_counts

MAX_HOLDERS = 50
"""Holders listed (the share token's Transfer logs can name many accounts; the page stays short)."""
FAMILY_CONTRACTS = ("RoyaltyShares", "CreativeGovernor", "TimelockController", "FamilyConfig", "UGCRewards")


@dataclass(frozen=True)
class HolderRow:
    holding: dao.Holding
    role: str
    mine: bool


@dataclass(frozen=True)
class ProposalRow:
    """A proposal with what the page adds to :class:`~mintloom.governance.dao.Proposal`."""

    proposal: dao.Proposal
    actions: tuple[str, ...]
    quorum: int | None
    """Votes needed (for + abstain) at the snapshot; None while the snapshot is in the future."""
    eta: int | None
    """Unix time the timelock lets a queued proposal execute."""
    voted: bool


@dataclass(frozen=True)
class UgcPool:
    reward: int
    creator_cap: int
    budget_cap: int
    granted: int
    owed: int
    available: int


@dataclass
class DaoView:
    """The page's data; ``family`` None (with ``error``) when there is none or the chain is unreadable."""

    family: str | None = None
    campaigns: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)
    supply: int = 0
    treasury: int = 0
    uncollected: int = 0
    """Royalty revenue waiting in the vault for the shares (collected by the next claim)."""
    holders: list[HolderRow] = field(default_factory=list)
    proposals: list[ProposalRow] = field(default_factory=list)
    pool: UgcPool | None = None
    head: int = 0
    error: str | None = None


def dao_view(reader: ChainReader | None, db: Database, me: str | None, why: str | None) -> DaoView:
    """The family of this workspace's chain as the page shows it (reads only)."""
    if reader is None:
        return DaoView(error=why or "offline")
    if "RoyaltyShares" not in reader.addresses():
        return DaoView(error="no campaign of this workspace is fractionalised (`mintloom dao create`)")
    try:
        return _read(reader, db, me)
    except MintloomError as exc:
        return DaoView(error=exc.message)


def _read(reader: ChainReader, db: Database, me: str | None) -> DaoView:
    names = Names(db, reader.chain_id)
    view = DaoView(
        family=dao.family_name(reader),
        campaigns=[c for c in campaign_counts(db) if names.get("family", c) is not None],
        addresses={n: reader.address_of(n) for n in FAMILY_CONTRACTS},
        supply=int(reader.call("RoyaltyShares", "totalSupply")),
        treasury=dao.treasury(reader),
        uncollected=int(reader.call("RoyaltyVault", "claimable", reader.address_of("RoyaltyShares"), ETH)),
        head=int(reader.w3.eth.block_number),
    )
    view.holders = holders(reader, me)
    view.proposals = [_row(reader, p, me, view.head) for p in dao.proposals(reader)]
    view.pool = ugc_pool(reader)
    return view


def holders(reader: ChainReader, me: str | None) -> list[HolderRow]:
    """The workspace account, then every account the share token ever sent shares to."""
    seen: dict[str, None] = {Web3.to_checksum_address(me): None} if me else {}
    for log in reader.event_logs("RoyaltyShares", "Transfer", {}):
        to = str(log["args"]["to"])
        if int(to, 16) != 0:
            seen.setdefault(Web3.to_checksum_address(to), None)
    mine = Web3.to_checksum_address(me) if me else None
    rows = []
    for account in list(seen)[:MAX_HOLDERS]:
        role = "workspace account (brand)" if account == mine else "shareholder"
        rows.append(HolderRow(dao.holding(reader, account), role, account == mine))
    return rows


def _row(reader: ChainReader, p: dao.Proposal, me: str | None, head: int) -> ProposalRow:
    quorum = int(reader.call(dao.GOVERNOR, "quorum", p.snapshot)) if p.snapshot < head else None
    eta = int(reader.call(dao.GOVERNOR, "proposalEta", p.proposal_id)) or None
    voted = bool(me) and bool(reader.call(dao.GOVERNOR, "hasVoted", p.proposal_id, me))
    return ProposalRow(p, tuple(p.description.split("; ")), quorum, eta, voted)


def ugc_pool(reader: ChainReader) -> UgcPool:
    reward, cap, budget, granted, owed, *_ = reader.call("UGCRewards", "parameters")
    available = int(reader.call("UGCRewards", "available"))
    return UgcPool(int(reward), int(cap), int(budget), int(granted), int(owed), available)
