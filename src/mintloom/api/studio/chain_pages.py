"""The studio's chain side: balances, market, and the two signing actions (review, claim).

Reads go through a key-less :class:`~mintloom.ledger.reader.ChainReader` that starts nothing.
Approving signs with the reviewer key the server was given (``MINTLOOM_REVIEWER_KEY`` and
``MINTLOOM_REVIEWER_PASSWORD``, as ``mintloom review approve --reviewer``); claiming sends from the
workspace account with ``MINTLOOM_KEY_PASSWORD``, as ``mintloom royalties claim``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from web3 import Web3

from mintloom.api.errors import UnavailableError
from mintloom.api.routers import market as market_routes
from mintloom.api.runs import PASSWORD_ENV
from mintloom.api.studio.asset_view import split_of
from mintloom.errors import KeyStoreError, MintloomError
from mintloom.governance.review import decide, split_group
from mintloom.governance.royalties import Claim, claim, claimable
from mintloom.ledger.connect import sender_address
from mintloom.ledger.reader import ChainReader
from mintloom.provenance.review import Decision, Reviewer, load_reviewer
from mintloom.store.gallery import campaign_counts
from mintloom.studio import Studio

REVIEWER_KEY_ENV = "MINTLOOM_REVIEWER_KEY"
REVIEWER_PASSWORD_ENV = "MINTLOOM_REVIEWER_PASSWORD"
"""The same variable ``mintloom review approve`` reads."""


class ReviewerUnavailableError(UnavailableError):
    """The server was started without a reviewer key: approvals cannot be signed."""


class SignerUnavailableError(UnavailableError):
    """The server was started without the workspace key password: claims cannot be sent."""


@dataclass(frozen=True)
class Balance:
    account: str
    roles: tuple[str, ...]
    claimable: int
    mine: bool
    """The workspace's own account: the one the claim button pays."""


@dataclass
class MarketView:
    listings: market_routes.ListingsOut | None = None
    sales: list[market_routes.SaleOut] = field(default_factory=list)
    error: str | None = None


def checksum(account: str) -> str:
    return str(Web3.to_checksum_address(account))


def reader(studio: Studio, offline: bool) -> tuple[ChainReader | None, str | None]:
    """A read-only reader of the workspace's chain, or None and why not."""
    if offline:
        return None, "the server runs offline"
    try:
        return studio.chain_reader(), None
    except MintloomError as exc:
        return None, exc.message


def balances(studio: Studio, offline: bool) -> tuple[list[Balance], str | None]:
    """Every payee of the campaigns' splits and the workspace account, with what each can claim."""
    chain, why = reader(studio, offline)
    if chain is None:
        return [], why
    try:
        me = sender_address(studio.workspace, studio.settings).lower()
        roles: dict[str, list[str]] = {me: ["workspace account"]}
        for name in campaign_counts(studio.db):
            for account, bps in split_of(chain, studio.db, name):
                roles.setdefault(account.lower(), []).append(f"{name}: {bps / 100:g}%")
        out = [Balance(checksum(a), tuple(r), claimable(chain, a), a == me) for a, r in roles.items()]
    except MintloomError as exc:
        return [], exc.message
    return out, None


def market_view(request: Request, offline: bool) -> MarketView:
    """The market API's listings and sales (the same code), or why they cannot be read."""
    if offline:
        return MarketView(error="the server runs offline")
    try:
        return MarketView(market_routes.listings(request, None), market_routes.all_sales(request))
    except MintloomError as exc:
        return MarketView(error=exc.message)


def reviewer_configured() -> bool:
    return bool(os.environ.get(REVIEWER_KEY_ENV) and os.environ.get(REVIEWER_PASSWORD_ENV))


def sign_decision(studio: Studio, group: str, decision: Decision) -> Reviewer:
    """Sign and record a decision exactly as ``mintloom review approve|reject`` does."""
    key, password = os.environ.get(REVIEWER_KEY_ENV), os.environ.get(REVIEWER_PASSWORD_ENV)
    if not key or not password:
        raise ReviewerUnavailableError(
            "this server has no reviewer key to sign decisions with",
            hint=f"start `mintloom serve` with {REVIEWER_KEY_ENV}=NAME.key.pem and {REVIEWER_PASSWORD_ENV}",
        )
    split_group(group)  # a malformed group is refused before the key is opened
    try:
        signer = load_reviewer(Path(key), password)
    except KeyStoreError as exc:
        hint = f"check {REVIEWER_KEY_ENV} and {REVIEWER_PASSWORD_ENV}"
        raise ReviewerUnavailableError(
            f"the server's reviewer key cannot be opened: {exc.message}", hint=hint
        ) from exc
    return decide(studio.db, group, decision, signer, studio.keys.trust_anchor_pem())


def claim_royalties(studio: Studio) -> Claim:
    """Withdraw the workspace account's royalties, as ``mintloom royalties claim`` does."""
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise SignerUnavailableError(
            "this server has no key password to send a claim with",
            hint=f"start `mintloom serve` with {PASSWORD_ENV} set",
        )
    with Studio(studio.workspace, password=password) as signing:
        return claim(signing.chain)
