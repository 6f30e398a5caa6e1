"""`mintloom ugc register | claim` on anvil: the DAO funds the pool and sets the reward by vote; a
fan's registered derivative of a family asset earns once, then claims. Refused by name, sending
nothing: no licence, the same child twice, a re-signed copy of the parent, a child the family
does not know, a second reward over the creator's cap."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mintloom.campaign.spec import load_spec
from mintloom.errors import (
    DuplicateChildError,
    NearCopyError,
    NoLicenceError,
    ParentNotInFamilyError,
    RewardBudgetError,
)
from mintloom.governance.publish import publish_campaign
from mintloom.governance.remix import Remix, remix
from mintloom.ledger.assets import register_asset, token_id
from mintloom.store.catalog import Catalog
from mintloom.store.cid import digest_of
from mintloom.studio import Studio
from tests.cli.runs import as_party, mintloom, party
from tests.governance.test_dao import FAN, _hero, anchored, mine
from tests.market.test_service import _sent

__all__ = ["anchored"]  # the fixture, used by name
pytestmark = pytest.mark.xdist_group("anvil")


def _register_to(studio: Studio, child: Remix, owner: str) -> None:
    """Register the remix (logged in the brand's log, its leaf committing to the hero) to ``owner``."""
    receipt = studio.log.receipt(child.cid)
    assert receipt is not None and receipt.anchor is not None and receipt.parent == child.parent_cid
    proof = [bytes.fromhex(p) for p in receipt.inclusion_proof]
    metadata = hashlib.sha256(child.cid.encode()).digest()
    args = (digest_of(child.cid), bytes.fromhex(receipt.manifest_hash), receipt.leaf_index)
    studio.chain.transact(
        "CreativeAssets",
        "register",
        owner,
        *args,
        receipt.tree_size,
        proof,
        token_id(child.parent_cid),
        metadata,
    )


def _dao_sets_up_the_pool(s: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    as_party(monkeypatch, 0)
    args = ("--fund", "1", "--reward", "0.1", "--cap", "1", "--budget", "0.5")
    assert mintloom("dao", "propose", *args).exit_code == 0
    mine(s, 2)
    assert mintloom("dao", "vote", "1", "for").exit_code == 0
    mine(s, 25)
    assert mintloom("dao", "queue", "1").exit_code == 0
    mine(s, 1, seconds=61)
    assert mintloom("dao", "execute", "1", "--pay").exit_code == 0


def test_a_fans_derivative_is_rewarded_once(
    anchored: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = anchored
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", "1000").exit_code == 0
    hero = _hero(s)
    parent = tmp_path / "hero.png"
    parent.write_bytes(s.blobs.get(hero))
    made = [
        remix(parent.read_bytes(), t, signer=s.asset_signer, log=s.log, title=f"{t}.png")
        for t in ("frame", "poster")
    ]
    s.anchor()
    publish_campaign(s.chain, s.db, load_spec(s.workspace.root.parent / "c1" / "campaign.yaml").spec)
    register_asset(s.chain, s.log, Catalog(s.db), hero, blobs=s.blobs)
    fan = party(s, FAN)
    for child in made:
        _register_to(s, child, fan.address)
    files = []
    for child in made:
        files.append(tmp_path / f"{child.cid}.png")
        files[-1].write_bytes(child.data)
    _dao_sets_up_the_pool(s, monkeypatch)

    as_party(monkeypatch, FAN)
    register = ("ugc", "register", str(files[0]), "--parent", str(parent), "--licence", "commercial-remix")
    before = _sent(fan)
    assert isinstance(mintloom(*register).exception, NoLicenceError)
    assert _sent(fan) == before
    assert mintloom("license", "buy", hero, "--terms", "commercial-remix").exit_code == 0
    rewarded = mintloom(*register)
    assert rewarded.exit_code == 0 and "0.1 ETH granted" in " ".join(rewarded.output.split()), rewarded.output

    shown = " ".join(mintloom("verify", str(files[0])).output.split())
    assert f"UGC reward {10**17} wei to {fan.address}" in shown, shown
    assert f"derivative of token {hex(token_id(hero))[:40]}" in shown, shown  # the table wraps the rest

    before = _sent(fan)
    assert isinstance(mintloom(*register).exception, DuplicateChildError)
    copy = ("ugc", "register", str(parent), "--parent", str(parent), "--licence", "commercial-remix")
    assert isinstance(mintloom(*copy).exception, NearCopyError)
    second = ("ugc", "register", str(files[1]), "--parent", str(parent), "--licence", "commercial-remix")
    assert isinstance(mintloom(*second).exception, RewardBudgetError)  # cap: 1 per creator per epoch
    assert _sent(fan) == before

    balance = fan.w3.eth.get_balance(fan.address)
    claimed = mintloom("ugc", "claim")
    assert claimed.exit_code == 0 and "0.1 ETH" in claimed.output, claimed.output
    assert fan.w3.eth.get_balance(fan.address) > balance
    assert isinstance(mintloom("ugc", "claim").exception, RewardBudgetError)
    assert s.chain.call("UGCRewards", "available") == 10**18 - 10**17


def test_a_child_the_family_does_not_know_earns_nothing(
    anchored: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = anchored
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", "1000").exit_code == 0
    parent = tmp_path / "hero.png"
    parent.write_bytes(s.blobs.get(_hero(s)))
    child = remix(parent.read_bytes(), "split", signer=s.asset_signer, log=s.log, title="split.png")
    unregistered = tmp_path / "split.png"
    unregistered.write_bytes(child.data)
    as_party(monkeypatch, FAN)
    refused = mintloom("ugc", "register", str(unregistered), "--parent", str(parent), "--licence", "3")
    assert isinstance(refused.exception, ParentNotInFamilyError), refused.output
