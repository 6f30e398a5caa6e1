"""``/market`` routes on anvil: listings, offers, sales history and an asset's owner; unknown
orders and assets are 404s by name; no audience canary in any response."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mintloom.api.app import create_app
from mintloom.ledger.assets import token_id
from mintloom.market.service import accept, buy, buy_merkle, list_asset, list_campaign, make_offer
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_for
from tests.api.access import bearer
from tests.market.conftest import CANARY, PRICES, Market
from tests.market.test_service import _hero

pytestmark = pytest.mark.xdist_group("anvil")


def test_market_routes_show_listings_offers_sales_and_owner(market: Market) -> None:
    m, db = market, market.studio.db
    listing = list_campaign(m.brand, db, m.studio.log, m.studio.blobs, "c1", prices=PRICES)
    first, second, offerer = m.party(5), m.party(6), m.party(7)
    hero = _hero(m)
    buy_merkle(first, m.studio.log, listing, hero)
    resale = list_asset(first, db, hero, 3 * 10**17)
    buy(second, resale)
    token = m.brand.deploy("TestERC20")
    m.brand.transact_at(token, m.brand.artifact("TestERC20").abi, "mint", offerer.address, 10**21)
    leaves = sorted(a.leaf_index for a in Catalog(db).assets("c1") if a.leaf_index is not None)
    bid = make_offer(offerer, db, 5 * 10**17, token, leaves=(leaves[0], leaves[-1] + 1))
    accept(second, bid, hero)  # collection-wide offer accepted for the resold asset
    assert str(m.brand.call("CreativeAssets", "ownerOf", token_id(hero))) == offerer.address

    with TestClient(create_app(m.studio, offline=True), headers=bearer(m.studio.db)) as client:
        got = client.get("/market/listings").json()
        [campaign] = got["campaign_listings"]
        assert campaign["campaign"] == "c1" and campaign["assets"] == 4 and campaign["state"] == "open"
        assert campaign["prices"] == {"image": str(PRICES["image"]), "copy": str(PRICES["copy"])}
        [single] = got["listings"]
        assert single["state"] == "filled" and single["token_id"] == hex(token_id(hero))
        [offer] = client.get("/market/offers").json()
        assert offer["state"] == "filled" and offer["leaves"] == [leaves[0], leaves[-1] + 1]
        history = client.get(f"/market/assets/{hero}/sales").json()
        assert history["owner"] == offerer.address
        assert [(s["buyer"], s["price"]) for s in history["sales"]] == [
            (first.address, str(PRICES["image"])),
            (second.address, str(3 * 10**17)),
            (offerer.address, str(5 * 10**17)),
        ]
        assert all(s["royalty"] != "0" for s in history["sales"][1:])
        assert len(client.get("/market/sales").json()) == 3
        shared = client.get(f"/market/orders/0x{listing.digest.hex()}")
        assert shared.status_code == 200 and shared.json()["order_hash"] == "0x" + listing.digest.hex()
        missing = client.get("/market/orders/0x" + "ab" * 32)
        assert missing.status_code == 404 and "no order 0x" in missing.json()["error"]
        stranger = cid_for(b"not in this catalog")
        unknown = client.get(f"/market/assets/{stranger}/sales")
        assert unknown.status_code == 404 and f"no asset {stranger}" in unknown.json()["error"]
        bodies = [client.get(p).text for p in ("/market/listings", "/market/offers", "/market/sales")]
        bodies += [shared.text, client.get(f"/market/assets/{hero}/sales").text]
        assert all(CANARY not in b for b in bodies)
