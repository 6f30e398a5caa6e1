"""The demo's Creative DAO step (issue 16) on its own small campaign ``lumen-dao``: the brand
fractionalises it before publishing, sells 30% of the shares to an investor through a marketplace
share lot, a licence sale pays the holders pro rata, the DAO votes to raise the licence fee, to
fund the UGC pool and to name the brand's account its attester (the embedded chain moves time and
blocks), a fan with their own workspace, keys and log remixes an ad, the attester attests the
remix for the fan, the fan is rewarded from that log, and everyone claims. Every ETH balance
change is tabled and must reconcile to the wei; a mismatch stops the demo
(:class:`DemoReconciliationError`). The fan's remix trusts the brand's root for its parent, and
`verify` of the child in the fan's workspace, trusting both roots, must say VERIFIED, with its
parent chain fan → brand and its reward (else :class:`DemoChildUnverifiedError`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eth_utils.address import to_checksum_address
from rich.table import Table

from mintloom.cli.console import console
from mintloom.errors import MintloomError

if TYPE_CHECKING:
    from mintloom.ledger.client import ChainClient
    from mintloom.studio import Studio

CAMPAIGN, FAMILY, SUPPLY = "lumen-dao", "Lumen DAO", 1000
SHARE_PRICE = 10**15  # 0.001 ETH a whole share: the investor's 300 shares cost 0.3 ETH
INVESTOR, LICENSEE, FAN = 7, 8, 9
TERMS = "commercial-remix"
REWARD = 10**17  # wei the DAO's plan pays a UGC child (0.1 ETH)


class DemoReconciliationError(MintloomError):
    """The demo's balances do not add up: a payment went somewhere the ledger does not show."""


class DemoChildUnverifiedError(MintloomError):
    """The fan's rewarded remix does not verify (trusted, parent named, reward shown)."""


@dataclass(frozen=True)
class DaoOutcome:
    """What the step paid and reconciled (wei)."""

    licence_fee: int
    brand_revenue: int
    investor_revenue: int
    reward: int
    pool_left: int
    total_change: int
    shares_bought: int  # share units the investor holds after the marketplace sale
    lot_price: int  # what the investor paid for them


def dao_step(
    say: Callable[[str], None], studio: Studio, password: str, party: Callable[[int], ChainClient]
) -> DaoOutcome | None:
    """Run the DAO step once per workspace (a rerun finds the family and says so)."""
    chain = studio.chain
    if "RoyaltyShares" in chain.addresses():
        say(f"the Creative DAO {FAMILY} exists already (resumed run)")
        return None
    t0 = time.perf_counter()
    fan = _fan_studio(studio, password)
    try:
        parties = _parties(studio, fan.chain, party)
        before, sent = _balances(chain, _accounts(chain, parties)), _sent(studio, fan)
        hero, parent = _fractionalise(say, studio)
        shares_bought, lot_price = _sell_shares(say, studio, party)
        fee, brand_rev, investor_rev = _share_revenue(say, studio, hero, party)
        _vote(say, studio, party)
        reward = _fan_remix(say, studio, fan, (hero, parent), party)
        total = _ledger(chain, parties, before, _sent(studio, fan) - sent)
    finally:
        fan.close()
    pool_left = int(chain.call("UGCRewards", "available"))
    outcome = DaoOutcome(fee, brand_rev, investor_rev, reward, pool_left, total, shares_bought, lot_price)
    _reconcile(outcome)
    console.print(f"    the DAO step took {time.perf_counter() - t0:.0f} s")
    return outcome


def _fan_studio(studio: Studio, password: str) -> Studio:
    """The fan's own workspace (organisation Fan Club, own keys and log) on the brand's chain."""
    from mintloom.ledger.node import dev_key
    from mintloom.studio import Studio
    from mintloom.workspace import Workspace

    ws = Workspace.init(studio.workspace.root / "fan")
    text = ws.config_file.read_text(encoding="utf-8")
    if "\nrpc_url = " not in text:  # the brand's chain, the fan's own account and organisation
        chain = f'[chain]\nrpc_url = "{studio.chain.rpc_url}"\nprivate_key = "{dev_key(FAN)}"\n'
        text = text.replace("[chain]\n", chain, 1)
        text = text.replace('organisation = "mintloom workspace"', 'organisation = "Fan Club"', 1)
        ws.config_file.write_text(text, encoding="utf-8")
    fan = Studio(ws, password=password)
    fan.ensure_keys()
    return fan


def _fractionalise(say: Callable[[str], None], studio: Studio) -> tuple[str, bytes]:
    """Run the small campaign, fractionalise it BEFORE publishing, publish, register its hero."""
    from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
    from mintloom.campaign.spec import load_spec
    from mintloom.governance.dao import create_family
    from mintloom.governance.licenses import resolve_terms
    from mintloom.ledger.assets import register_asset
    from mintloom.pipeline import Pipeline
    from mintloom.store.catalog import Catalog

    text = sample_spec(campaign=CAMPAIGN, locales=("en-US",), formats=("square",), copy=False, audio=False)
    spec = write_sample_campaign(studio.workspace.root / CAMPAIGN, text, sample_audience(1))
    pipeline = Pipeline(studio)
    logged = pipeline.generate(pipeline.plan(pipeline.gate(load_spec(spec))), workers=1)
    anchored = pipeline.anchor(pipeline.checkpoint(logged, receipts=False))
    out = create_family(
        studio.chain, studio.db, CAMPAIGN, FAMILY, supply=SUPPLY, terms_id=resolve_terms(TERMS)
    )
    say(f"the brand fractionalises campaign {CAMPAIGN} as {FAMILY}: {SUPPLY} shares ({out['RoyaltyShares']})")
    pipeline.publish(anchored)
    console.print("    published after fractionalising: the campaign's royalty split pays the share token")
    hero = Catalog(studio.db).assets(CAMPAIGN, kind="image")[0].cid
    register_asset(studio.chain, studio.log, Catalog(studio.db), hero, blobs=studio.blobs)
    return hero, studio.blobs.get(hero)


def _sell_shares(
    say: Callable[[str], None], studio: Studio, party: Callable[[int], ChainClient]
) -> tuple[int, int]:
    """The brand lists 30% of the shares as a marketplace share lot; the investor buys the lot
    and delegates its votes. Returns (share units the investor holds, price paid)."""
    from mintloom.governance import dao
    from mintloom.market.service import buy, list_shares

    investor = party(INVESTOR)
    lot = list_shares(studio.chain, studio.db, SUPPLY * 3 // 10 * 10**18, SHARE_PRICE)
    sale = buy(investor, lot, quantity=lot.order.amount, agreed_price=SHARE_PRICE)
    dao.delegate(investor)
    say(
        f"the brand lists 30% of the shares on the marketplace at {dao.eth(SHARE_PRICE)} ETH a share; "
        f"an investor {investor.address} buys the lot for {dao.eth(sale.price)} ETH"
    )
    console.print(f"    share-lot fill: gas {sale.tx.gas_used}, no asset royalty (shares carry revenue)")
    return int(studio.chain.call("RoyaltyShares", "balanceOf", investor.address)), sale.price


def _share_revenue(
    say: Callable[[str], None], studio: Studio, hero: str, party: Callable[[int], ChainClient]
) -> tuple[int, int, int]:
    """A licence sale; both holders (brand 70%, investor 30%) claim pro rata."""
    from mintloom.governance import dao
    from mintloom.market.licensing import buy_license

    investor = party(INVESTOR)
    sale = buy_license(party(LICENSEE), hero, TERMS)
    say(f"a licensee buys a {TERMS} licence of the hero for {dao.eth(sale.fee)} ETH")
    brand_rev, investor_rev = dao.claim_revenue(studio.chain), dao.claim_revenue(investor)
    console.print(
        f"    brand claims {dao.eth(brand_rev)} ETH (70%), investor {dao.eth(investor_rev)} ETH (30%)"
    )
    return sale.fee, brand_rev, investor_rev


def _vote(say: Callable[[str], None], studio: Studio, party: Callable[[int], ChainClient]) -> None:
    """Propose, vote (brand and investor), queue and execute, the embedded chain moving on."""
    from mintloom.governance import dao

    chain, settings = studio.chain, studio.settings
    # the brand's account is the UGC attester (`mintloom ugc attest`): rewards go only to attested creators
    plan = dao.Plan(2 * 10**16, 10**18, REWARD, 1, 5 * 10**17, attester=chain.address)
    p = dao.propose(chain, dao.plan_actions(chain, plan))
    say(f"the DAO votes on proposal #{p.number}: {p.description}")
    for step in ("vote", "queue", "execute"):
        seconds, blocks = dao.blocks_to_next_step(chain, dao.find(chain, str(p.number)))
        dao.advance(chain, settings, seconds=seconds, blocks=blocks)
        if step == "vote":
            dao.vote(chain, str(p.number), "for")
            dao.vote(party(INVESTOR), str(p.number), "for")
        elif step == "queue":
            dao.queue(chain, str(p.number))
        else:
            dao.execute(chain, str(p.number), pay=True)
    console.print(f"    executed: {dao.find(chain, str(p.number)).state}; the UGC pool holds 1 ETH")


def _fan_remix(
    say: Callable[[str], None],
    studio: Studio,
    fan: Studio,
    source: tuple[str, bytes],
    party: Callable[[int], ChainClient],
) -> int:
    """The fan remixes the hero in their workspace, licenses it, registers from their log, claims."""
    from mintloom.governance import dao
    from mintloom.governance.licenses import resolve_terms
    from mintloom.governance.remix import remix
    from mintloom.governance.ugc import claim_rewards, register_logged_child
    from mintloom.market.licensing import buy_license

    hero, parent = source
    creator = fan.chain.address  # named in the child's credential: the account the attester attests for
    # the fan trusts the brand's root for the parent (`mintloom remix --trust-parent`)
    signer = fan.remix_signer(studio.keys.trust_anchor_pem())
    child = remix(parent, "frame", signer=signer, log=fan.log, title="fan-remix.png", creator=creator)
    fan.contracts()
    fan.anchor()
    out = fan.workspace.root / "fan-remix.png"
    out.write_bytes(child.data)
    say(f"a fan (own workspace {fan.workspace.root}, own keys and log) remixes the hero: {out.name}")
    buy_license(party(FAN), hero, TERMS)  # the fan's account at the brand's licence market
    pool = studio.chain.address_of("UGCRewards")
    _attest(say, studio, fan, child.data, parent)
    r = register_logged_child(fan.chain, pool, fan.log, child.data, parent, terms_id=resolve_terms(TERMS))
    claimed = claim_rewards(fan.chain, pool)
    console.print(
        f"    registered from the fan's own log (gas {r.gas_used}), rewarded {dao.eth(r.amount)} ETH, "
        f"claimed {dao.eth(claimed)} ETH"
    )
    _verify_child(say, studio, fan, out)
    return claimed


def _verify_child(say: Callable[[str], None], studio: Studio, fan: Studio, path: Path) -> None:
    """`verify` of the fan's child in the fan's workspace, trusting the fan's root (its signer)
    and the brand's (its parent's), built as the printed `mintloom verify --trust` builds it:
    VERIFIED, parent chain fan → brand, and the reward the family's own pool paid the fan."""
    from mintloom.chain_lookup import verify_context
    from mintloom.cli.verify import read_trust, trust_in
    from mintloom.governance.dao import eth
    from mintloom.verify.report import Verdict
    from mintloom.verify.verifier import verify_bytes

    roots = fan.workspace.root / "fan-and-brand-roots.pem"
    try:
        roots.write_text(fan.keys.trust_anchor_pem() + studio.keys.trust_anchor_pem(), encoding="utf-8")
        data = path.read_bytes()
    except OSError as exc:
        raise DemoChildUnverifiedError(f"cannot verify the fan's remix {path.name}: {exc}") from exc
    ctx = verify_context(fan)
    trust_in(ctx, *read_trust(roots))
    r = verify_bytes(data, path.name, ctx)
    parents = [h for h in r.history if h.get("relationship") == "parentOf" and h.get("valid")]
    reward = r.license.ugc_reward if r.license is not None else None
    if r.verdict is not Verdict.VERIFIED or r.credential is None or not parents or reward is None:
        failed = "; ".join(c.detail for c in r.checks if c.status == "fail") or "no valid parent or reward"
        raise DemoChildUnverifiedError(f"the fan's remix {path.name} verifies {r.verdict.value}: {failed}")
    pool = studio.chain.address_of("UGCRewards")
    paid = (str(reward.pool).lower(), int(reward.amount), reward.creator.lower())
    if paid != (pool.lower(), REWARD, fan.chain.address.lower()):
        raise DemoChildUnverifiedError(
            f"the fan's remix {path.name} shows a reward of {reward.amount} wei to {reward.creator} from "
            f"pool {reward.pool}, not {REWARD} wei to the fan {fan.chain.address} from the family pool {pool}"
        )
    say(
        f"verify {path.name} in the fan's workspace, trusting the fan's and the brand's roots: VERIFIED, "
        f"parent chain {r.credential.signer.subject} → {parents[0]['signer']}, "
        f"UGC reward {eth(int(reward.amount))} ETH to {reward.creator}"
    )
    console.print(
        f"    {path.name} signed by {r.credential.signer.subject} (the fan), parentOf "
        f"{parents[0]['ingredient']!r} signed by {parents[0]['signer']} (the brand), valid"
    )
    console.print(f"    the reward was paid by the family pool {reward.pool}, proven in the fan's log")
    console.print(
        f"    the same: MINTLOOM_WORKSPACE={fan.workspace.root} mintloom verify {path} --trust {roots}"
    )


def _attest(say: Callable[[str], None], studio: Studio, fan: Studio, child: bytes, parent: bytes) -> None:
    """The brand, as the family's attester, checks the fan's remix and attests it for the fan."""
    from mintloom.governance.attester import attest_child

    pool, brand_root = studio.chain.address_of("UGCRewards"), studio.keys.trust_anchor_pem()
    # the child's credential validates its parent's too: the fan's root and the brand's own, as
    # `mintloom ugc attest --trust FAN_ROOT` in the brand's workspace passes them
    anchors = fan.keys.trust_anchor_pem() + brand_root
    a = attest_child(studio.chain, pool, child, parent, anchors, parent_anchors_pem=brand_root)
    say(
        f"the family's attester checks the remix (signed by {a.facts.signer}, parentOf the hero, pHash "
        f"distance {a.facts.distance.phash}) and attests it for its creator {a.facts.creator}"
    )


def _parties(studio: Studio, fan: ChainClient, party: Callable[[int], ChainClient]) -> dict[str, str]:
    named: dict[str, str] = {"brand": studio.chain.address, "investor": party(INVESTOR).address}
    named |= {"licensee": party(LICENSEE).address, "fan": fan.address}
    return named


def _accounts(chain: ChainClient, parties: dict[str, str]) -> dict[str, str]:
    """The parties and every contract of the brand's deployments (the family's once deployed)."""
    return parties | {n: a for n, a in sorted(chain.addresses().items()) if a not in parties.values()}


def _balances(chain: ChainClient, accounts: dict[str, str]) -> dict[str, int]:
    return {name: int(chain.w3.eth.get_balance(to_checksum_address(a))) for name, a in accounts.items()}


def _sent(studio: Studio, fan: Studio) -> set[str]:
    brand = {e.tx_hash for e in studio.chain.journal.entries(studio.chain.chain_id)}
    return brand | {e.tx_hash for e in fan.chain.journal.entries(fan.chain.chain_id)}


def _ledger(chain: ChainClient, parties: dict[str, str], before: dict[str, int], txs: set[str]) -> int:
    """Table every party's ETH change, each contract's, and gas; returns the column's total."""
    from mintloom.governance.dao import eth

    accounts = _accounts(chain, parties)
    after = _balances(chain, accounts)
    rows = [(n, a, after[n] - before.get(n, 0)) for n, a in accounts.items()]
    gas = 0
    for h in txs:
        r = chain.w3.eth.get_transaction_receipt(h)  # type: ignore[arg-type]
        gas += int(r["gasUsed"]) * int(r["effectiveGasPrice"])
    rows.append(("gas fees", "-", gas))
    t = Table("party", "account", "ETH change")
    for name, addr, delta in rows:
        if delta:
            t.add_row(name, addr, eth(delta))
    total = sum(d for _, _, d in rows)
    t.add_row("[bold]total[/]", "", f"[bold]{eth(total)}[/]")
    console.print(t)
    return total


def _reconcile(o: DaoOutcome) -> None:
    """Fail loudly unless the holders got the sale pro rata, the fan the reward and the pool
    the rest, and every wei that moved is accounted for."""
    checks = {
        "holders were paid the whole licence fee": o.brand_revenue + o.investor_revenue == o.licence_fee,
        "the investor got 30% and the brand 70%": o.investor_revenue * 7 == o.brand_revenue * 3,
        "the investor bought 30% of the shares": o.shares_bought * 10 == SUPPLY * 3 * 10**18,
        "the lot was paid at the listed price": o.lot_price * 10**18 == o.shares_bought * SHARE_PRICE,
        "the fan was paid the 0.1 ETH reward": o.reward == REWARD,
        "the pool keeps the 0.9 ETH not paid": o.pool_left == 10**18 - REWARD,
        "the balance changes and gas sum to zero": o.total_change == 0,
    }
    failed = [what for what, ok in checks.items() if not ok]
    if failed:
        raise DemoReconciliationError(f"the DAO step does not reconcile: {'; '.join(failed)} ({o})")
    console.print("    reconciled: " + "; ".join(checks))
