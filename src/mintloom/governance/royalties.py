"""Royalty splits (``RoyaltyVault``): who is paid what share, and pull-payment claims.

A campaign's split comes from its spec (``governance.split``): the brand (the workspace's chain
account), named accounts (artists), and the data curators and model trainer recorded on chain in
the lineage — the data share is divided equally among the curators of the campaign's datasets
(the rounding remainder goes to the first). Only entries held by their expected registrant are
paid (``resolve_dataset``/``resolve_model``): a squatter's entry for the same datasheet is not.
Duplicate payees are merged.
"""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from mintloom.campaign.spec import CampaignSpec
from mintloom.errors import GovernanceError
from mintloom.governance.licenses import ETH
from mintloom.ledger.client import ChainClient
from mintloom.ledger.lineage import Names, resolve_dataset, resolve_model
from mintloom.ledger.reader import ChainReader
from mintloom.store.db import Database

CONTRACT = "RoyaltyVault"


@dataclass(frozen=True)
class Share:
    account: str
    bps: int
    role: str


def resolve_split(chain: ChainClient, db: Database, spec: CampaignSpec) -> list[Share]:
    """Turn the spec's roles into accounts and basis points (sum 10000)."""
    brand = _brand_payee(chain, db, spec.campaign)
    if not spec.governance.split:
        return [Share(brand, 10_000, "brand")]
    shares: list[Share] = []
    for s in spec.governance.split:
        if s.account is not None:
            shares.append(Share(Web3.to_checksum_address(s.account), s.bps, s.role))
        elif s.role == "brand":
            shares.append(Share(brand, s.bps, s.role))
        elif s.role == "data":
            if not spec.lineage.datasets:
                raise GovernanceError("split gives a 'data' share but lineage.datasets is empty")
            curators = [resolve_dataset(chain, db, d).curator for d in spec.lineage.datasets]
            each, rest = divmod(s.bps, len(curators))
            shares.extend(Share(c, each + (rest if i == 0 else 0), "data") for i, c in enumerate(curators))
        elif s.role == "model":
            if spec.lineage.model is None:
                raise GovernanceError("split gives a 'model' share but lineage.model is not set")
            shares.append(Share(resolve_model(chain, db, spec.lineage.model).trainer, s.bps, "model"))
        else:
            raise GovernanceError(f"split role {s.role!r} needs an account")
    merged: dict[str, Share] = {}
    for sh in shares:
        key = sh.account.lower()
        prev = merged.get(key)
        merged[key] = sh if prev is None else Share(prev.account, prev.bps + sh.bps, f"{prev.role}+{sh.role}")
    return [s for s in merged.values() if s.bps > 0]


def _brand_payee(chain: ChainClient, db: Database, campaign: str) -> str:
    """Who the brand role pays: the family's share token once the campaign is fractionalised
    (``governance/dao.py``), so its revenue reaches every share holder pro rata; else the brand."""
    if Names(db, chain.chain_id).get("family", campaign) is not None:
        return chain.address_of("RoyaltyShares")
    return chain.address


def ensure_split(chain: ChainClient, db: Database, campaign: str, shares: list[Share]) -> int:
    """The campaign's split id on this chain, created on first use and again when the spec's
    shares no longer match it.

    The id is read from the ``SplitCreated`` event of the creating transaction (another sender may
    create splits in between, so ``splitCount()`` is not ours). ``createSplit`` is journaled with
    its intent: a rerun after a crash between sending it and recording the id finds that
    transaction and reads its event instead of creating a second split."""
    names = Names(db, chain.chain_id)
    known = names.get("split", campaign)
    if known is not None and _paid_by(chain, known) == _payees(shares):
        return known  # a changed spec split gets a new split, for the leaves published from now on
    tx = chain.transact(
        CONTRACT,
        "createSplit",
        [s.account for s in shares],
        [s.bps for s in shares],
        kind=f"split:{campaign}",
    )
    created = chain.events(CONTRACT, "SplitCreated", tx.tx_hash)
    if len(created) != 1:
        raise GovernanceError(f"createSplit {tx.tx_hash} emitted {len(created)} SplitCreated events, not 1")
    split_id = int(created[0]["args"]["splitId"])
    names.set("split", campaign, split_id)
    return split_id


def _payees(shares: list[Share]) -> list[tuple[str, int]]:
    return [(s.account.lower(), s.bps) for s in shares]


def _paid_by(chain: ChainClient, split_id: int) -> list[tuple[str, int]]:
    recipients, bps = chain.call(CONTRACT, "split", split_id)
    return [(str(a).lower(), int(b)) for a, b in zip(recipients, bps, strict=True)]


def claimable(chain: ChainReader, account: str | None = None, currency: str = ETH) -> int:
    """What ``account`` (default: the client's own sender) can claim in ``currency``."""
    if account is None:
        if not isinstance(chain, ChainClient):
            raise GovernanceError("claimable() needs an account when reading without a key")
        account = chain.address
    return int(chain.call(CONTRACT, "claimable", Web3.to_checksum_address(account), currency))


@dataclass(frozen=True)
class Claim:
    account: str
    amount: int
    tx_hash: str | None


def claim(chain: ChainClient, currency: str = ETH) -> Claim:
    """Withdraw the sender's balance (pull payment). Nothing owed → a clear error, not a revert."""
    owed = claimable(chain, chain.address, currency)
    if owed == 0:
        raise GovernanceError(f"nothing to claim for {chain.address}")
    result = chain.transact(CONTRACT, "claim", currency, kind=f"claim:{chain.address}", once=False)
    return Claim(chain.address, owed, result.tx_hash)
