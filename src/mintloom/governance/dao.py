"""A campaign family's Creative DAO: fractional shares, readable proposals, votes, queue, execute.

``create_family`` fractionalises a campaign: its anchored leaves become a family (``FamilyConfig``),
its owner role in the royalty split a fixed supply of ``RoyaltyShares`` minted to the brand, and
the family's rights go to a ``CreativeGovernor`` + ``TimelockController`` (``ledger.deploy
.deploy_family``). The split is assigned when the campaign is published, so a campaign must be
fractionalised before: its published split would keep paying the brand
(:class:`CampaignAlreadyPublishedError`). Proposals are built from named actions whose text is
the proposal's description; they are read back from the governor's ``ProposalCreated`` logs (no
local table). Moving time and blocks (:func:`advance`) exists for the embedded anvil node only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from web3 import Web3

from mintloom.config import Settings
from mintloom.errors import (
    AlreadyVotedError,
    CampaignAlreadyPublishedError,
    ContractError,
    DaoError,
    NotEmbeddedChainError,
    NoVotingPowerError,
    ProposalNotFoundError,
    ProposalStateError,
    TreasuryTooSmallError,
)
from mintloom.governance.licenses import ETH, Terms, register_terms, registered_id, terms_of
from mintloom.governance.publish import runs
from mintloom.ledger.anchoring import latest_on_chain
from mintloom.ledger.client import ChainClient, workspace_lock
from mintloom.ledger.deploy import FamilySpec, LeafRange, deploy_family
from mintloom.ledger.journal import CONFIRMED, PENDING
from mintloom.ledger.lineage import Names
from mintloom.ledger.node import rpc_call
from mintloom.ledger.reader import ChainReader
from mintloom.store.catalog import Catalog
from mintloom.store.db import Database

GOVERNOR = "CreativeGovernor"
STATES = ("pending", "active", "canceled", "defeated", "succeeded", "queued", "expired", "executed")
SUPPORT = {"against": 0, "for": 1, "abstain": 2}
WEI_PER_ETH = 10**18


def eth(wei: int) -> str:
    """Wei as a short ETH amount ("0.02")."""
    text = f"{Decimal(wei) / WEI_PER_ETH:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- fractionalising a campaign ---------------------------------------------------------------------


def family_ranges(chain: ChainClient, db: Database, campaign: str) -> tuple[LeafRange, ...]:
    """The campaign's anchored leaves as runs of consecutive indices in the latest checkpoint."""
    size = latest_on_chain(chain).size
    leaves = [(a.leaf_index, 0) for a in Catalog(db).assets(campaign) if a.leaf_index < size]
    if not leaves:
        raise DaoError(f"campaign {campaign!r} has no anchored assets", hint="run it, then `mintloom anchor`")
    return tuple(LeafRange(size, f, t) for f, t, _ in runs(leaves))


def create_family(
    chain: ChainClient, db: Database, campaign: str, name: str, *, supply: int, terms_id: int
) -> dict[str, str]:
    """Fractionalise ``campaign`` as family ``name`` with ``supply`` shares (whole units) and hand
    its rights to its DAO; the brand delegates its votes to itself. Returns name → address."""
    ranges = family_ranges(chain, db, campaign)
    if int(chain.call("RoyaltyVault", "splitOfLeaf", ranges[0].start)) != 0:
        raise CampaignAlreadyPublishedError(
            f"campaign {campaign!r} is already published: its royalty split pays the brand, not shares",
            hint="fractionalise a campaign after `mintloom anchor` and before `mintloom run --publish`",
        )
    symbol = "".join(c for c in name.upper() if c.isalnum())[:8] or "SHARES"
    spec = FamilySpec(name, symbol, supply * WEI_PER_ETH, terms_id, ranges)
    out = deploy_family(chain, spec)
    Names(db, chain.chain_id).set("family", campaign, ranges[0].checkpoint)
    if str(chain.call("RoyaltyShares", "delegates", chain.address)).lower() != chain.address.lower():
        chain.transact("RoyaltyShares", "delegate", chain.address, kind=f"family:delegate:{chain.address}")
    return out


# -- readable actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One call the timelock makes when a proposal executes, and the words describing it."""

    contract: str
    fn: str
    args: tuple[int | str, ...]
    value: int
    text: str
    registers: Terms | None = None
    """Terms ``args`` names by the id registering them will give: :func:`propose` registers them
    (a transaction) only once it knows the proposal is new."""


@dataclass(frozen=True)
class Plan:
    """What a proposal changes (None: leave as is); amounts in wei."""

    fee_wei: int | None = None
    fund_wei: int | None = None
    reward_wei: int | None = None
    creator_cap: int | None = None
    budget_wei: int | None = None
    attester: str | None = None
    """The UGC attester's account (the zero address: none, rewards trust the creator's tooling)."""


def family_name(chain: ChainReader) -> str:
    return str(chain.call("RoyaltyShares", "name"))


def fee_action(chain: ChainReader, fee_wei: int) -> Action:
    """New family leaves get the current terms with another minting fee. Read only: terms not
    registered yet are named by the id registering them gives (the next one), and :func:`propose`
    registers them (terms are immutable, registering is open to anyone and idempotent). The
    registered id and the terms count are read at one block, so the prediction is consistent."""
    current_id = int(chain.call("FamilyConfig", "newLeafTerms"))
    current = terms_of(chain, current_id)
    new = current.model_copy(update={"minting_fee": fee_wei})
    block = int(chain.w3.eth.block_number)
    new_id, registers = registered_id(chain, new, block), None
    if new_id == 0:
        new_id, registers = int(chain.call("LicenseTemplates", "termsCount", block=block)) + 1, new
    verb = "raise" if fee_wei > current.minting_fee else "lower" if fee_wei < current.minting_fee else "keep"
    text = f"{verb} licence fee of family {family_name(chain)} to {eth(fee_wei)} ETH (terms #{new_id})"
    return Action("FamilyConfig", "setNewLeafTerms", (new_id,), 0, text, registers)


def attester_action(account: str) -> Action:
    """Name the UGC attester: rewards then go only to children it attested for their creator."""
    if not Web3.is_address(account):
        raise DaoError(f"{account!r} is not an account address", hint="e.g. 0x followed by 40 hex digits")
    a = Web3.to_checksum_address(account)
    if int(a, 16) == 0:
        return Action("UGCRewards", "setAttester", (a,), 0, "name no UGC attester (rewards unattested)")
    return Action("UGCRewards", "setAttester", (a,), 0, f"name {a} the UGC attester")


def plan_actions(chain: ChainClient, plan: Plan) -> list[Action]:
    """The plan as actions, in a fixed order; an empty plan is refused."""
    out: list[Action] = []
    if plan.fee_wei is not None:
        out.append(fee_action(chain, plan.fee_wei))
    if plan.fund_wei is not None:
        out.append(
            Action("UGCRewards", "fund", (), plan.fund_wei, f"fund UGC pool with {eth(plan.fund_wei)} ETH")
        )
    if plan.reward_wei is not None:
        text = f"pay {eth(plan.reward_wei)} ETH per verified derivative"
        out.append(Action("UGCRewards", "setReward", (plan.reward_wei,), 0, text))
    if plan.creator_cap is not None:
        text = f"cap per creator at {plan.creator_cap} reward(s) per epoch"
        out.append(Action("UGCRewards", "setCreatorCap", (plan.creator_cap,), 0, text))
    if plan.budget_wei is not None:
        text = f"cap UGC reward budget at {eth(plan.budget_wei)} ETH"
        out.append(Action("UGCRewards", "setBudgetCap", (plan.budget_wei,), 0, text))
    if plan.attester is not None:
        out.append(attester_action(plan.attester))
    if not out:
        raise DaoError("a proposal needs at least one action", hint="e.g. --fee 0.02 or --fund 1")
    return out


# -- proposals ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """A proposal as the governor's ``ProposalCreated`` log recorded it, with its live state."""

    number: int
    proposal_id: int
    proposer: str
    targets: tuple[str, ...]
    values: tuple[int, ...]
    calldatas: tuple[bytes, ...]
    description: str
    state: str
    votes_for: int
    votes_against: int
    votes_abstain: int
    snapshot: int
    deadline: int

    @property
    def short_id(self) -> str:
        return f"{self.proposal_id:064x}"[:10]

    @property
    def description_hash(self) -> bytes:
        return Web3.keccak(text=self.description)


def propose(chain: ChainClient, actions: list[Action]) -> Proposal:
    """Submit the actions as one proposal described by their texts; returns it. A proposal the
    governor already holds is refused before anything is sent (terms registered included). Terms
    registered meanwhile under another id than the action predicted are proposed under that id.

    Proposals of this workspace's governor are made one at a time (:func:`workspace_lock`), and
    unregistered terms are predicted again once it is this one's turn: two identical ones at once
    made one proposal that both reported, and another proposal's terms took the id this one had
    predicted (it failed, its terms registered)."""
    name = f"dao-propose:{chain.chain_id}:{chain.address_of(GOVERNOR).lower()}"
    with workspace_lock(chain, name, "dao-propose.lock"):
        # terms predicted before the turn came: another proposal may have registered that id since
        return _propose(
            chain, [fee_action(chain, a.registers.minting_fee) if a.registers else a for a in actions]
        )


def _propose(chain: ChainClient, actions: list[Action]) -> Proposal:
    targets = [chain.address_of(a.contract) for a in actions]
    datas = [chain.contract(a.contract).encode_abi(a.fn, args=list(a.args)) for a in actions]
    description = "; ".join(a.text for a in actions)
    values = [a.value for a in actions]
    pid = int(chain.call(GOVERNOR, "hashProposal", targets, values, datas, Web3.keccak(text=description)))
    args, kind = (targets, values, datas, description), _kind("propose", pid)
    _refuse_repeat(chain, pid, kind)
    if any(
        a.registers is not None and registered_id(chain, a.registers) not in (0, a.args[0]) for a in actions
    ):
        # registered meanwhile under another id than predicted: name that id (another proposal)
        return _propose(
            chain, [fee_action(chain, a.registers.minting_fee) if a.registers else a for a in actions]
        )
    for a in actions:
        if a.registers is not None and register_terms(chain, a.registers) != a.args[0]:
            raise DaoError(
                f"terms #{a.args[0]} were taken by other terms registered meanwhile: nothing was proposed",
                hint="propose again (yours are registered now, under another id)",
            )
    # named and repeatable: a rerun after a kill reports the journaled proposal
    _dao_step(lambda: chain.transact(GOVERNOR, "propose", *args, kind=kind, once=False), "propose")
    return find(chain, f"0x{pid:064x}")


def _refuse_repeat(chain: ChainClient, pid: int, kind: str) -> None:
    """:class:`ProposalStateError` if the governor holds proposal ``pid`` already, unless this
    sender's run that proposed it was killed before reporting it (the rerun reports it then)."""
    if int(chain.call(GOVERNOR, "proposalSnapshot", pid)) == 0:
        return
    me = chain.address.lower()
    for e in chain.journal.entries(chain.chain_id, kind):
        if e.sender.lower() == me and e.delivered is False and e.status in (PENDING, CONFIRMED):
            return
    p = find(chain, f"0x{pid:064x}")
    raise ProposalStateError(
        f"cannot propose: proposal #{p.number} already proposes exactly this (it is {p.state})",
        hint="`mintloom dao status` lists it; a new proposal needs other actions",
    )


def proposals(chain: ChainReader) -> list[Proposal]:
    """Every proposal of the family's governor, oldest first, with its state and votes."""
    logs = chain.event_logs(GOVERNOR, "ProposalCreated", {})
    return [_proposal(chain, i + 1, log["args"]) for i, log in enumerate(logs)]


def _proposal(chain: ChainReader, number: int, a: Any) -> Proposal:
    pid = int(a["proposalId"])
    against, votes_for, abstain = chain.call(GOVERNOR, "proposalVotes", pid)
    return Proposal(
        number,
        pid,
        str(a["proposer"]),
        tuple(str(t) for t in a["targets"]),
        tuple(int(v) for v in a["values"]),
        tuple(bytes(c) for c in a["calldatas"]),
        str(a["description"]),
        STATES[int(chain.call(GOVERNOR, "state", pid))],
        int(votes_for),
        int(against),
        int(abstain),
        int(a["voteStart"]),
        int(a["voteEnd"]),
    )


def find(chain: ChainReader, ref: str) -> Proposal:
    """A proposal by number ("1", "#1") or by a hex prefix of its id ("0x1a2b…")."""
    every = proposals(chain)
    key = ref.lstrip("#").lower()
    if key.isdigit() and not key.startswith("0x"):
        hits = [p for p in every if p.number == int(key)]
    else:
        prefix = key.removeprefix("0x")
        hits = [p for p in every if f"{p.proposal_id:064x}".startswith(prefix)] if prefix else []
    if len(hits) != 1:
        found = "no" if not hits else f"{len(hits)}"
        raise ProposalNotFoundError(
            f"{found} proposal matches {ref!r}", hint="`mintloom dao status` lists them"
        )
    return hits[0]


def vote(chain: ChainClient, ref: str, support: str, reason: str = "") -> Proposal:
    """Cast the sender's votes (its delegated shares at the proposal's snapshot)."""
    if support not in SUPPORT:
        raise DaoError(f"unknown vote {support!r}", hint="vote for, against or abstain")
    p = find(chain, ref)
    voted = chain.call(GOVERNOR, "hasVoted", p.proposal_id, chain.address)
    if voted and _sent_before(chain, f"vote-{support}", p):
        return p  # this very vote, sent by a run killed before it reported it
    _in_state(p, "active", "vote on")
    if voted:
        raise AlreadyVotedError(f"{chain.address} already voted on proposal #{p.number}")
    if int(chain.call(GOVERNOR, "getVotes", chain.address, p.snapshot)) == 0:
        raise NoVotingPowerError(
            f"{chain.address} had no delegated shares at #{p.number}'s snapshot (block {p.snapshot})",
            hint="hold shares and `mintloom dao delegate` before a proposal is made",
        )
    cast = (p.proposal_id, SUPPORT[support], reason)
    kind = _kind(f"vote-{support}", p.proposal_id)
    _dao_step(lambda: chain.transact(GOVERNOR, "castVoteWithReason", *cast, kind=kind, once=False), "vote")
    return find(chain, f"0x{p.proposal_id:064x}")


def queue(chain: ChainClient, ref: str) -> Proposal:
    """Queue a succeeded proposal in the timelock."""
    p = find(chain, ref)
    if p.state == "queued" and _sent_before(chain, "queue", p):
        return p
    _in_state(p, "succeeded", "queue")
    args = (list(p.targets), list(p.values), list(p.calldatas), p.description_hash)
    _dao_step(
        lambda: chain.transact(GOVERNOR, "queue", *args, kind=_kind("queue", p.proposal_id), once=False),
        "queue",
    )
    return find(chain, f"0x{p.proposal_id:064x}")


def execute(chain: ChainClient, ref: str, *, pay: bool = False) -> Proposal:
    """Execute a queued proposal whose delay passed. What it spends comes from the treasury (the
    timelock's balance); with ``pay`` the sender pays the shortfall along with the execution."""
    p = find(chain, ref)
    if p.state == "executed" and _sent_before(chain, "execute", p):
        return p
    _in_state(p, "queued", "execute")
    _delay_passed(chain, p)
    shortfall = max(0, sum(p.values) - treasury(chain))
    if shortfall and not pay:
        raise TreasuryTooSmallError(
            f"#{p.number} spends {eth(sum(p.values))} ETH, the treasury holds {eth(treasury(chain))} ETH",
            hint="pass --pay to add the missing ETH with the execution",
        )
    args = (list(p.targets), list(p.values), list(p.calldatas), p.description_hash)
    kind = _kind("execute", p.proposal_id)
    _dao_step(
        lambda: chain.transact(GOVERNOR, "execute", *args, value=shortfall, kind=kind, once=False), "execute"
    )
    return find(chain, f"0x{p.proposal_id:064x}")


def _delay_passed(chain: ChainReader, p: Proposal) -> None:
    """A queued proposal whose timelock delay still runs is refused by name before anything is
    sent (the timelock would revert with a bare ``TimelockUnexpectedOperationState``)."""
    eta = int(chain.call(GOVERNOR, "proposalEta", p.proposal_id))
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    if now < eta:
        raise ProposalStateError(
            f"cannot execute proposal #{p.number} yet: its timelock delay ends at Unix time {eta} "
            f"({eta - now}s from the last block)",
            hint="wait for the delay; on the embedded chain `mintloom dao advance --seconds N`",
        )


def treasury(chain: ChainReader) -> int:
    """The DAO treasury: the timelock's ETH balance."""
    return int(chain.w3.eth.get_balance(Web3.to_checksum_address(chain.address_of("TimelockController"))))


def _kind(step: str, proposal_id: int) -> str:
    """The journal kind of one DAO step on one proposal (``dao-queue:<id>``)."""
    return f"dao-{step}:{proposal_id:064x}"


def _sent_before(chain: ChainClient, step: str, p: Proposal) -> bool:
    """Whether a run killed after sending ``step`` on ``p`` left it confirmed but never reported (the
    client settled it on start): the rerun reports it, once, instead of refusing it by state."""
    me = chain.address.lower()
    for e in chain.journal.entries(chain.chain_id, _kind(step, p.proposal_id)):
        if e.sender.lower() == me and e.status == CONFIRMED and e.delivered is False:
            chain.journal.mark_delivered(e.tx_hash)
            return True
    return False


def _in_state(p: Proposal, wanted: str, doing: str) -> Proposal:
    if p.state != wanted:
        raise ProposalStateError(
            f"cannot {doing} proposal #{p.number}: it is {p.state}, not {wanted}",
            hint="`mintloom dao status` shows each proposal's state and deadline",
        )
    return p


def _dao_step(send: Any, doing: str) -> None:
    """Run ``send``; a governor revert becomes the DAO error it means."""
    try:
        send()
    except ContractError as exc:
        if exc.error_name == "GovernorAlreadyCastVote":
            raise AlreadyVotedError(f"cannot {doing}: this account already voted") from exc
        if exc.error_name and exc.error_name.startswith("Governor"):
            raise ProposalStateError(
                f"cannot {doing}: {exc.message}", hint="see `mintloom dao status`"
            ) from exc
        raise


# -- moving the embedded chain's clock ----------------------------------------------------------


def require_embedded(settings: Settings) -> None:
    """:class:`NotEmbeddedChainError` unless the workspace uses its embedded anvil node."""
    if settings.chain.rpc_url is not None:
        raise NotEmbeddedChainError(
            "moving time and blocks is only for the workspace's embedded anvil node, not a configured RPC",
            hint="on a real chain wait for the voting period and the timelock delay instead",
        )


def advance(chain: ChainReader, settings: Settings, *, seconds: int = 0, blocks: int = 0) -> int:
    """Move the embedded anvil node's clock by ``seconds`` and mine ``blocks`` blocks; returns the
    new head. Refused on any configured RPC: a real chain's time is not ours to move."""
    require_embedded(settings)
    if seconds:
        rpc_call(chain.rpc_url, "evm_increaseTime", [seconds])
    for _ in range(blocks):
        rpc_call(chain.rpc_url, "evm_mine")
    return int(chain.w3.eth.block_number)


def blocks_to_next_step(chain: ChainReader, p: Proposal) -> tuple[int, int]:
    """(seconds, blocks) that take proposal ``p`` to where its next step can run: voting opens
    after the snapshot, closes after the deadline, a queued one waits out the timelock delay."""
    head = int(chain.w3.eth.block_number)
    if p.state == "pending":
        return 0, max(0, p.snapshot - head + 1)
    if p.state == "active":
        return 0, max(0, p.deadline - head + 1)
    if p.state == "queued":
        return int(chain.call("TimelockController", "getMinDelay")) + 1, 1
    return 0, 0


# -- shares: transfer, delegate, revenue -----------------------------------------------------------


@dataclass(frozen=True)
class Holding:
    """An account's shares, votes and ETH revenue (claimable now, claimed so far)."""

    account: str
    shares: int
    votes: int
    claimable: int
    claimed: int


def holding(chain: ChainReader, account: str) -> Holding:
    a = Web3.to_checksum_address(account)
    return Holding(
        a,
        int(chain.call("RoyaltyShares", "balanceOf", a)),
        int(chain.call("RoyaltyShares", "getVotes", a)),
        int(chain.call("RoyaltyShares", "claimable", a, ETH)),
        int(chain.call("RoyaltyShares", "claimed", a, ETH)),
    )


def transfer_shares(chain: ChainClient, to: str, amount: int) -> None:
    """Send ``amount`` shares (base units); accrued revenue stays with the sender."""
    chain.transact("RoyaltyShares", "transfer", Web3.to_checksum_address(to), amount)


def delegate(chain: ChainClient, to: str | None = None) -> None:
    """Give the sender's votes to ``to`` (default itself): shares vote only once delegated."""
    chain.transact("RoyaltyShares", "delegate", Web3.to_checksum_address(to or chain.address))


def claim_revenue(chain: ChainClient) -> int:
    """Pull the family's vault revenue into the shares, then withdraw the sender's part."""
    if int(chain.call("RoyaltyVault", "claimable", chain.address_of("RoyaltyShares"), ETH)):
        chain.transact("RoyaltyShares", "collect", ETH, kind="shares:collect", once=False)
    owed = int(chain.call("RoyaltyShares", "claimable", chain.address, ETH))
    if owed == 0:
        raise DaoError(f"no share revenue to claim for {chain.address}")
    chain.transact("RoyaltyShares", "claim", ETH, kind=f"shares:claim:{chain.address}", once=False)
    return owed
