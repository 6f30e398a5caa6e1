"""Deploy mintloom's contracts once per chain, wiring their roles and addresses."""

from __future__ import annotations

from mintloom.ledger.anchoring import ensure_provenance_log
from mintloom.ledger.client import ChainClient


def deploy_all(chain: ChainClient) -> dict[str, str]:
    """Deploy every contract missing on this chain; returns name → address."""
    addresses = {"ProvenanceLog": ensure_provenance_log(chain)}
    return addresses
