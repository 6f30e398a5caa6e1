"""`mintloom verify FILE` of a sold asset shows its sales and current owner, and writes nothing."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mintloom.chain_lookup import verify_context
from mintloom.cli.console import close_studios
from mintloom.cli.main import app
from mintloom.market.service import buy, buy_merkle, list_asset, list_campaign
from mintloom.store.catalog import Catalog
from mintloom.verify.verifier import verify_bytes, verify_many
from tests.market.conftest import PRICES, Market
from tests.market.test_service import _hero, _sent

pytestmark = pytest.mark.xdist_group("anvil")


def test_verify_shows_sales_and_owner(market: Market) -> None:
    m, db = market, market.studio.db
    first, second = m.party(5), m.party(6)
    hero = _hero(m)
    buy_merkle(
        first,
        m.studio.log,
        list_campaign(m.brand, db, m.studio.log, m.studio.blobs, "c1", prices=PRICES),
        hero,
    )
    buy(second, list_asset(first, db, hero, 3 * 10**17))
    report = verify_bytes(m.studio.blobs.get(hero), "hero.png", verify_context(m.studio))
    lic = report.license
    assert lic is not None and lic.owner == second.address
    assert [(s.buyer, s.seller, s.price) for s in lic.sales] == [
        (first.address, None, str(PRICES["image"])),
        (second.address, first.address, str(3 * 10**17)),
    ]
    row = Catalog(db).asset(hero)
    assert row is not None
    path = m.studio.workspace.out_dir / "c1" / row.path
    before = [_sent(c) for c in (m.brand, first, second)]
    try:
        shown = CliRunner().invoke(app, ["verify", str(path)], env={"COLUMNS": "250"})
    finally:
        close_studios()
    assert shown.output.count("sold") == 2 and "campaign listing" in shown.output, shown.output
    assert [_sent(c) for c in (m.brand, first, second)] == before
    # in a folder the same file's report is the same whichever batch it falls in, alone or not
    # (a batch of one file was taken for a file verified on its own, and scanned for its sales)
    [in_folder] = verify_many([path], verify_context(m.studio))
    assert in_folder.license is not None and in_folder.license.owner == second.address
    assert in_folder.license.sales == []
