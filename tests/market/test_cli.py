"""`mintloom market …` on anvil through the CLI: a campaign listed with one signature, shared as
JSON, bought by another account, resold, cancelled; a tampered or foreign order exits 8 (market)
with its error's name and sends nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mintloom.errors import OrderClosed, WrongChain
from mintloom.ledger.assets import token_id
from mintloom.market.book import OrderTampered, load_orders
from mintloom.market.catalog import load_listings
from tests.cli.runs import as_party, exit_code, mintloom
from tests.market.conftest import Market
from tests.market.test_service import _hero, _sent

pytestmark = pytest.mark.xdist_group("anvil")


def test_market_cli_lists_buys_resells_and_refuses(
    market: Market, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    m, db = market, market.studio.db
    listed = mintloom("market", "list-campaign", "c1", "--price-per", "image=0.1,copy=0.02")
    assert listed.exit_code == 0 and "2 image at 0.1 ETH, 2 copy at 0.02 ETH" in listed.output, listed.output
    [listing] = load_listings(db, m.brand.chain_id)
    shown = mintloom("market", "offers")
    assert "merkle" in shown.output and "(4 assets)" in shown.output, shown.output
    shared = tmp_path / "listing.json"
    assert mintloom("market", "export", "0x" + listing.digest.hex()[:10], "--out", str(shared)).exit_code == 0

    hero = _hero(m)
    as_party(monkeypatch, 5)
    bought = mintloom("market", "buy", str(shared), "--cid", hero, "--price", "0.1")
    assert bought.exit_code == 0 and "bought" in bought.output, bought.output
    assert str(m.party(5).call("CreativeAssets", "ownerOf", token_id(hero))) == m.party(5).address
    resold = mintloom("market", "list", hero, "--price", "0.3")
    assert resold.exit_code == 0, resold.output
    [resale] = load_orders(db, m.brand.chain_id, signer=m.party(5).address)
    ref = "0x" + resale.digest.hex()[:12]

    as_party(monkeypatch, 6)
    before = _sent(m.party(6))
    assert exit_code(monkeypatch, "market", "buy", ref, "--price", "0.2") == 8  # price mismatch
    as_party(monkeypatch, 5)
    assert mintloom("market", "cancel", ref).exit_code == 0
    as_party(monkeypatch, 6)
    refused = mintloom("market", "buy", ref)
    assert isinstance(refused.exception, OrderClosed), refused.output
    assert exit_code(monkeypatch, "market", "buy", ref) == 8
    assert _sent(m.party(6)) == before

    data = json.loads(shared.read_text())
    data["listing"]["prices"][0][1] = 1  # image at 1 wei
    (tmp_path / "cheap.json").write_text(json.dumps(data))
    assert isinstance(mintloom("market", "import", str(tmp_path / "cheap.json")).exception, OrderTampered)
    data = json.loads(shared.read_text())
    data["chain_id"] = 1
    (tmp_path / "mainnet.json").write_text(json.dumps(data))
    foreign = mintloom("market", "import", str(tmp_path / "mainnet.json"))
    assert isinstance(foreign.exception, OrderTampered | WrongChain), foreign.output
    assert exit_code(monkeypatch, "market", "import", str(tmp_path / "mainnet.json")) == 8
    assert mintloom("market", "cancel", "--all").exit_code == 0
    assert int(m.brand.call("Marketplace", "counterOf", m.party(6).address)) == 1
