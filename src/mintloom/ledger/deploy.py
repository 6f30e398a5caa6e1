"""Deploy mintloom's contracts once per chain and wire them together.

Order: ProvenanceLog → LineageRegistry → CreativeAssets → LicenseTemplates → RoyaltyVault →
LicenseMarket; then CreativeAssets gets the market as its derivative guard and the vault as its
ERC-2981 royalty receiver. The sender is admin and holds every operator role. Re-running deploys
only what is missing (addresses are kept per chain id in ``.mintloom/chain/deployments.json``).
"""

from __future__ import annotations

from sqlalchemy import delete

from mintloom.config import GovernanceSettings
from mintloom.ledger.anchoring import ensure_provenance_log
from mintloom.ledger.client import ChainClient
from mintloom.ledger.lineage import ChainName
from mintloom.store.db import Database


def deploy_all(chain: ChainClient, governance: GovernanceSettings | None = None) -> dict[str, str]:
    """Deploy every contract missing on this chain; returns name → address."""
    g = governance or GovernanceSettings()
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
    # each wiring step is checked on its own: a crash between the two must not skip the second
    guard = str(chain.call("CreativeAssets", "derivativeGuard"))
    if guard.lower() != out["LicenseMarket"].lower():
        chain.transact("CreativeAssets", "setDerivativeGuard", out["LicenseMarket"], kind="wire:guard")
    receiver, _ = chain.call("CreativeAssets", "royaltyInfo", 0, 10_000)
    if str(receiver).lower() != out["RoyaltyVault"].lower():
        vault = out["RoyaltyVault"]
        chain.transact("CreativeAssets", "setDefaultRoyalty", vault, g.royalty_bps, kind="wire:royalty")
    return out


def reset_chain(chain: ChainClient, db: Database) -> int:
    """Start over on a chain that lost this workspace's history (the explicit answer to
    ``ChainResetError``): forget its deployments, orphan its journal and drop the on-chain ids
    (splits, datasets, models) recorded for it. Returns how many journal entries were orphaned."""
    with db.session() as s:
        s.execute(delete(ChainName).where(ChainName.chain_id == chain.chain_id))
    return chain.reset()
