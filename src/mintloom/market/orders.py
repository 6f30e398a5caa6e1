"""Marketplace orders: EIP-712 typed data signed off chain, settled by ``Marketplace.sol``.

An order is plain data (shareable as JSON) plus a signature over its EIP-712 digest. The domain
binds the chain id and the Marketplace address, so a signature never fills on another chain or
another deployment. The type strings here must equal the contract's ``ORDER_TYPEHASH`` and
``MERKLE_LISTING_TYPEHASH``; tests/market/test_orders.py checks the digests against the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from mintloom.errors import InexactSharePrice, MarketError, UnknownShareToken

DOMAIN_NAME = "mintloom Marketplace"
DOMAIN_VERSION = "1"
SHARE_UNIT = 10**18
"""Base units of one whole share: a share lot's ``unit_price`` is per whole share
(``Marketplace.SHARE_UNIT``), so the price of a small share does not round to zero."""

_ORDER_FIELDS = [
    ("signer", "address"),
    ("side", "uint8"),
    ("kind", "uint8"),
    ("tokenId", "uint256"),
    ("termsId", "uint256"),
    ("fromLeaf", "uint64"),
    ("toLeaf", "uint64"),
    ("amount", "uint256"),
    ("currency", "address"),
    ("unitPrice", "uint256"),
    ("expiry", "uint64"),
    ("salt", "uint256"),
    ("counter", "uint256"),
]
_MERKLE_FIELDS = [
    ("signer", "address"),
    ("checkpointSize", "uint64"),
    ("catalogRoot", "bytes32"),
    ("termsId", "uint256"),
    ("currency", "address"),
    ("prices", "uint256[]"),
    ("expiry", "uint64"),
    ("salt", "uint256"),
    ("counter", "uint256"),
]
_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


class Side(IntEnum):
    LISTING = 0
    OFFER = 1


class Kind(IntEnum):
    ASSET = 0
    LICENCE = 1
    ASSET_RANGE = 2
    SHARES = 3


@dataclass(frozen=True)
class Domain:
    """Where an order may fill: one chain, one Marketplace."""

    chain_id: int
    contract: str


@dataclass(frozen=True)
class Order:
    """A listing or offer, field for field ``Marketplace.Order``. An asset listing's ``terms_id``
    is its token's ``CreativeAssets.transferCountOf`` when listed: the next transfer ends it. A
    share lot's ``token_id`` is its share token's address, ``amount`` share units (base units)
    and ``unit_price`` the price of one whole share (:data:`SHARE_UNIT` units)."""

    signer: str
    side: Side
    kind: Kind
    token_id: int
    terms_id: int
    from_leaf: int
    to_leaf: int
    amount: int
    currency: str
    unit_price: int
    expiry: int
    salt: int
    counter: int

    def message(self) -> dict[str, Any]:
        """The EIP-712 message (contract field names)."""
        values = astuple_order(self)
        return {name: value for (name, _), value in zip(_ORDER_FIELDS, values, strict=True)}

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as a web3 call argument."""
        return astuple_order(self)


@dataclass(frozen=True)
class MerkleListing:
    """One brand signature over a catalog of an anchored checkpoint, field for field
    ``Marketplace.MerkleListing``."""

    signer: str
    checkpoint_size: int
    catalog_root: bytes
    terms_id: int
    currency: str
    prices: tuple[int, ...]
    expiry: int
    salt: int
    counter: int

    def message(self) -> dict[str, Any]:
        return {name: value for (name, _), value in zip(_MERKLE_FIELDS, self.as_tuple(), strict=True)}

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            to_checksum_address(self.signer),
            self.checkpoint_size,
            self.catalog_root,
            self.terms_id,
            to_checksum_address(self.currency),
            list(self.prices),
            self.expiry,
            self.salt,
            self.counter,
        )


def share_price(amount: int, unit_price: int) -> int:
    """The exact price of ``amount`` share units at ``unit_price`` a whole share, as
    ``Marketplace.sharePrice``; :class:`InexactSharePrice` when it would round."""
    price, dust = divmod(amount * unit_price, SHARE_UNIT)
    if dust:
        raise InexactSharePrice(
            f"{amount} share units at {unit_price} wei a share cost "
            f"{Decimal(amount * unit_price) / SHARE_UNIT:f} wei: not a whole number of wei",
            hint="pick a number of shares whose price is whole (e.g. whole shares)",
        )
    return price


def price_of(order: Order, amount: int) -> int:
    """What ``amount`` units of ``order`` cost: exact per whole share for a share lot."""
    if order.kind is Kind.SHARES:
        return share_price(amount, order.unit_price)
    return order.unit_price * amount


def share_token_of(order: Order) -> str:
    """The share token a share lot names (its ``token_id`` is the address)."""
    if order.kind is not Kind.SHARES or order.token_id >> 160:
        raise UnknownShareToken(f"order names no share token (token id {order.token_id:#x})")
    return to_checksum_address(f"0x{order.token_id:040x}")


def astuple_order(o: Order) -> tuple[Any, ...]:
    return (
        to_checksum_address(o.signer),
        int(o.side),
        int(o.kind),
        o.token_id,
        o.terms_id,
        o.from_leaf,
        o.to_leaf,
        o.amount,
        to_checksum_address(o.currency),
        o.unit_price,
        o.expiry,
        o.salt,
        o.counter,
    )


def _typed(
    primary: str, fields: list[tuple[str, str]], message: dict[str, Any], domain: Domain
) -> SignableMessage:
    data = {
        "types": {
            "EIP712Domain": _DOMAIN_FIELDS,
            primary: [{"name": n, "type": t} for n, t in fields],
        },
        "primaryType": primary,
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": domain.chain_id,
            "verifyingContract": to_checksum_address(domain.contract),
        },
        "message": message,
    }
    try:
        return encode_typed_data(full_message=data)
    except (ValueError, TypeError) as exc:
        raise MarketError(f"the {primary} cannot be encoded: {exc}", hint="check its fields") from exc


def _digest(m: SignableMessage) -> bytes:
    return keccak(b"\x19" + m.version + m.header + m.body)


def order_digest(order: Order, domain: Domain) -> bytes:
    """The EIP-712 digest the signer signs (``Marketplace.hashOrder``)."""
    return _digest(_typed("Order", _ORDER_FIELDS, order.message(), domain))


def merkle_listing_digest(listing: MerkleListing, domain: Domain) -> bytes:
    """The EIP-712 digest of a Merkle listing (``Marketplace.hashMerkleListing``)."""
    return _digest(_typed("MerkleListing", _MERKLE_FIELDS, listing.message(), domain))


def domain_separator(domain: Domain) -> bytes:
    """``Marketplace.domainSeparator()`` computed off chain."""
    return _typed("Order", _ORDER_FIELDS, _zero_order_message(), domain).header


def sign_order(order: Order, domain: Domain, private_key: str) -> bytes:
    """65-byte r ‖ s ‖ v signature; refuses a key that is not the order's signer."""
    return _sign(_typed("Order", _ORDER_FIELDS, order.message(), domain), order.signer, private_key)


def sign_merkle_listing(listing: MerkleListing, domain: Domain, private_key: str) -> bytes:
    return _sign(
        _typed("MerkleListing", _MERKLE_FIELDS, listing.message(), domain), listing.signer, private_key
    )


def catalog_leaf(cid_digest: bytes, metadata_digest: bytes, price_class: int) -> bytes:
    """Leaf of a Merkle listing's catalog tree (``Marketplace.catalogLeaf``: OZ double hash)."""
    inner = keccak(encode(["bytes32", "bytes32", "uint256"], [cid_digest, metadata_digest, price_class]))
    return keccak(inner)


def _sign(m: SignableMessage, signer: str, private_key: str) -> bytes:
    acct = Account.from_key(private_key)
    if acct.address.lower() != signer.lower():
        raise MarketError(
            f"the key of {acct.address} cannot sign an order of {signer}",
            hint="sign with the key of the order's signer",
        )
    return bytes(acct.sign_message(m).signature)


def _zero_order_message() -> dict[str, Any]:
    zero = "0x" + "00" * 20
    return {n: (zero if t == "address" else 0) for n, t in _ORDER_FIELDS}
