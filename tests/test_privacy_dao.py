"""Privacy canary for the Creative DAO's share lots and UGC rewards: every audience field of the
family's campaign holds a canary; the campaign is fractionalised, its pool funded and its attester
named by vote, then through the CLI the brand lists a share lot (`market list-shares`), a buyer
takes part of it and offers for more (`buy-shares`, `offer-shares`), the brand sells into the
offer (`accept-shares`), a fan remixes the family's ad in the fan's own workspace (`remix`), the
brand attests it (`ugc attest`) and the fan registers and claims its reward (`ugc register`,
`ugc claim`). Searched (every encoding of :func:`tests.test_privacy.forms`):

* **leaves the workspace**, so no audience value and no local path: every transaction's calldata
  and event log on the chain, the full receipts of the attestation and registration, both orders
  as `market export` shares them, the fan's child (bytes and its manifest store, the parent's
  ingredient included) and its log receipt;
* **operator-facing**, so no audience value: each command's output, the `dao create`, `dao propose`,
  `dao vote`, `dao queue` and `dao execute` the family's set-up helpers run included
  (:func:`_helpers_searched`).

Positive control: the canaries reached the campaign (its asset paths name the segment)."""

from __future__ import annotations

import io
from pathlib import Path

import c2pa
import pytest
from eth_typing import HexStr
from typer.testing import Result
from web3 import Web3

import tests.governance.test_ugc_attester as attester_tests
import tests.governance.test_ugc_cross_org as cross_org_tests
import tests.governance.test_ugc_rewards as rewards_tests
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.journal import Journal
from mintloom.ledger.node import NodeInfo
from mintloom.market.book import load_orders
from mintloom.market.licensing import buy_license
from mintloom.market.orders import Kind
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_for
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.campaign.conftest import write_campaign
from tests.cli.runs import as_party, mintloom, party
from tests.governance.test_dao import BUYER, FAN
from tests.governance.test_remix import fan
from tests.governance.test_ugc_attester import _dao_names_the_attester
from tests.governance.test_ugc_cross_org import _brand_family, _in_fan_workspace
from tests.test_privacy import Streams, chain_bytes

__all__ = ["fan"]  # the fixture, used by name
pytestmark = pytest.mark.xdist_group("anvil")

SEGMENT = "cnryseg-Ug47"
FIELDS = {"name": "CnryName-Hw82", "city": "CnryCity-Rb36", "offer": "15", "currency": "EUR",
          "price": "7391.4826", "deadline": "2031-07-19"}  # fmt: skip
PRIVATE = (SEGMENT, FIELDS["name"], FIELDS["city"], FIELDS["price"], FIELDS["deadline"])
TERMS = "commercial-remix"


@pytest.fixture
def canary_campaign(studio: Studio, shared_anvil: NodeInfo, tmp_path: Path) -> Studio:
    """Campaign c1 (a hero image and its square variant) run and anchored, not published; its
    one audience row a canary in every field."""
    deploy_all(studio.chain, studio.settings.governance)
    header = ",".join(["segment", *FIELDS]) + "\n"
    text = sample_spec(campaign="c1", locales=("en-US",), formats=("square",), copy=False, audio=False)
    spec = write_campaign(tmp_path / "c1", text, header + ",".join([SEGMENT, *FIELDS.values()]) + "\n")
    CampaignRunner(studio.run_parts(), load_spec(spec)).run()
    studio.anchor()
    return studio


def _helpers_searched(monkeypatch: pytest.MonkeyPatch, streams: Streams) -> None:
    """The shared set-up helpers (``_brand_family``, ``_dao_sets_up_the_pool``,
    ``_dao_names_the_attester``) run their `dao` commands through their modules' ``mintloom``: here
    it also keeps each output for the search (the helpers check the exit codes themselves)."""

    def kept(*args: str) -> Result:
        r = mintloom(*args)
        streams.add(" ".join(args[:2]) + " output", r.output, PRIVATE)
        return r

    for module in (cross_org_tests, rewards_tests, attester_tests):
        monkeypatch.setattr(module, "mintloom", kept)


class Run:
    """CLI commands whose output is kept for the search."""

    def __init__(self, streams: Streams) -> None:
        self.streams = streams

    def __call__(self, *args: str) -> str:
        r = mintloom(*args)
        assert r.exit_code == 0, (args, r.output)
        self.streams.add(" ".join(args[:2]) + " output", r.output, PRIVATE)
        return r.output


def test_share_lots_and_ugc_rewards_carry_no_audience_value(
    canary_campaign: Studio, fan: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    brand = canary_campaign
    assert any(SEGMENT in a.path for a in Catalog(brand.db).assets("c1")), "positive control"
    streams = Streams()
    public = (*PRIVATE, str(tmp_path))
    _helpers_searched(monkeypatch, streams)
    parent, pool = _brand_family(brand, tmp_path, monkeypatch)
    _dao_names_the_attester(brand, monkeypatch, brand.chain.address)
    _share_lots(brand, Run(streams), tmp_path, monkeypatch, public)
    _ugc(brand, fan, Run(streams), family=(parent, pool), tmp_path=tmp_path, monkeypatch=monkeypatch,
         public=public)  # fmt: skip
    sent = {e.tx_hash for e in brand.chain.journal.entries(brand.chain.chain_id)}
    for name, data in chain_bytes(brand.chain.rpc_url):
        streams.add(name, data, public)
        sent.discard(name.split()[-1].split("#")[0])
    assert not sent, "every transaction of the test was searched"
    searched = {name for name, _, _ in streams.items}
    commands = ("list-shares", "buy-shares", "offer-shares", "accept-shares", "export")
    required = {f"market {c} output" for c in commands}
    required |= {f"ugc {c} output" for c in ("attest", "register", "claim")}
    required |= {f"dao {c} output" for c in ("create", "propose", "vote", "queue", "execute")}
    assert required <= searched, sorted(required - searched)
    assert sum(name.startswith("calldata ") for name in searched) > 20, sorted(searched)
    streams.assert_clean()


def _share_lots(brand: Studio, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                public: tuple[str, ...]) -> None:  # fmt: skip
    """A lot listed, partly bought, an offer for more, sold into; both orders exported."""
    as_party(monkeypatch, 0)
    run("market", "list-shares", "300", "--price", "0.001")
    [lot] = [o for o in load_orders(brand.db, brand.chain.chain_id) if o.order.kind is Kind.SHARES]
    as_party(monkeypatch, BUYER)
    run("market", "buy-shares", "0x" + lot.digest.hex()[:12], "100", "--price", "0.001")
    coin = str(brand.chain.deploy("TestERC20"))
    buyer = party(brand, BUYER).address
    brand.chain.transact_at(coin, brand.chain.artifact("TestERC20").abi, "mint", buyer, 10**21)
    run("market", "offer-shares", "10", "--price", "2", "--currency", coin)
    [bid] = [o for o in load_orders(brand.db, brand.chain.chain_id) if o.order.side.name == "OFFER"]
    as_party(monkeypatch, 0)
    run("market", "accept-shares", "0x" + bid.digest.hex()[:12], "4", "--price", "2")
    for order in (lot, bid):
        out = tmp_path / f"order-{order.digest.hex()[:12]}.json"
        run("market", "export", "0x" + order.digest.hex()[:12], "--out", str(out))
        run.streams.add(f"market export {out.name}", out.read_bytes(), public)


def _ugc(brand: Studio, fan_ws: Workspace, run: Run, *, family: tuple[Path, str], tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch, public: tuple[str, ...]) -> None:  # fmt: skip
    """The fan's remix, attested by the brand, registered and claimed by the fan."""
    parent, pool = family
    fan_root, brand_root = tmp_path / "fan-root.pem", tmp_path / "brand-root.pem"
    fan_root.write_text(KeyStore(fan_ws.keys_dir).trust_anchor_pem())
    brand_root.write_text(brand.keys.trust_anchor_pem())
    _in_fan_workspace(monkeypatch, fan_ws)
    child = tmp_path / "child.png"
    run("remix", str(parent), "--template", "frame", "--out", str(child), "--trust-parent", str(brand_root))
    buy_license(party(brand, FAN), str(cid_for(parent.read_bytes())), TERMS)
    monkeypatch.setenv("MINTLOOM_WORKSPACE", str(brand.workspace.root))
    as_party(monkeypatch, 0)
    run("ugc", "attest", str(child), "--parent", str(parent), "--trust", str(fan_root))
    _in_fan_workspace(monkeypatch, fan_ws)
    run("ugc", "register", str(child), "--parent", str(parent), "--licence", TERMS, "--family", pool)
    run("ugc", "claim", "--family", pool)

    data, streams = child.read_bytes(), run.streams
    streams.add("child.png", data, public)
    with c2pa.Reader("image/png", io.BytesIO(data)) as reader:
        store = reader.json()
    assert "parentOf" in store  # the parent's manifest is in the child's store, searched with it
    streams.add("child.png manifest store", store, public)
    db = open_workspace_database(fan_ws.database_url())
    try:
        receipt = TransparencyLog(db).receipt(str(cid_for(data)))
        fans = Journal(db).entries(brand.chain.chain_id)
    finally:
        db.dispose()
    assert receipt is not None and receipt.anchor is not None
    streams.add("child.png log receipt", receipt.model_dump_json(), public)
    ugc = [e for e in (*brand.chain.journal.entries(brand.chain.chain_id), *fans) if e.kind.startswith("ugc")]
    assert {e.kind.split(":")[0 if e.kind.startswith("ugc-") else 1] for e in ugc} >= {
        "ugc-register", "attest", "claim",
    }  # fmt: skip
    for e in ugc:
        full = Web3.to_json(brand.chain.w3.eth.get_transaction_receipt(HexStr(e.tx_hash)))
        streams.add(f"transaction receipt {e.kind}", full, public)
