"""The order book: signed orders round-trip through the catalog and JSON; edited ones are refused."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update
from web3 import Web3

from mintloom.ledger.deploy import ZERO_ADDRESS
from mintloom.ledger.node import dev_key
from mintloom.market.book import (
    MarketOrderRow,
    OrderTampered,
    SignedOrder,
    from_json,
    load_orders,
    save_order,
)
from mintloom.market.orders import Domain, Kind, Order, Side, sign_order
from mintloom.store.db import Database

KEY = dev_key(3)
DOMAIN = Domain(31337, "0x" + "ab" * 20)


def _signed(price: int = 10**18) -> SignedOrder:
    signer = Web3().eth.account.from_key(KEY).address
    order = Order(signer, Side.LISTING, Kind.LICENCE, 7, 2, 0, 0, 10, ZERO_ADDRESS, price, 2**40, 1, 0)
    return SignedOrder(order, sign_order(order, DOMAIN, KEY), DOMAIN)


def test_orders_round_trip_through_catalog_and_json(db: Database) -> None:
    signed = _signed()
    h = save_order(db, signed)
    assert save_order(db, signed) == h  # idempotent
    [back] = load_orders(db, DOMAIN.chain_id)
    assert back == signed
    assert from_json(json.loads(json.dumps(signed.to_json()))) == signed
    assert load_orders(db, DOMAIN.chain_id + 1) == []


def test_shared_order_with_a_lower_price_is_refused() -> None:
    data = _signed().to_json()
    data["order"]["unit_price"] = 1
    with pytest.raises(OrderTampered, match="changed after it was signed"):
        from_json(data)


def test_order_edited_in_the_catalog_is_refused(db: Database) -> None:
    signed = _signed()
    h = save_order(db, signed)
    body = signed.to_json()
    body["order"]["unit_price"] = 1
    body["order_hash"] = "0x" + SignedOrder(_signed(1).order, signed.signature, DOMAIN).digest.hex()
    with db.session() as s:
        s.execute(update(MarketOrderRow).where(MarketOrderRow.order_hash == h).values(body=json.dumps(body)))
    with pytest.raises(OrderTampered, match="changed in the catalog"):
        load_orders(db, DOMAIN.chain_id)
