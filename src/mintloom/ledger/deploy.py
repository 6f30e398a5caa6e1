"""Deploy mintloom's contracts once per chain and wire them together.

Order: ProvenanceLog → LineageRegistry → CreativeAssets → LicenseTemplates → RoyaltyVault →
LicenseMarket; then CreativeAssets gets the market as its derivative guard and the vault as its
ERC-2981 royalty receiver. The sender is admin and holds every operator role. Re-running deploys
only what is missing (addresses are kept per chain id in ``.mintloom/chain/deployments.json``).
"""

from __future__ import annotations

from mintloom.config import GovernanceSettings
from mintloom.ledger.anchoring import ensure_provenance_log
from mintloom.ledger.client import ChainClient


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
    guard = str(chain.call("CreativeAssets", "derivativeGuard"))
    if guard.lower() != out["LicenseMarket"].lower():
        chain.transact("CreativeAssets", "setDerivativeGuard", out["LicenseMarket"])
        chain.transact("CreativeAssets", "setDefaultRoyalty", out["RoyaltyVault"], g.royalty_bps)
    return out
