"""`mintloom dao …`: fractionalise a campaign and run its Creative DAO (logic in governance/dao.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mintloom.cli.console import console, studio
from mintloom.cli.share_args import MAX_UINT256, base_units, share_units
from mintloom.errors import DaoError
from mintloom.store.files import MAX_SMALL_TEXT_BYTES, MAX_VERIFY_BYTES, read_regular, write_atomic

app = typer.Typer(help="A campaign family's shares and Creative DAO.", no_args_is_help=True)
shares_app = typer.Typer(help="The family's share token: holdings, transfers, revenue.", no_args_is_help=True)
app.add_typer(shares_app, name="shares")
ugc_app = typer.Typer(help="UGC rewards for verified derivatives of a family's assets.", no_args_is_help=True)
_Family = Annotated[
    str | None,
    typer.Option(help="UGCRewards address of another organisation's family (default: this workspace's)."),
]

Advance = Annotated[
    bool, typer.Option(help="Embedded chain only: then move time/blocks to where the next step can run.")
]


def _wei(text: str | None) -> int | None:
    """An ETH amount ("0.02") as wei, exactly; zero is taken."""
    if text is None:
        return None
    return base_units(text, whole="ETH", unit="wei", hint="e.g. 0.02", error=DaoError, allow_zero=True)


MAX_SUPPLY = (2**208 - 1) // 10**18
"""Whole shares ERC20Votes can mint (its supply is capped at 2**208-1 base units, 18 decimals)."""
_Supply = Annotated[
    int, typer.Option(min=1, max=MAX_SUPPLY, help="Shares minted to the brand (whole shares).")
]
_Terms = Annotated[str, typer.Option(help="Terms the family's new leaves get (flavour or id).")]


@app.command("create")
def create(
    family: Annotated[str, typer.Argument(help="The family's name (its share token's name).")],
    campaign: Annotated[str, typer.Option(help="The anchored, not yet published campaign it holds.")],
    supply: _Supply = 1_000_000,
    terms: _Terms = "commercial-remix",
) -> None:
    """Fractionalise CAMPAIGN as FAMILY: shares to the brand, rights to the family's DAO."""
    from mintloom.governance.dao import create_family
    from mintloom.governance.licenses import resolve_terms

    s = studio()
    s.contracts()
    out = create_family(s.chain, s.db, campaign, family, supply=supply, terms_id=resolve_terms(terms))
    console.print(
        f"[green]family {family}[/] holds campaign {campaign}: {supply} shares to {s.chain.address}"
    )
    for name in ("RoyaltyShares", "CreativeGovernor", "TimelockController", "FamilyConfig", "UGCRewards"):
        console.print(f"  {name:<18} {out[name]}")


@app.command("fractionalise")
def fractionalise(
    campaign: Annotated[str, typer.Argument(help="The anchored, not yet published campaign.")],
    supply: _Supply = 1_000_000,
    terms: _Terms = "commercial-remix",
) -> None:
    """`dao create` with the family named after the campaign."""
    create(f"{campaign} shares", campaign, supply, terms)


@app.command("propose")
def propose(
    *,
    fee: Annotated[str | None, typer.Option(help="New licence fee of the family's leaves, ETH.")] = None,
    fund: Annotated[str | None, typer.Option(help="Fund the UGC pool from the treasury, ETH.")] = None,
    reward: Annotated[str | None, typer.Option(help="UGC reward per verified derivative, ETH.")] = None,
    cap: Annotated[
        int | None, typer.Option(min=0, max=MAX_UINT256, help="Rewards per creator per epoch.")
    ] = None,
    budget: Annotated[str | None, typer.Option(help="Total UGC reward budget, ETH.")] = None,
    attester: Annotated[
        str | None, typer.Option(help="Account of the UGC attester (`mintloom ugc attest`); 0x0…0: none.")
    ] = None,
    advance: Advance = False,
) -> None:
    """Propose changes; the description is their readable text."""
    from mintloom.governance import dao

    s = studio()
    _may_advance(advance)
    plan = dao.Plan(_wei(fee), _wei(fund), _wei(reward), cap, _wei(budget), attester)
    p = dao.propose(s.chain, dao.plan_actions(s.chain, plan))
    console.print(f"[green]proposal #{p.number}[/] 0x{p.short_id}:")
    for text in p.description.split("; "):
        console.print(f"  - {text}")
    _advance(advance, p.number)


@app.command("vote")
def vote(
    proposal: Annotated[str, typer.Argument(help="Proposal number or id prefix (see `dao status`).")],
    support: Annotated[str, typer.Argument(help="for, against or abstain.")],
    reason: Annotated[str, typer.Option(help="Reason recorded with the vote.")] = "",
    advance: Advance = False,
) -> None:
    """Vote with the sender's delegated shares."""
    from mintloom.governance import dao

    _may_advance(advance)
    p = dao.vote(studio().chain, proposal, support, reason)
    console.print(
        f"voted {support} on #{p.number}: for {dao.eth(p.votes_for)}, against {dao.eth(p.votes_against)}"
    )
    _advance(advance, p.number)


@app.command("queue")
def queue(
    proposal: Annotated[str, typer.Argument(help="Proposal number or id prefix.")],
    advance: Advance = False,
) -> None:
    """Queue a succeeded proposal in the timelock."""
    from mintloom.governance import dao

    _may_advance(advance)
    p = dao.queue(studio().chain, proposal)
    console.print(f"[green]queued[/] #{p.number}: {p.description}")
    _advance(advance, p.number)


@app.command("execute")
def execute(
    proposal: Annotated[str, typer.Argument(help="Proposal number or id prefix.")],
    pay: Annotated[bool, typer.Option(help="Pay what the treasury lacks along with the execution.")] = False,
) -> None:
    """Execute a queued proposal once its timelock delay passed."""
    from mintloom.governance import dao

    p = dao.execute(studio().chain, proposal, pay=pay)
    console.print(f"[green]executed[/] #{p.number}: {p.description}")


@app.command("status")
def status() -> None:
    """The family's proposals: state, votes, deadline and description (reads only)."""
    from mintloom.governance import dao

    reader = studio(read_only=True).chain_reader(start_node=True)
    every = dao.proposals(reader)
    head = int(reader.w3.eth.block_number)
    table = Table(
        title=f"{dao.family_name(reader)}: treasury {dao.eth(dao.treasury(reader))} ETH, block {head}"
    )
    for col in ("#", "id", "state", "for", "against", "abstain", "voting ends"):
        table.add_column(col, no_wrap=True)
    for p in every:
        votes = (dao.eth(p.votes_for), dao.eth(p.votes_against), dao.eth(p.votes_abstain))
        table.add_row(str(p.number), "0x" + p.short_id, p.state, *votes, f"block {p.deadline}")
    console.print(table)
    for p in every:
        console.print(f"#{p.number}: {p.description}")


@app.command("delegate")
def delegate(to: Annotated[str | None, typer.Argument(help="Delegate (default: yourself).")] = None) -> None:
    """Give the sender's share votes to an account (shares vote only once delegated)."""
    from mintloom.governance import dao

    chain = studio().chain
    dao.delegate(chain, to)
    console.print(f"votes of {chain.address} delegated to {to or 'itself'}")


@app.command("advance")
def advance_cmd(
    seconds: Annotated[int, typer.Option(min=0, help="Seconds to move the clock.")] = 0,
    blocks: Annotated[int, typer.Option(min=0, help="Blocks to mine.")] = 1,
) -> None:
    """Embedded chain only: move time and mine blocks (refused on any configured RPC)."""
    from mintloom.governance import dao

    s = studio()
    head = dao.advance(s.chain, s.settings, seconds=seconds, blocks=blocks)
    console.print(f"advanced {seconds}s and {blocks} block(s): head {head}")


def _may_advance(wanted: bool) -> None:
    """Refuse ``--advance`` before the step sends anything, on a chain that does not allow it."""
    if wanted:
        from mintloom.governance.dao import require_embedded

        require_embedded(studio().settings)


def _advance(wanted: bool, number: int) -> None:
    if not wanted:
        return
    from mintloom.governance import dao

    s = studio()
    p = dao.find(s.chain, str(number))
    seconds, blocks = dao.blocks_to_next_step(s.chain, p)
    head = dao.advance(s.chain, s.settings, seconds=seconds, blocks=blocks)
    state = dao.find(s.chain, str(number)).state
    console.print(f"advanced {seconds}s and {blocks} block(s): head {head}, #{number} is {state}")


@shares_app.command("show")
def shares_show(
    account: Annotated[str | None, typer.Argument(help="Account (default: sender).")] = None,
) -> None:
    """An account's shares, votes and ETH revenue."""
    from mintloom.governance import dao
    from mintloom.ledger.connect import sender_address

    s = studio(read_only=True)
    h = dao.holding(s.chain_reader(start_node=True), account or sender_address(s.workspace, s.settings))
    console.print(
        f"{h.account}: {dao.eth(h.shares)} shares, {dao.eth(h.votes)} votes, "
        f"{dao.eth(h.claimable)} ETH claimable, {dao.eth(h.claimed)} ETH claimed"
    )


@shares_app.command("transfer")
def shares_transfer(
    to: Annotated[str, typer.Argument(help="Receiving account.")],
    amount: Annotated[str, typer.Argument(help="Shares (decimals allowed, e.g. 300000 or 0.5).")],
) -> None:
    """Send shares; revenue accrued so far stays with the sender."""
    from mintloom.governance import dao

    dao.transfer_shares(studio().chain, to, share_units(amount, DaoError))
    console.print(f"sent {amount} shares to {to}")


@shares_app.command("claim")
def shares_claim() -> None:
    """Collect the family's royalty revenue and withdraw the sender's pro-rata part."""
    from mintloom.governance import dao

    chain = studio().chain
    console.print(f"[green]claimed[/] {dao.eth(dao.claim_revenue(chain))} ETH to {chain.address}")


def remix(
    parent: Annotated[Path, typer.Argument(help="A signed campaign asset (PNG, JPEG or WebP).")],
    template: Annotated[str, typer.Option(help="frame, split or poster.")],
    out: Annotated[Path, typer.Option(help="Where to write the signed child (PNG).")],
    trust_parent: Annotated[
        Path | None,
        typer.Option(help="The parent organisation's root (PEM): its credential is recorded as valid."),
    ] = None,
) -> None:
    """Remix PARENT in this workspace: the child names it as parentOf, is signed with this
    workspace's keys, logged in its log and anchored on its chain."""
    from mintloom.governance.remix import remix as make_remix
    from mintloom.ledger.connect import sender_address

    data = read_regular(parent, limit=MAX_VERIFY_BYTES, what="parent file", error=DaoError)
    pem = None  # inputs are read before the keys are unlocked
    if trust_parent is not None:
        root = read_regular(trust_parent, limit=MAX_SMALL_TEXT_BYTES, what="parent's root", error=DaoError)
        pem = root.decode("utf-8", errors="replace")
    s = studio(password=True)
    signer = s.asset_signer if pem is None else s.remix_signer(pem)
    creator = sender_address(s.workspace, s.settings)  # the account UGC rewards pay for this remix
    r = make_remix(
        data,
        template,
        signer=signer,
        log=s.log,
        title=out.name,
        parent_title=parent.name,
        creator=creator,
    )
    try:
        write_atomic(out, r.data)  # the leaf is logged: the file is whole or absent, never torn
    except OSError as exc:
        raise DaoError(
            f"cannot write {out}: {exc.strerror}", hint="choose another --out (the child is already logged)"
        ) from exc
    s.contracts()
    anchored = s.anchor()
    console.print(f"[green]remix[/] {out} {r.cid}: parentOf {r.parent_cid}")
    console.print(f"  leaf {r.leaf_index} of this workspace's log, anchored at size {anchored.size}")
    console.print(f"  pHash distance {r.distance.phash}, dHash {r.distance.dhash} from the parent")


def _child_and_parent(child: Path, parent: Path) -> tuple[bytes, bytes]:
    """The bytes of a remix and of the family asset it remixes (read before any key is unlocked)."""
    return (
        read_regular(child, limit=MAX_VERIFY_BYTES, what="child file", error=DaoError),
        read_regular(parent, limit=MAX_VERIFY_BYTES, what="parent file", error=DaoError),
    )


@ugc_app.command("register")
def ugc_register(
    child: Annotated[Path, typer.Argument(help="The derivative, registered on chain to you.")],
    parent: Annotated[Path, typer.Option(help="The family asset it remixes (for the near-copy check).")],
    licence: Annotated[str, typer.Option(help="Terms of the parent licence you hold (flavour or id).")],
    family: _Family = None,
) -> None:
    """Earn the family's reward for CHILD (one per child, licence held, not a copy of the parent).
    With --family (another organisation's family) CHILD is proven from this workspace's own log."""
    from mintloom.governance.licenses import resolve_terms
    from mintloom.governance.ugc import register_child, register_logged_child

    child_data, parent_data = _child_and_parent(child, parent)
    s, terms = studio(), resolve_terms(licence)
    if family is None:
        r = register_child(s.chain, child_data, parent_data, terms)
    else:
        r = register_logged_child(s.chain, family, s.log, child_data, parent_data, terms_id=terms)
    claim = "`mintloom ugc claim" + ("`" if family is None else f" --family {family}`")
    console.print(f"[green]rewarded[/] {r.child}: {_eth_text(r.amount)} ETH granted (claim with {claim})")
    console.print(f"  gas used {r.gas_used}")


@ugc_app.command("attest")
def ugc_attest(
    child: Annotated[Path, typer.Argument(help="The remix to vouch for (PNG, JPEG or WebP).")],
    parent: Annotated[Path, typer.Option(help="The family asset it says it remixes.")],
    trust: Annotated[Path, typer.Option(help="The creator organisation's trust anchor (PEM root).")],
    family: _Family = None,
) -> None:
    """As the family's attester: check CHILD's credential (signer under --trust, PARENT as its
    parentOf, its creator's account) and its distance from PARENT, then attest it for that creator."""
    from mintloom.governance.attester import attest_child

    child_data, parent_data = _child_and_parent(child, parent)
    anchor = read_regular(trust, limit=MAX_SMALL_TEXT_BYTES, what="trust anchor", error=DaoError)
    s = studio()
    pool = family or s.chain.address_of("UGCRewards")
    # the creator's root, and this workspace's own: the parent, the family's asset, chains to it
    anchors = anchor.decode("utf-8", errors="replace") + (
        s.keys.trust_anchor_pem() if s.keys.exists() else ""
    )
    a = attest_child(s.chain, pool, child_data, parent_data, anchors)
    f = a.facts
    done = "attested" if a.tx_hash else "already attested"
    console.print(f"[green]{done}[/] {f.child} for creator {f.creator}: remix of {f.parent}")
    console.print(f"  signed by {f.signer}; pHash distance {f.distance.phash}, dHash {f.distance.dhash}")


@ugc_app.command("claim")
def ugc_claim(family: _Family = None) -> None:
    """Withdraw your granted UGC rewards."""
    from mintloom.governance.ugc import claim_rewards

    chain = studio().chain
    console.print(f"[green]claimed[/] {_eth_text(claim_rewards(chain, family))} ETH to {chain.address}")


def _eth_text(wei: int) -> str:
    from mintloom.governance.dao import eth

    return eth(wei)
