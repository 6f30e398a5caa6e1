"""`mintloom dao …` on anvil through the CLI: a campaign fractionalised before it is published, 30%
of its shares sold, a licence sale paid to holders pro rata, a proposal raising the licence fee and
funding the UGC pool voted, queued and executed; each refusal exits 7 by name and sends nothing."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import AUDIENCE_ROWS, sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.errors import (
    AlreadyVotedError,
    CampaignAlreadyPublishedError,
    MintloomError,
    NotEmbeddedChainError,
    NoVotingPowerError,
    ProposalNotFoundError,
    ProposalStateError,
    TreasuryTooSmallError,
)
from mintloom.governance import dao
from mintloom.governance.licenses import ETH, register_terms, terms_of
from mintloom.governance.publish import publish_campaign
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import AnvilNode, NodeInfo, rpc_call
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.campaign.conftest import write_campaign
from tests.cli.runs import as_party, exit_code, mintloom, party
from tests.market.test_service import _sent

pytestmark = pytest.mark.xdist_group("anvil")

FAN, OUTSIDER, BUYER = 5, 7, 6
SUPPLY = 1000
FEE = 10**16  # the standard commercial fee the campaign's images are licensed at


def mine(studio: Studio, blocks: int, seconds: int = 0) -> None:
    """The test moves the shared node's clock itself: `dao … --advance` refuses a configured RPC."""
    url = studio.chain.rpc_url
    if seconds:
        rpc_call(url, "evm_increaseTime", [seconds])
    for _ in range(blocks):
        rpc_call(url, "evm_mine")


@pytest.fixture
def anchored(studio: Studio, shared_anvil: NodeInfo, tmp_path: Path) -> Studio:
    """Campaign c1 (a hero image, its square variant, two copy assets) run and anchored, not published."""
    deploy_all(studio.chain, studio.settings.governance)
    header = "segment,name,city,offer,currency,price,deadline\n"
    text = sample_spec(campaign="c1", formats=("square",), copy=True, audio=False)
    spec = write_campaign(tmp_path / "c1", text, header + AUDIENCE_ROWS[0] + "\n")
    CampaignRunner(studio.run_parts(), load_spec(spec)).run()
    studio.anchor()
    return studio


def _publish(studio: Studio) -> None:
    spec = load_spec(studio.workspace.root.parent / "c1" / "campaign.yaml").spec
    publish_campaign(studio.chain, studio.db, spec)


def _hero(studio: Studio) -> str:
    from mintloom.store.catalog import Catalog

    images = Catalog(studio.db).assets("c1", kind="image")
    return next(a.cid for a in images if studio.log.receipt(a.cid).parent is None)  # type: ignore[union-attr]


def test_fractionalised_campaign_pays_holders_pro_rata(
    anchored: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = anchored
    made = mintloom("dao", "fractionalise", "c1", "--supply", str(SUPPLY))
    assert made.exit_code == 0 and "family c1 shares" in made.output, made.output
    _publish(s)  # the brand role of c1's split is now the share token
    shares = s.chain.address_of("RoyaltyShares")
    [recipient] = s.chain.call("RoyaltyVault", "split", s.chain.call("RoyaltyVault", "splitCount"))[0]
    assert recipient == shares

    fan = party(s, FAN).address
    assert mintloom("dao", "shares", "transfer", fan, str(SUPPLY * 3 // 10)).exit_code == 0
    hero = _hero(s)
    assert mintloom("register", hero).exit_code == 0
    as_party(monkeypatch, BUYER)
    bought = mintloom("license", "buy", hero, "--terms", "commercial-remix")
    assert bought.exit_code == 0, bought.output

    as_party(monkeypatch, 0)
    brand_before = s.chain.w3.eth.get_balance(s.chain.address)
    claimed = mintloom("dao", "shares", "claim")
    assert claimed.exit_code == 0 and "0.007 ETH" in claimed.output, claimed.output
    as_party(monkeypatch, FAN)
    assert "0.003 ETH" in mintloom("dao", "shares", "claim").output
    assert exit_code(monkeypatch, "dao", "shares", "claim") == 7  # nothing left: refused, not a revert
    assert s.chain.call("RoyaltyShares", "claimed", s.chain.address, ETH) == FEE * 7 // 10
    assert s.chain.call("RoyaltyShares", "claimed", fan, ETH) == FEE * 3 // 10
    assert s.chain.w3.eth.get_balance(s.chain.address) < brand_before + FEE  # paid gas, got 70%

    as_party(monkeypatch, 0)
    again = mintloom("dao", "fractionalise", "c1")
    assert isinstance(again.exception, CampaignAlreadyPublishedError), again.output


def test_dao_votes_raises_the_fee_and_funds_the_pool(
    anchored: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = anchored
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", str(SUPPLY)).exit_code == 0
    fan = party(s, FAN)
    assert mintloom("dao", "shares", "transfer", fan.address, "300").exit_code == 0
    as_party(monkeypatch, FAN)
    assert mintloom("dao", "delegate").exit_code == 0
    as_party(monkeypatch, 0)

    args = ("--fee", "0.02", "--fund", "1", "--reward", "0.1", "--cap", "1", "--budget", "0.5")
    proposed = mintloom("dao", "propose", *args)
    assert proposed.exit_code == 0, proposed.output
    for words in (
        "raise licence fee of family Spring to 0.02 ETH",
        "fund UGC pool with 1 ETH",
        "cap per creator",
    ):
        assert words in " ".join(proposed.output.split())
    refused = mintloom("dao", "vote", "1", "for")
    assert isinstance(refused.exception, ProposalStateError), refused.output  # voting not open yet
    mine(s, 2)

    assert mintloom("dao", "vote", "1", "for", "--reason", "grow the remix scene").exit_code == 0
    before = _sent(s.chain)
    assert exit_code(monkeypatch, "dao", "vote", "#1", "against") == 7
    assert isinstance(mintloom("dao", "vote", "1", "against").exception, AlreadyVotedError)
    assert _sent(s.chain) == before
    as_party(monkeypatch, FAN)
    assert mintloom("dao", "vote", "1", "against").exit_code == 0
    as_party(monkeypatch, OUTSIDER)
    assert isinstance(mintloom("dao", "vote", "1", "for").exception, NoVotingPowerError)
    assert isinstance(mintloom("dao", "queue", "9").exception, ProposalNotFoundError)
    as_party(monkeypatch, 0)
    assert isinstance(mintloom("dao", "queue", "1").exception, ProposalStateError)  # still active
    before = _sent(s.chain)
    assert isinstance(mintloom("dao", "queue", "1", "--advance").exception, NotEmbeddedChainError)
    assert _sent(s.chain) == before

    mine(s, 25)
    shown = mintloom("dao", "status")
    row = next(line for line in shown.output.splitlines() if "succeeded" in line)
    assert [c.strip() for c in row.split("│")][3:7] == ["succeeded", "700", "300", "0"], shown.output
    assert mintloom("dao", "queue", "1").exit_code == 0
    mine(s, 1, seconds=61)
    assert isinstance(mintloom("dao", "execute", "1").exception, TreasuryTooSmallError)
    executed = mintloom("dao", "execute", "1", "--pay")
    assert executed.exit_code == 0, executed.output

    assert terms_of(s.chain, s.chain.call("FamilyConfig", "newLeafTerms")).minting_fee == 2 * 10**16
    reward, cap, budget, *_ = s.chain.call("UGCRewards", "parameters")
    assert (reward, cap, budget) == (10**17, 1, 5 * 10**17)
    assert s.chain.call("UGCRewards", "available") == 10**18
    assert "executed" in mintloom("dao", "status").output


def test_a_repeated_proposal_sends_nothing(anchored: Studio) -> None:
    """The governor's proposal id is checked before anything is sent: `--fee` used to register
    its terms (a transaction) before the governor refused the repeat."""
    s = anchored
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", str(SUPPLY)).exit_code == 0
    args = ("--fee", "0.03", "--fund", "1")
    assert mintloom("dao", "propose", *args).exit_code == 0
    terms = int(s.chain.call("LicenseTemplates", "termsCount"))  # the 0.03 ETH terms, registered by #1
    before = _sent(s.chain)
    repeat = mintloom("dao", "propose", *args)
    assert isinstance(repeat.exception, ProposalStateError), repeat.output
    assert _sent(s.chain) == before  # no journal entry, no nonce: not even the terms' registration
    assert "proposal #1 already proposes exactly this" in str(repeat.exception), repeat.exception
    other = mintloom("dao", "propose", "--fee", "0.03")  # another proposal naming the registered terms
    assert other.exit_code == 0 and "proposal #2" in other.output, other.output
    assert f"to 0.03 ETH (terms #{terms})" in " ".join(other.output.split()), other.output
    assert _sent(s.chain) == (before[0] + 1, before[1] + 1)  # the propose alone


def test_terms_registered_meanwhile_are_proposed_under_their_id(anchored: Studio) -> None:
    """The --fee terms are predicted as the next id; another account then registers other terms
    (taking that id) and these very terms (the id after). Before issue 16's fix propose sent the
    (idempotent) registration and raised DaoError("terms #N were taken by other terms…"), though
    the terms it wanted were registered; now it proposes them under the id they got."""
    s = anchored
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", str(SUPPLY)).exit_code == 0
    [action] = dao.plan_actions(s.chain, dao.Plan(fee_wei=4 * 10**16))
    assert action.registers is not None
    predicted = int(action.args[0])
    assert predicted == int(s.chain.call("LicenseTemplates", "termsCount")) + 1
    other = party(s, OUTSIDER)
    assert register_terms(other, action.registers.model_copy(update={"minting_fee": 5 * 10**16})) == predicted
    assert register_terms(other, action.registers) == predicted + 1
    p = dao.propose(s.chain, [action])
    assert f"to 0.04 ETH (terms #{predicted + 1})" in p.description, p.description
    call = s.chain.contract("FamilyConfig").encode_abi("setNewLeafTerms", args=[predicted + 1])
    assert p.calldatas == (bytes.fromhex(call.removeprefix("0x")),)


def test_a_proposal_whose_predicted_terms_id_another_proposal_took_is_predicted_again(
    anchored: Studio,
) -> None:
    """Two proposals with different fees both predict terms #N; the other one is made first and
    registers #N. This one used to register its terms (as #N+1), then fail with "terms #N were
    taken", leaving them registered; its terms are now predicted again once it is its turn."""
    s = anchored
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", str(SUPPLY)).exit_code == 0
    [mine] = dao.plan_actions(s.chain, dao.Plan(fee_wei=4 * 10**16))
    predicted = int(mine.args[0])
    first = dao.propose(s.chain, dao.plan_actions(s.chain, dao.Plan(fee_wei=5 * 10**16)))
    assert f"(terms #{predicted})" in first.description
    p = dao.propose(s.chain, [mine])
    assert f"to 0.04 ETH (terms #{predicted + 1})" in p.description, p.description
    assert int(s.chain.call("LicenseTemplates", "termsCount")) == predicted + 1  # registered once


def test_advance_moves_only_the_embedded_node(workspace: Workspace, anvil: NodeInfo) -> None:
    """On the workspace's own anvil node (no RPC configured) time and blocks move."""
    head = int(rpc_call(anvil.rpc_url, "eth_blockNumber"), 16)
    moved = mintloom("dao", "advance", "--blocks", "3", "--seconds", "3600")
    assert moved.exit_code == 0, moved.output
    assert int(rpc_call(anvil.rpc_url, "eth_blockNumber"), 16) == head + 3
    assert AnvilNode(workspace.chain_dir).running() is not None  # the command left the node running


def test_advance_is_refused_on_a_configured_rpc(studio: Studio, shared_anvil: NodeInfo) -> None:
    head = studio.chain.w3.eth.block_number
    refused = mintloom("dao", "advance", "--blocks", "3")
    assert isinstance(refused.exception, NotEmbeddedChainError), refused.output
    assert studio.chain.w3.eth.block_number == head


def test_two_identical_proposals_at_once_make_one_and_refuse_the_other_by_number(
    anchored: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes (here threads, each with its own client of the key) propose the same actions.
    Both used to pass the repeat check before either sent, and both reported the one proposal
    the governor made; now proposals take turns and the second is refused by number."""
    s = anchored
    assert mintloom("dao", "create", "Spring", "--campaign", "c1", "--supply", str(SUPPLY)).exit_code == 0
    key = "0x" + bytes(s.chain.account.key).hex()
    clients = [ChainClient(s.chain.rpc_url, key, s.db, s.chain.deployments) for _ in range(2)]
    both_checked = threading.Barrier(2, timeout=3)
    real_refuse = dao._refuse_repeat

    def refuse_then_meet(chain: ChainClient, pid: int, kind: str) -> None:
        real_refuse(chain, pid, kind)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait()  # without turns, both pass the check before either sends

    monkeypatch.setattr(dao, "_refuse_repeat", refuse_then_meet)
    outcomes: list[object] = []

    def run(client: ChainClient) -> None:
        try:
            outcomes.append(dao.propose(client, dao.plan_actions(client, dao.Plan(fund_wei=10**18))))
        except MintloomError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    made = [o for o in outcomes if isinstance(o, dao.Proposal)]
    refused = [o for o in outcomes if isinstance(o, ProposalStateError)]
    assert len(made) == 1 and len(refused) == 1, outcomes
    assert f"proposal #{made[0].number} already proposes exactly this" in str(refused[0])
    assert len(dao.proposals(s.chain)) == 1
