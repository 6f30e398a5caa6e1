"""The studio's royalties page and claim button on a real chain (the session's anvil): every payee
of a campaign's split is listed with what it can claim, and the button withdraws the workspace
account's share through the same code as `mintloom royalties claim`, once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web3 import Web3

from mintloom.api.app import create_app
from mintloom.api.runs import PASSWORD_ENV
from mintloom.campaign.writer import CatalogWriter
from mintloom.governance.licenses import ETH
from mintloom.governance.royalties import Share, claimable, ensure_split
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo, dev_key
from mintloom.store.catalog import Catalog
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from tests.conftest import PASSWORD, sample_studio

pytestmark = pytest.mark.xdist_group("anvil")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _login(c: TestClient, secret: str) -> str:
    form = c.get("/studio/login")
    found = CSRF.search(form.text)
    assert found is not None
    r = c.post("/studio/login", data={"token": secret, "csrf": found.group(1)})
    assert r.status_code == 303, r.text
    again = CSRF.search(c.get("/studio/royalties").text)
    assert again is not None
    return again.group(1)


def test_the_claim_button_withdraws_the_workspace_share_once(
    studio: Studio, shared_anvil: NodeInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = studio.chain
    deploy_all(chain, studio.settings.governance)
    artist = str(Web3().eth.account.from_key(dev_key(4)).address)
    CatalogWriter(studio.db, studio.log).ensure_campaign("spring", "0" * 64, b"\x01" * 32)
    split = ensure_split(
        chain, studio.db, "spring", [Share(chain.address, 6_000, "brand"), Share(artist, 4_000, "artist")]
    )
    chain.transact("RoyaltyVault", "deposit", split, ETH, 10**18, value=10**18, kind="test-deposit")
    secret = TokenStore(studio.db).create("claimer", ["read", "publish"])[1]
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with TestClient(create_app(studio), follow_redirects=False) as c:
        csrf = _login(c, secret)
        page = c.get("/studio/royalties").text
        assert "0.600000" in page and "0.400000" in page and "spring: 60%" in page and "spring: 40%" in page
        assert artist in page and page.count('action="/studio/royalties/claim"') == 1
        r = c.post("/studio/royalties/claim", data={"csrf": csrf})
        assert r.status_code == 503 and "no key password" in r.json()["error"]
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        before = chain.w3.eth.get_balance(chain.address)
        r = c.post("/studio/royalties/claim", data={"csrf": csrf})
        assert r.status_code == 303, r.text
        assert f"claimed 0.6 ETH to {chain.address}" in c.get(r.headers["location"]).text
        assert claimable(chain, chain.address) == 0 and claimable(chain, artist) == 4 * 10**17
        assert chain.w3.eth.get_balance(chain.address) > before + 59 * 10**16  # less the claim's gas
        r = c.post("/studio/royalties/claim", data={"csrf": csrf})
        assert r.status_code == 409 and "nothing to claim" in r.json()["error"]


def test_online_asset_and_market_pages_read_the_chain(
    shared_anvil: NodeInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served online, the asset page shows its campaign's royalty split and that the asset is not
    registered yet; the market page lists (no) listings and sales instead of an error."""
    ran = sample_studio(tmp_path)
    try:
        chain = ran.chain
        deploy_all(chain, ran.settings.governance)
        artist = str(Web3().eth.account.from_key(dev_key(6)).address)
        ensure_split(
            chain, ran.db, "tiny", [Share(chain.address, 8_000, "brand"), Share(artist, 2_000, "artist")]
        )
        secret = TokenStore(ran.db).create("viewer", ["read"])[1]
        image = Catalog(ran.db).assets("tiny", kind="image")[0]
        with TestClient(create_app(ran), follow_redirects=False) as c:
            _login(c, secret)
            page = c.get(f"/studio/assets/{image.cid}").text
            assert "Chain facts unavailable" not in page, page
            assert f"<code>{artist}</code>: 20.0%" in page and f"<code>{chain.address}</code>: 80.0%" in page
            assert "Owner: not registered" in page and "No licence terms are attached" in page
            market = c.get("/studio/market").text
            assert "cannot be read" not in market and "<h2>Listings</h2>" in market
        monkeypatch.setenv("MINTLOOM_CHAIN__RPC_URL", "http://127.0.0.1:9")  # nothing listens there
        down = Studio(ran.workspace, password=PASSWORD)
        with TestClient(create_app(down), follow_redirects=False) as c:
            _login(c, secret)
            page = c.get(f"/studio/assets/{image.cid}")
            assert page.status_code == 200 and "Chain facts unavailable" in page.text
            assert "The chain cannot be read" in c.get("/studio/royalties").text
        down.close()
    finally:
        ran.close()
