"""The share allowance rule under concurrency and hostile catalogs: a list racing a cancel of the
same sender and token, an accept refused by the Marketplace, and a bulk cancel over catalog rows
that are tampered with or name another Marketplace's lots."""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

import pytest

from mintloom.errors import ContractError, MarketError
from mintloom.governance.licenses import ETH
from mintloom.ledger.client import ChainClient
from mintloom.market import service
from mintloom.market.book import MarketOrderRow, SignedOrder, save_order
from mintloom.market.orders import Domain, Kind, Order, Side, sign_order
from mintloom.market.service import MARKET, accept_shares, cancel, cancel_all, list_shares, offer_shares
from mintloom.studio import Studio
from tests.cli.runs import party
from tests.market.conftest import PER_SHARE, SHARE, SHARES

pytestmark = pytest.mark.xdist_group("anvil")


def _key(chain: ChainClient) -> str:
    return "0x" + bytes(chain.account.key).hex()


def _allowance(chain: ChainClient) -> int:
    return int(chain.call(SHARES, "allowance", chain.address, chain.address_of(MARKET)))


def test_a_cancel_racing_a_listing_never_leaves_the_new_lot_uncovered(
    family: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process (here a thread with its own client of the same key) cancels a lot while a
    listing is between its approval and keeping its lot. The listing used to approve first and
    keep after, so the cancel set the allowance from a catalog lacking the new lot (0 here); now
    the lot is kept first and both hold the (chain, sender, token) lock."""
    s, brand = family, family.chain
    old = list_shares(brand, s.db, 5 * SHARE, PER_SHARE)
    twin = ChainClient(brand.rpc_url, _key(brand), s.db, brand.deployments)
    racer = threading.Thread(target=lambda: cancel(twin, s.db, [old]))
    real_save = service.save_order

    def racing_save(db: Any, signed: SignedOrder) -> str:
        racer.start()
        racer.join(timeout=5)  # the cancel runs to its end here unless the lock holds it
        return real_save(db, signed)

    monkeypatch.setattr(service, "save_order", racing_save)
    list_shares(brand, s.db, 10 * SHARE, PER_SHARE)
    racer.join(timeout=120)
    assert not racer.is_alive()
    assert int(brand.call(MARKET, "filled", old.digest)) == 2**256 - 1  # the cancel did happen
    assert _allowance(brand) == 10 * SHARE  # exactly the new lot


def test_a_bulk_cancel_mined_while_a_lot_is_listed_is_reported_not_a_dead_listing(
    family: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cancel --all` from another process is mined while `list-shares` keeps its lot. The listing
    read the sender's counter before taking the lock and returned a signed lot the Marketplace
    can never fill (its counter is the old one), as if listed; now it says the lot was cancelled,
    and no allowance covers it."""
    s, brand = family, family.chain
    twin = ChainClient(brand.rpc_url, _key(brand), s.db, brand.deployments)
    racer = threading.Thread(target=lambda: cancel_all(twin, s.db))
    real_save = service.save_order

    def racing_save(db: Any, signed: SignedOrder) -> str:
        racer.start()
        racer.join(timeout=5)  # mined; its allowance step waits for the lock this listing holds
        return real_save(db, signed)

    monkeypatch.setattr(service, "save_order", racing_save)
    with pytest.raises(MarketError, match=r"cancel --all` was mined as this lot was listed"):
        list_shares(brand, s.db, 10 * SHARE, PER_SHARE)
    racer.join(timeout=120)
    assert not racer.is_alive()
    assert _allowance(brand) == 0


def test_a_cancel_mined_between_a_listings_target_and_its_approval_waits_for_the_lock(
    family: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing reads the open lots (the old lot still counts), then another client's cancel of
    the old lot is mined and applies the rule (new lot only) before the listing approves its stale
    target. Without the lock the stale target (old + new) was the last word; with it the cancel's
    rule application waits for the listing and comes last."""
    s, brand = family, family.chain
    old = list_shares(brand, s.db, 5 * SHARE, PER_SHARE)
    twin = ChainClient(brand.rpc_url, _key(brand), s.db, brand.deployments)
    racer = threading.Thread(target=lambda: cancel(twin, s.db, [old]))
    real_open_lots = service._open_lots

    def racing_open_lots(chain: ChainClient, orders: list[SignedOrder], token: str) -> int:
        left = real_open_lots(chain, orders, token)
        if chain is brand and not racer.is_alive() and racer.ident is None:
            racer.start()
            racer.join(timeout=5)  # without the lock the cancel's rule runs to its end here
        return left

    monkeypatch.setattr(service, "_open_lots", racing_open_lots)
    list_shares(brand, s.db, 10 * SHARE, PER_SHARE)
    racer.join(timeout=120)
    assert not racer.is_alive()
    assert _allowance(brand) == 10 * SHARE  # the new lot; the cancelled one no longer counts


def _unfunded_offer(family: Studio, monkeypatch: pytest.MonkeyPatch) -> SignedOrder:
    """A bidder's offer of 1 token a share for 100 shares whose token allowance is then revoked:
    the Marketplace refuses to accept it (our own funds check is bypassed so the revert is the
    chain's)."""
    brand = family.chain
    usd = str(brand.deploy("TestERC20"))
    abi = brand.artifact("TestERC20").abi
    bidder = party(family, 5)
    brand.transact_at(usd, abi, "mint", bidder.address, 10**24)
    offer = offer_shares(bidder, family.db, 100 * SHARE, 10**18, usd)
    bidder.transact_at(usd, abi, "approve", bidder.address_of(MARKET), 0, kind="test:revoke")
    monkeypatch.setattr(service, "_check_funds", lambda *args: None)
    return offer


def test_an_accept_the_marketplace_refuses_sets_the_allowance_back_to_the_lots(
    family: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, brand = family, family.chain
    offer = _unfunded_offer(family, monkeypatch)
    list_shares(brand, s.db, 10 * SHARE, PER_SHARE)
    with pytest.raises(ContractError):
        accept_shares(brand, s.db, offer, 5 * SHARE)
    assert _allowance(brand) == 10 * SHARE  # not 15: the refused sale's extra is taken back


def test_a_refused_accept_whose_allowance_cannot_be_set_back_names_both(
    family: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node stops answering between the refusal and setting the allowance back: the error
    used to be the allowance's alone, hiding why nothing sold; now one MarketError says both."""
    s, brand = family, family.chain
    offer = _unfunded_offer(family, monkeypatch)
    real_set = service._set_share_allowance
    calls: list[int] = []

    def node_gone_after_the_refusal(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) > 1:
            raise ConnectionRefusedError("connection refused")
        return real_set(*args, **kwargs)

    monkeypatch.setattr(service, "_set_share_allowance", node_gone_after_the_refusal)
    with pytest.raises(
        MarketError, match=r"refused the accept .*was not set back: connection refused"
    ) as info:
        accept_shares(brand, s.db, offer, 5 * SHARE)
    assert isinstance(info.value.__cause__, ContractError)


def _foreign_lot(brand: ChainClient) -> SignedOrder:
    """A lot of an address without code, signed for another Marketplace on this chain."""
    nowhere = "0x" + "5" * 40
    o = Order(
        brand.address, Side.LISTING, Kind.SHARES, int(nowhere, 16), 0, 0, 0, SHARE, ETH, PER_SHARE,
        2**40, secrets.randbits(128), 0,
    )  # fmt: skip
    domain = Domain(brand.chain_id, "0x" + "6" * 40)
    return SignedOrder(o, sign_order(o, domain, _key(brand)), domain)


def test_a_bulk_cancel_skips_foreign_and_tampered_rows_after_the_cancel_is_mined(family: Studio) -> None:
    """A kept lot of another Marketplace used to have its token's allowance read (a raw web3
    error for an address without code), and a tampered row raised OrderTampered, both after
    incrementCounter was mined; now the first is filtered and the second skipped and reported."""
    s, brand = family, family.chain
    list_shares(brand, s.db, 10 * SHARE, PER_SHARE)
    save_order(s.db, _foreign_lot(brand))
    assert cancel_all(brand, s.db).tampered == ()
    assert _allowance(brand) == 0
    lot = list_shares(brand, s.db, 7 * SHARE, PER_SHARE)
    tampered = list_shares(brand, s.db, 3 * SHARE, PER_SHARE)
    h = "0x" + tampered.digest.hex()
    with s.db.session() as session:
        row = session.get(MarketOrderRow, (brand.chain_id, h))
        assert row is not None
        body = json.loads(row.body)
        body["order"]["amount"] = 1
        row.body = json.dumps(body)
    assert _allowance(brand) == 10 * SHARE
    done = cancel_all(brand, s.db)
    assert done.tampered == (h,)
    assert done.counter == int(brand.call(MARKET, "counterOf", brand.address)) == 2
    assert _allowance(brand) == 0 and lot.order.counter == 1
