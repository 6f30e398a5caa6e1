"""Sales history and ownership read from the Marketplace's events (a read path: never writes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mintloom.ledger.reader import ChainReader

MARKET = "Marketplace"


@dataclass(frozen=True)
class SaleRecord:
    """One settled sale: a listing or offer filled, or an asset bought from a Merkle listing."""

    order_hash: str
    token_id: int
    seller: str | None
    """None for a Merkle listing (the brand's signature; the asset was minted to the buyer)."""
    buyer: str
    price: int
    royalty: int | None
    currency: str | None
    block: int
    tx_hash: str


def _hex(value: Any) -> str:
    raw = bytes(value).hex() if isinstance(value, bytes | bytearray) else str(value).removeprefix("0x")
    return "0x" + raw


def sales(reader: ChainReader, token_id: int | None = None) -> list[SaleRecord]:
    """Every sale on this chain's Marketplace (of ``token_id`` if given), oldest first."""
    out = [_order_sale(e) for e in reader.event_logs(MARKET, "OrderFilled", {})]
    filters = {} if token_id is None else {"tokenId": token_id}
    out += [_merkle_sale(e) for e in reader.event_logs(MARKET, "MerkleListingFilled", filters)]
    if token_id is not None:
        out = [s for s in out if s.token_id == token_id]
    return sorted(out, key=lambda s: (s.block, s.tx_hash))


def owner_of(reader: ChainReader, token_id: int) -> str | None:
    """The token's holder, None if it is not registered."""
    if not reader.call("CreativeAssets", "isRegistered", token_id):
        return None
    return str(reader.call("CreativeAssets", "ownerOf", token_id))


def _order_sale(e: Any) -> SaleRecord:
    a = e["args"]
    return SaleRecord(
        _hex(a["orderHash"]), int(a["tokenId"]), str(a["seller"]), str(a["buyer"]), int(a["price"]),
        int(a["royalty"]), str(a["currency"]), int(e["blockNumber"]), _hex(e["transactionHash"]),
    )  # fmt: skip


def _merkle_sale(e: Any) -> SaleRecord:
    a = e["args"]
    return SaleRecord(
        _hex(a["orderHash"]), int(a["tokenId"]), None, str(a["buyer"]), int(a["price"]), None, None,
        int(e["blockNumber"]), _hex(e["transactionHash"]),
    )  # fmt: skip
