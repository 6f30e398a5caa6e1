"""Resolve a token's URIs the way a wallet does, from the workspace's blob store (IPFS-identical CIDs)."""

from __future__ import annotations

import json
from typing import Any

from mintloom.ledger.reader import ChainReader
from mintloom.store.blobs import LocalBlobStore


def token_json(chain: ChainReader, blobs: LocalBlobStore, token_id: int) -> dict[str, Any]:
    """The JSON ``CreativeAssets.tokenURI(token_id)`` names, read from ``blobs`` (checked against its CID)."""
    uri = str(chain.call("CreativeAssets", "tokenURI", token_id))
    assert uri.startswith("ipfs://b"), uri
    value = json.loads(blobs.get(uri.removeprefix("ipfs://")))
    assert isinstance(value, dict)
    return value
