"""The order book: signed orders kept in the catalog and shared as JSON.

A row is the order's fields as JSON, its signature and the Marketplace it was signed for, keyed by
(chain id, EIP-712 digest). Reading a row recomputes the digest from the stored fields, so an order
edited in the database or in a shared JSON file (a lower price under the seller's signature) is
refused by name instead of being offered to a buyer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import MarketError
from mintloom.market.orders import Domain, Kind, Order, Side, order_digest
from mintloom.store.db import Base, Database


class OrderTampered(MarketError):
    """A stored or shared order's fields no longer hash to the digest it was signed under."""


class MarketOrderRow(Base):
    """A signed marketplace order (listing or offer)."""

    __tablename__ = "market_orders"
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(42))
    signer: Mapped[str] = mapped_column(String(42), index=True)
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))


@dataclass(frozen=True)
class SignedOrder:
    """An order, its signature and where it fills."""

    order: Order
    signature: bytes
    domain: Domain

    @property
    def digest(self) -> bytes:
        return order_digest(self.order, self.domain)

    def to_json(self) -> dict[str, Any]:
        """Shareable form (`from_json` reads it back and checks it)."""
        return {
            "chain_id": self.domain.chain_id,
            "marketplace": self.domain.contract,
            "order": _order_fields(self.order),
            "signature": "0x" + self.signature.hex(),
            "order_hash": "0x" + self.digest.hex(),
        }


def from_json(data: dict[str, Any]) -> SignedOrder:
    """A shared order; refuses (OrderTampered) one whose fields do not hash to its `order_hash`."""
    try:
        fields = dict(data["order"])
        order = Order(
            **{**fields, "side": Side[fields["side"].upper()], "kind": Kind[fields["kind"].upper()]}
        )
        domain = Domain(int(data["chain_id"]), str(data["marketplace"]))
        signed = SignedOrder(order, bytes.fromhex(str(data["signature"]).removeprefix("0x")), domain)
        claimed = str(data["order_hash"]).lower()
    except (KeyError, TypeError, ValueError) as exc:
        raise MarketError(f"not a mintloom order: {exc}", hint="export orders with mintloom") from exc
    if "0x" + signed.digest.hex() != claimed:
        raise OrderTampered(
            f"order {claimed} was changed after it was signed",
            hint="ask the signer for the original order",
        )
    return signed


def save_order(db: Database, signed: SignedOrder) -> str:
    """Keep a signed order (idempotent); returns its hash."""
    h = "0x" + signed.digest.hex()
    with db.session() as s:
        if s.get(MarketOrderRow, (signed.domain.chain_id, h)) is None:
            s.add(
                MarketOrderRow(
                    chain_id=signed.domain.chain_id,
                    order_hash=h,
                    marketplace=signed.domain.contract,
                    signer=signed.order.signer,
                    body=json.dumps(signed.to_json(), sort_keys=True),
                    signature="0x" + signed.signature.hex(),
                )
            )
    return h


def _rows(db: Database, chain_id: int, signer: str | None) -> list[tuple[str, str]]:
    q = select(MarketOrderRow).where(MarketOrderRow.chain_id == chain_id).order_by(MarketOrderRow.order_hash)
    if signer is not None:
        q = q.where(MarketOrderRow.signer == signer)
    with db.session() as s:
        return [(r.order_hash, r.body) for r in s.scalars(q)]


def load_orders(db: Database, chain_id: int, signer: str | None = None) -> list[SignedOrder]:
    """The orders kept for `chain_id` (of `signer` if given), each checked against its hash."""
    out = []
    for h, body in _rows(db, chain_id, signer):
        signed = from_json(json.loads(body))
        if "0x" + signed.digest.hex() != h:
            raise OrderTampered(f"order {h} was changed in the catalog", hint="delete it and sign it again")
        out.append(signed)
    return out


def load_orders_skipping(
    db: Database, chain_id: int, signer: str | None = None
) -> tuple[list[SignedOrder], list[str]]:
    """:func:`load_orders`, skipping rows that do not parse or do not hash to their key: (the
    orders, the skipped rows' hashes). For a write already mined, which must not fail on them."""
    kept, skipped = [], []
    for h, body in _rows(db, chain_id, signer):
        try:
            signed = from_json(json.loads(body))
        except (MarketError, ValueError, TypeError, AttributeError):  # JSONDecodeError is a ValueError
            skipped.append(h)
            continue
        if "0x" + signed.digest.hex() == h:
            kept.append(signed)
        else:
            skipped.append(h)
    return kept, skipped


def _order_fields(o: Order) -> dict[str, Any]:
    return {
        "signer": o.signer,
        "side": o.side.name.lower(),
        "kind": o.kind.name.lower(),
        "token_id": o.token_id,
        "terms_id": o.terms_id,
        "from_leaf": o.from_leaf,
        "to_leaf": o.to_leaf,
        "amount": o.amount,
        "currency": o.currency,
        "unit_price": o.unit_price,
        "expiry": o.expiry,
        "salt": o.salt,
        "counter": o.counter,
    }
