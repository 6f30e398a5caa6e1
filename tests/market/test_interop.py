"""mintloom's EIP-712 digests equal a third-party implementation's: eth_account's
``encode_typed_data`` in its (domain, types, message) form, with the types parsed from the type
strings in Marketplace.sol's source (not from mintloom's field lists) and values in JSON form."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from mintloom.market.orders import (
    Domain,
    Kind,
    MerkleListing,
    Order,
    Side,
    merkle_listing_digest,
    order_digest,
)

SOURCE = Path(__file__).parents[2] / "contracts" / "src" / "Marketplace.sol"
DOMAIN = Domain(8453, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
SIGNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"


def _types(name: str) -> list[dict[str, str]]:
    """Field list of struct ``name`` from the contract's EIP-712 type string (its typehash)."""
    text = re.sub(r'"\s*"', "", SOURCE.read_text())  # join the split string literals
    body = re.search(rf'"{name}\(([^)]*)\)"', text)
    assert body is not None, f"{name} type string not found in {SOURCE}"
    return [dict(zip(("type", "name"), f.split(), strict=True)) for f in body.group(1).split(",")]


def _third_party(primary: str, message: dict[str, Any]) -> bytes:
    domain = {"name": "mintloom Marketplace", "version": "1", "chainId": DOMAIN.chain_id,
              "verifyingContract": DOMAIN.contract}  # fmt: skip
    m = encode_typed_data(domain, {primary: _types(primary)}, message)
    return keccak(b"\x19" + m.version + m.header + m.body)


def test_listing_and_offer_digests_equal_eth_accounts() -> None:
    listing = Order(SIGNER, Side.LISTING, Kind.ASSET, 2**255 + 7, 0, 0, 0, 1,
                    "0x" + "00" * 20, 10**17, 1_900_000_000, 2**127 + 3, 0)  # fmt: skip
    offer = Order(SIGNER, Side.OFFER, Kind.ASSET_RANGE, 0, 0, 12, 40_000, 1, USDC, 5 * 10**6,
                  1_900_000_000, 99, 4)  # fmt: skip
    for o in (listing, offer):
        message = {
            "signer": o.signer, "side": int(o.side), "kind": int(o.kind), "tokenId": o.token_id,
            "termsId": o.terms_id, "fromLeaf": o.from_leaf, "toLeaf": o.to_leaf, "amount": o.amount,
            "currency": o.currency, "unitPrice": o.unit_price, "expiry": o.expiry, "salt": o.salt,
            "counter": o.counter,
        }  # fmt: skip
        assert order_digest(o, DOMAIN) == _third_party("Order", message)


def test_merkle_listing_digest_equals_eth_accounts() -> None:
    root = keccak(b"catalog")
    listing = MerkleListing(SIGNER, 100_000, root, 0, "0x" + "00" * 20, (10**17, 2 * 10**16, 5),
                            1_900_000_000, 12345, 1)  # fmt: skip
    message = {
        "signer": SIGNER, "checkpointSize": 100_000, "catalogRoot": "0x" + root.hex(), "termsId": 0,
        "currency": "0x" + "00" * 20, "prices": [10**17, 2 * 10**16, 5], "expiry": 1_900_000_000,
        "salt": 12345, "counter": 1,
    }  # fmt: skip
    assert merkle_listing_digest(listing, DOMAIN) == _third_party("MerkleListing", message)
    other = MerkleListing(SIGNER, 100_000, root, 0, "0x" + "00" * 20, (10**17, 5, 2 * 10**16),
                          1_900_000_000, 12345, 1)  # fmt: skip
    assert merkle_listing_digest(other, DOMAIN) != _third_party("MerkleListing", message)  # order matters
