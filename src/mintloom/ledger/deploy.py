"""Deploy mintloom's contracts once per chain and wire them together.

Order: ProvenanceLog → LineageRegistry → CreativeAssets → LicenseTemplates → RoyaltyVault →
LicenseMarket → Marketplace; then CreativeAssets gets the market as its derivative guard, the vault
as its ERC-2981 royalty receiver and royalty router (each token's royalties go to its split's
receiver), and the Marketplace may register assets and issue licences (Merkle listings). The sender
is admin and holds every operator role; the Marketplace charges no protocol fee. Re-running deploys
only what is missing (addresses are kept per chain id in ``.mintloom/chain/deployments.json``).
Deploys take turns: two at once (two processes on one workspace, or hosts on one PostgreSQL
catalog) would each find the contracts missing and deploy a second set; the later one waits, then
finds them recorded, or confirmed in the shared journal, and sends nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy import delete

from mintloom.config import GovernanceSettings
from mintloom.errors import FamilyMismatchError
from mintloom.ledger.anchoring import ensure_provenance_log
from mintloom.ledger.client import ChainClient, workspace_lock
from mintloom.ledger.lineage import ChainName
from mintloom.store.db import Database

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def deploy_all(chain: ChainClient, governance: GovernanceSettings | None = None) -> dict[str, str]:
    """Deploy every contract missing on this chain; returns name → address."""
    with _one_deploy_at_a_time(chain):
        return _deploy_all(chain, governance or GovernanceSettings())


def _one_deploy_at_a_time(chain: ChainClient) -> contextlib.AbstractContextManager[None]:
    """The workspace's deploy lock (:func:`workspace_lock`: this host's processes and the hosts
    sharing the catalog)."""
    return workspace_lock(chain, f"deploy:{chain.chain_id}", "deploy.lock")


def _deploy_all(chain: ChainClient, g: GovernanceSettings) -> dict[str, str]:
    me = chain.address
    log = ensure_provenance_log(chain)
    out = {"ProvenanceLog": log}
    out["LineageRegistry"] = chain.ensure_deployed("LineageRegistry", me, log)
    out["CreativeAssets"] = chain.ensure_deployed("CreativeAssets", me, log, me, g.royalty_bps)
    out["LicenseTemplates"] = chain.ensure_deployed("LicenseTemplates", g.standard_fee_wei)
    out["RoyaltyVault"] = chain.ensure_deployed("RoyaltyVault", me, log, out["CreativeAssets"])
    out["LicenseMarket"] = chain.ensure_deployed(
        "LicenseMarket", me, log, out["CreativeAssets"], out["LicenseTemplates"], out["RoyaltyVault"]
    )
    out["Marketplace"] = chain.ensure_deployed(
        "Marketplace", me, out["CreativeAssets"], out["LicenseMarket"], ZERO_ADDRESS, 0
    )
    # each wiring step is checked on its own: a crash between them must not skip a later one
    guard = str(chain.call("CreativeAssets", "derivativeGuard"))
    if guard.lower() != out["LicenseMarket"].lower():
        chain.transact("CreativeAssets", "setDerivativeGuard", out["LicenseMarket"], kind="wire:guard")
    receiver, _ = chain.call("CreativeAssets", "royaltyInfo", 0, 10_000)
    if str(receiver).lower() != out["RoyaltyVault"].lower():
        vault = out["RoyaltyVault"]
        chain.transact("CreativeAssets", "setDefaultRoyalty", vault, g.royalty_bps, kind="wire:royalty")
    _wire_market(chain, out)
    # issue 18: a dataset's contributors paid by Merkle claim (reads curators from LineageRegistry)
    out["ContributorRoyalties"] = chain.ensure_deployed("ContributorRoyalties", out["LineageRegistry"])
    return out


def _wire_market(chain: ChainClient, out: dict[str, str]) -> None:
    """Route royalties to split receivers; let the Marketplace mint (Merkle listings) and issue licences."""
    if str(chain.call("CreativeAssets", "royaltyRouter")).lower() != out["RoyaltyVault"].lower():
        chain.transact("CreativeAssets", "setRoyaltyRouter", out["RoyaltyVault"], kind="wire:router")
    mkt = out["Marketplace"]
    for contract, role in (("CreativeAssets", "REGISTRAR_ROLE"), ("LicenseMarket", "ISSUER_ROLE")):
        role_id = chain.call(contract, role)
        if not chain.call(contract, "hasRole", role_id, mkt):
            chain.transact(contract, "grantRole", role_id, mkt, kind=f"wire:{contract}:{role}")


def reset_chain(chain: ChainClient, db: Database) -> int:
    """Start over on a chain that lost this workspace's history (the explicit answer to
    ``ChainResetError``): forget its deployments, orphan its journal and drop the on-chain ids
    (splits, datasets, models) recorded for it. Returns how many journal entries were orphaned."""
    with db.session() as s:
        s.execute(delete(ChainName).where(ChainName.chain_id == chain.chain_id))
    return chain.reset()


# -- a campaign family's fractional IP and Creative DAO (issue 16) --------------------------------


@dataclass(frozen=True)
class LeafRange:
    """Leaves ``[start, stop)`` of anchored checkpoint ``checkpoint`` (a campaign's leaves)."""

    checkpoint: int
    start: int
    stop: int


@dataclass(frozen=True)
class FamilySpec:
    """A campaign family to fractionalise: its share token, its DAO's rules and its leaves."""

    name: str
    symbol: str
    supply: int
    terms_id: int
    ranges: tuple[LeafRange, ...]
    timelock_delay_s: int = 60
    voting_delay_blocks: int = 1
    voting_period_blocks: int = 20
    quorum_percent: int = 4
    epoch_s: int = 86_400


def deploy_family(chain: ChainClient, spec: FamilySpec) -> dict[str, str]:
    """After :func:`deploy_all`, deploy the family's RoyaltyShares (whole supply to this sender,
    the brand; registered with the Marketplace as tradable share lots), its TimelockController and
    CreativeGovernor, its FamilyConfig and UGCRewards, then hand the family's rights to the timelock.
    One family per chain (deployments are recorded by contract name): a second, different family
    is refused with :class:`FamilyMismatchError`."""
    me = chain.address
    core: dict[str, str] = {
        n: chain.address_of(n)
        for n in ("CreativeAssets", "LicenseTemplates", "RoyaltyVault", "LicenseMarket")
    }
    out: dict[str, str] = {
        "RoyaltyShares": chain.ensure_deployed(
            "RoyaltyShares", spec.name, spec.symbol, me, spec.supply, core["RoyaltyVault"], []
        )
    }
    if str(chain.call("RoyaltyShares", "name")) != spec.name:
        raise FamilyMismatchError(
            f"this chain's family is {chain.call('RoyaltyShares', 'name')!r}, not {spec.name!r}",
            hint="use a workspace (or chain) per campaign family",
        )
    _shares_tradable(chain, out["RoyaltyShares"])
    delay = spec.timelock_delay_s
    out["TimelockController"] = chain.ensure_deployed("TimelockController", delay, [], [ZERO_ADDRESS], me)
    out["CreativeGovernor"] = chain.ensure_deployed(
        "CreativeGovernor",
        f"{spec.name} DAO",
        out["RoyaltyShares"],
        out["TimelockController"],
        spec.voting_delay_blocks,
        spec.voting_period_blocks,
        0,
        spec.quorum_percent,
    )
    out["FamilyConfig"] = chain.ensure_deployed(
        "FamilyConfig", me, core["CreativeAssets"], core["LicenseTemplates"], spec.terms_id
    )
    out["UGCRewards"] = chain.ensure_deployed(
        "UGCRewards", me, core["LicenseMarket"], out["FamilyConfig"], spec.epoch_s
    )
    _family_ranges(chain, spec.ranges)
    _hand_to_timelock(chain, out)
    return out


def _shares_tradable(chain: ChainClient, shares: str) -> None:
    """Let the family's shares trade as Marketplace share lots: the Marketplace's admin (this
    sender, who deployed both) registers the token; the Marketplace refuses any other ERC-20."""
    if not chain.call("Marketplace", "isShareToken", shares):
        chain.transact("Marketplace", "setShareToken", shares, True, kind="family:shares-tradable")


def _family_ranges(chain: ChainClient, ranges: tuple[LeafRange, ...]) -> None:
    """Add the family's leaf ranges while the brand still owns FamilyConfig (skipping added ones)."""
    if str(chain.call("FamilyConfig", "owner")).lower() != chain.address.lower():
        return
    for r in ranges:
        if not chain.call("FamilyConfig", "containsLeaf", r.start):
            kind = f"family:range:{r.checkpoint}:{r.start}:{r.stop}"
            chain.transact("FamilyConfig", "addRange", r.checkpoint, r.start, r.stop, kind=kind)


def _hand_to_timelock(chain: ChainClient, out: dict[str, str]) -> None:
    """The governor alone proposes and cancels; the timelock owns the family's config and pool;
    the brand gives up the timelock's admin role (each step checked on its own, crash-safe)."""
    timelock, governor, me = out["TimelockController"], out["CreativeGovernor"], chain.address
    for role in ("PROPOSER_ROLE", "CANCELLER_ROLE"):
        role_id = chain.call("TimelockController", role)
        if not chain.call("TimelockController", "hasRole", role_id, governor):
            chain.transact("TimelockController", "grantRole", role_id, governor, kind=f"family:{role}")
    for name in ("FamilyConfig", "UGCRewards"):
        if str(chain.call(name, "owner")).lower() == me.lower():
            chain.transact(name, "transferOwnership", timelock, kind=f"family:{name}:owner")
    admin = chain.call("TimelockController", "DEFAULT_ADMIN_ROLE")
    if chain.call("TimelockController", "hasRole", admin, me):
        chain.transact("TimelockController", "renounceRole", admin, me, kind="family:renounce-admin")
