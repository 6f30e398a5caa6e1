"""The demo's Creative DAO step on the workspace's own embedded anvil (it moves time and blocks):
30% of the shares are sold through a marketplace share lot (not transferred), its balances
reconcile to the wei (70/30 share revenue, the fan's 0.1 ETH reward from the fan's
own log, 0.9 ETH left in the pool, every balance change plus gas summing to zero), the fan's
child verifies VERIFIED in the fan's workspace with its parent chain fan → brand and its reward
(the remix trusts the brand's root for the parent, verify both roots; before, it was UNTRUSTED and
the demo never said so), and a rerun finds the family instead of doing it again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mintloom.cli.demo_dao import (
    CAMPAIGN,
    FAN,
    INVESTOR,
    DaoOutcome,
    DemoChildUnverifiedError,
    DemoReconciliationError,
    _fan_studio,
    _reconcile,
    _verify_child,
    dao_step,
)
from mintloom.ledger.assets import token_id
from mintloom.ledger.client import ChainClient
from mintloom.ledger.node import NodeInfo, dev_key
from mintloom.market.book import load_orders
from mintloom.market.orders import Kind
from mintloom.studio import Studio
from tests.conftest import PASSWORD
from tests.governance.test_dao import mintloom

pytestmark = pytest.mark.xdist_group("anvil")
FEE = 10**16  # the commercial-remix licence fee the hero is sold at
SOLD = 300 * 10**18  # 30% of the 1000 shares, in share units
LOT = 3 * 10**17  # 300 shares at 0.001 ETH


def test_the_dao_step_reconciles(studio: Studio, anvil: NodeInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    studio.contracts()

    def party(index: int) -> ChainClient:
        return ChainClient(studio.chain.rpc_url, dev_key(index), studio.db, studio.chain.deployments)

    said: list[str] = []
    outcome = dao_step(said.append, studio, PASSWORD, party)
    assert outcome == DaoOutcome(
        licence_fee=FEE,
        brand_revenue=FEE * 7 // 10,
        investor_revenue=FEE * 3 // 10,
        reward=10**17,
        pool_left=9 * 10**17,
        total_change=0,
        shares_bought=SOLD,
        lot_price=LOT,
    )
    assert any(CAMPAIGN in s and "fractionalises" in s for s in said), said
    assert any("marketplace" in s and "buys the lot" in s for s in said), said
    _sold_through_the_marketplace(studio, party(INVESTOR).address)
    assert any("fan" in s and "remixes" in s for s in said), said
    child = studio.workspace.root / "fan" / "fan-remix.png"
    assert child.is_file() and studio.log.index_of(str(_cid(child.read_bytes()))) is None  # the fan's log
    # the reward went through the attester the DAO named (the brand's account), for the fan
    assert studio.chain.call("UGCRewards", "parameters")[6] == studio.chain.address
    assert any("attests it for its creator" in s for s in said), said
    child_token = token_id(str(_cid(child.read_bytes())))
    attested = studio.chain.call("UGCRewards", "attestation", child_token)
    assert attested[2] == party(FAN).address and attested[0] == child_token
    _the_child_verifies(studio, said, child, party(FAN).address, monkeypatch)
    _a_reward_not_the_familys_is_refused(studio, child, party(INVESTOR).address, monkeypatch)
    again: list[str] = []
    assert dao_step(again.append, studio, PASSWORD, party) is None
    assert again == ["the Creative DAO Lumen DAO exists already (resumed run)"]


def _the_child_verifies(
    studio: Studio, said: list[str], child: Path, fan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's verify line, and the command it prints, run: VERIFIED, fan → brand, the reward."""
    [line] = [s for s in said if s.startswith("verify fan-remix.png")]
    fan_signer, brand_signer = line.split("parent chain ")[1].split(", UGC reward")[0].split(" → ")
    assert "Fan Club" in fan_signer and studio.keys.info().organisation in brand_signer, line
    assert "roots: VERIFIED" in line and line.endswith(f"UGC reward 0.1 ETH to {fan}"), line
    monkeypatch.setenv("MINTLOOM_WORKSPACE", str(child.parent))
    roots = child.parent / "fan-and-brand-roots.pem"
    shown = mintloom("verify", str(child), "--trust", str(roots))
    flat = " ".join(shown.output.split())
    assert shown.exit_code == 0 and " VERIFIED " in flat, shown.output
    assert "(parentOf) signed by" in flat and f"UGC reward {10**17} wei to {fan}" in flat, shown.output


def _a_reward_not_the_familys_is_refused(
    studio: Studio, child: Path, other: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's verify of the child passes as is, and refuses (DemoChildUnverifiedError) the same
    report with its reward from another pool, of another amount or to another creator: before
    issue 16's fix it only checked that some reward was shown, and said the family pool paid it."""
    from mintloom.verify import verifier

    real = verifier.verify_bytes
    fan = _fan_studio(studio, PASSWORD)
    try:
        _verify_child(lambda _: None, studio, fan, child)
        for changed in ({"pool": other}, {"amount": str(2 * 10**17)}, {"creator": other}):

            def forged(
                data: bytes, name: str, ctx: verifier.VerifyContext, c: dict[str, str] = changed
            ) -> Any:
                r = real(data, name, ctx)
                assert r.license is not None and r.license.ugc_reward is not None
                reward = r.license.ugc_reward.model_copy(update=c)
                return r.model_copy(update={"license": r.license.model_copy(update={"ugc_reward": reward})})

            monkeypatch.setattr(verifier, "verify_bytes", forged)
            with pytest.raises(DemoChildUnverifiedError, match="not 100000000000000000 wei to the fan"):
                _verify_child(lambda _: None, studio, fan, child)
        monkeypatch.setattr(verifier, "verify_bytes", real)
        with pytest.raises(DemoChildUnverifiedError, match="cannot verify"):
            _verify_child(lambda _: None, studio, fan, child.parent / "no-such.png")
    finally:
        fan.close()


def _sold_through_the_marketplace(studio: Studio, investor: str) -> None:
    """The investor's shares came by a filled share lot (its OrderFilled), not a plain transfer."""
    [lot] = [o for o in load_orders(studio.db, studio.chain.chain_id) if o.order.kind is Kind.SHARES]
    assert int(studio.chain.call("Marketplace", "filled", lot.digest)) == SOLD
    fills = studio.chain.event_logs("Marketplace", "OrderFilled", {})
    [fill] = [f["args"] for f in fills if bytes(f["args"]["orderHash"]) == lot.digest]
    assert (fill["buyer"], fill["amount"], fill["price"], fill["royalty"]) == (investor, SOLD, LOT, 0)


def test_a_ledger_that_does_not_add_up_fails_loudly() -> None:
    good = DaoOutcome(FEE, FEE * 7 // 10, FEE * 3 // 10, 10**17, 9 * 10**17, 0, SOLD, LOT)
    _reconcile(good)
    for bad in (
        DaoOutcome(FEE, FEE * 7 // 10, FEE * 3 // 10, 10**17, 9 * 10**17, 1, SOLD, LOT),  # 1 wei astray
        DaoOutcome(FEE, FEE * 8 // 10, FEE * 2 // 10, 10**17, 9 * 10**17, 0, SOLD, LOT),  # not pro rata
        DaoOutcome(FEE, FEE * 7 // 10, FEE * 3 // 10, 10**17, 10**18, 0, SOLD, LOT),  # pool paid nothing
        DaoOutcome(FEE, FEE * 7 // 10, FEE * 3 // 10, 10**17, 9 * 10**17, 0, SOLD // 2, LOT // 2),  # 15%
        DaoOutcome(FEE, FEE * 7 // 10, FEE * 3 // 10, 10**17, 9 * 10**17, 0, SOLD, LOT - 1),  # underpaid
    ):
        with pytest.raises(DemoReconciliationError, match="does not reconcile"):
            _reconcile(bad)


def _cid(data: bytes) -> str:
    from mintloom.store.cid import cid_for

    return str(cid_for(data))
