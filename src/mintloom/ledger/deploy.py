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

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete

from mintloom.config import GovernanceSettings
from mintloom.ledger.anchoring import ensure_provenance_log
from mintloom.ledger.client import ChainClient
from mintloom.ledger.lineage import ChainName
from mintloom.store.db import Database

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def deploy_all(chain: ChainClient, governance: GovernanceSettings | None = None) -> dict[str, str]:
    """Deploy every contract missing on this chain; returns name → address."""
    with _one_deploy_at_a_time(chain):
        return _deploy_all(chain, governance or GovernanceSettings())


@contextmanager
def _one_deploy_at_a_time(chain: ChainClient) -> Iterator[None]:
    """Hold the workspace's deploy lock (a file lock beside ``deployments.json``: processes on this
    host) and the catalog's (a PostgreSQL row lock: hosts sharing the catalog)."""
    path = chain.deployments.path.with_name("deploy.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with chain.journal.locked(f"deploy:{chain.chain_id}"):
            yield


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
