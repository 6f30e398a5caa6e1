"""The market benchmark at a small size on a real anvil: a Merkle-listing fill and a resale."""

from __future__ import annotations

import hashlib
from pathlib import Path

from eth_utils.crypto import keccak

from mintloom.bench.market import build_catalog, measure


def _verify(proof: list[bytes], root: bytes, leaf: bytes) -> bool:
    """OpenZeppelin MerkleProof.verify: sorted-pair keccak up the path."""
    h = leaf
    for sibling in proof:
        h = keccak(b"".join(sorted((h, sibling))))
    return h == root


def test_catalog_proofs_verify_for_every_leaf_of_odd_sizes() -> None:
    for n in (1, 2, 5, 33):
        leaves = [hashlib.sha256(bytes([i])).digest() for i in range(n)]
        tree = build_catalog(leaves)
        assert all(_verify(tree.proof(i), tree.root, leaves[i]) for i in range(n))
        assert not _verify(tree.proof(0), tree.root, leaves[-1]) or n == 1


def test_market_fills_are_real_sales_with_targets(tmp_path: Path) -> None:
    figs = {f.name: f for f in measure(tmp_path, leaves=64)}
    listing = figs["market_listing_fill_gas"]
    merkle = figs["market_merkle_fill_gas_64_leaves"]
    assert listing.target == 120_000 and listing.compare == "<="
    assert merkle.target == 220_000 and merkle.compare == "<="
    # a sale is a transaction: base 21,000 plus signature check, ERC-721 move and two ETH pushes
    assert 60_000 < listing.value < merkle.value < 400_000
    assert "log proof 6 hashes" in merkle.note and "catalog proof 6 hashes" in merkle.note
