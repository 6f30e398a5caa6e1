"""Licence terms on chain (``LicenseTemplates``) and the standard flavours mintloom ships."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mintloom.errors import GovernanceError
from mintloom.ledger.client import ChainClient
from mintloom.ledger.reader import ChainReader

CONTRACT = "LicenseTemplates"
ETH = "0x" + "00" * 20

# Registered by the contract's constructor with these ids.
FLAVOURS: dict[str, int] = {
    "non-commercial-remix": 1,
    "commercial-use": 2,
    "commercial-remix": 3,
    "commercial-no-ai": 4,
}


class Terms(BaseModel):
    """PIL-like licence terms, mirroring ``LicenseTemplates.Terms``."""

    model_config = ConfigDict(frozen=True)

    commercial_use: bool
    derivatives_allowed: bool
    attribution_required: bool = True
    ai_training_allowed: bool = False
    rev_share_bps: int = Field(default=0, ge=0, le=10_000)
    minting_fee: int = Field(default=0, ge=0)
    currency: str = Field(default=ETH, pattern=r"^0x[0-9a-fA-F]{40}$")
    territory: str = Field(default="WW", pattern=r"^[A-Z]{2}$")
    expiry: int = Field(default=0, ge=0, description="unix time; 0 = never")
    uri: str = ""

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.commercial_use,
            self.derivatives_allowed,
            self.attribution_required,
            self.ai_training_allowed,
            self.rev_share_bps,
            self.minting_fee,
            self.currency,
            self.territory.encode(),
            self.expiry,
            self.uri,
        )

    @classmethod
    def from_tuple(cls, t: tuple[Any, ...] | list[Any]) -> Terms:
        c, d, a, ai, rev, fee, cur, terr, exp, uri = t
        return cls(
            commercial_use=c,
            derivatives_allowed=d,
            attribution_required=a,
            ai_training_allowed=ai,
            rev_share_bps=rev,
            minting_fee=fee,
            currency=str(cur),
            territory=bytes(terr).decode(),
            expiry=exp,
            uri=uri,
        )


def resolve_terms(ref: str | int) -> int:
    """A flavour name or a numeric terms id."""
    if isinstance(ref, int):
        return ref
    if ref in FLAVOURS:
        return FLAVOURS[ref]
    if ref.isascii() and ref.isdigit() and int(ref) < 2**256:  # "²" is a digit Python's int() refuses
        return int(ref)
    raise GovernanceError(f"unknown licence terms {ref!r}; use a terms id or one of {', '.join(FLAVOURS)}")


def terms_of(chain: ChainReader, terms_id: int) -> Terms:
    return Terms.from_tuple(chain.call(CONTRACT, "terms", terms_id))


def describe_terms(chain: ChainReader, terms_id: int) -> dict[str, Any]:
    t = terms_of(chain, terms_id)
    name = next((n for n, i in FLAVOURS.items() if i == terms_id), None)
    return {"id": terms_id, "name": name, **t.model_dump()}


def list_terms(chain: ChainReader) -> list[dict[str, Any]]:
    return [describe_terms(chain, i) for i in range(1, int(chain.call(CONTRACT, "termsCount")) + 1)]


def register_terms(chain: ChainClient, terms: Terms) -> int:
    """Register (idempotently) custom terms; returns their id."""
    chain.transact(CONTRACT, "registerTerms", terms.as_tuple())
    return registered_id(chain, terms)


def registered_id(chain: ChainReader, terms: Terms, block: int | None = None) -> int:
    """The id ``terms`` are registered under (at the head, or at ``block``), 0 if they are not."""
    digest = chain.call(CONTRACT, "hashTerms", terms.as_tuple(), block=block)
    return int(chain.call(CONTRACT, "termsIdOf", digest, block=block))
