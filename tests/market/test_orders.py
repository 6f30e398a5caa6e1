"""EIP-712 orders signed in Python fill on the Marketplace contract (real anvil): the digests and
domain separator equal the contract's, and a signature for another chain or deployment is refused."""

from __future__ import annotations

import time

import pytest
from web3 import Web3
from web3.exceptions import ContractCustomError

from mintloom.errors import MarketError
from mintloom.ledger.deploy import ZERO_ADDRESS, deploy_all
from mintloom.ledger.node import NodeInfo, dev_key
from mintloom.market.orders import (
    Domain,
    Kind,
    MerkleListing,
    Order,
    Side,
    catalog_leaf,
    domain_separator,
    merkle_listing_digest,
    order_digest,
    sign_order,
)
from mintloom.studio import Studio

pytestmark = pytest.mark.xdist_group("anvil")
SELLER = dev_key(3)


def _selector(name: str) -> str:
    return "0x" + Web3.keccak(text=name).hex().removeprefix("0x")[:8]


def _order(signer: str, token_id: int = 7, price: int = 10**18) -> Order:
    return Order(
        signer=signer, side=Side.LISTING, kind=Kind.ASSET, token_id=token_id, terms_id=0, from_leaf=0,
        to_leaf=0, amount=1, currency=ZERO_ADDRESS, unit_price=price, expiry=int(time.time()) + 3600,
        salt=42, counter=0,
    )  # fmt: skip


def _fill_error(studio: Studio, order: Order, signature: bytes) -> str:
    """The custom error selector a fill of `order` reverts with (eth_call, nothing is sent)."""
    mkt = studio.chain.contract("Marketplace")
    with pytest.raises(ContractCustomError) as info:
        mkt.functions.fillListing(order.as_tuple(), signature, 1, studio.chain.address).call(
            {"from": studio.chain.address, "value": order.unit_price}
        )
    data = info.value.data if isinstance(info.value.data, str) else str(info.value.args[0])
    return data[:10]


def test_python_digests_equal_the_contract(studio: Studio, shared_anvil: NodeInfo) -> None:
    chain = studio.chain
    out = deploy_all(chain, studio.settings.governance)
    domain = Domain(chain.chain_id, out["Marketplace"])
    seller = Web3().eth.account.from_key(SELLER).address
    order = _order(seller)
    assert order_digest(order, domain) == bytes(chain.call("Marketplace", "hashOrder", order.as_tuple()))
    assert domain_separator(domain) == bytes(chain.call("Marketplace", "domainSeparator"))
    listing = MerkleListing(seller, 16, b"\x11" * 32, 2, ZERO_ADDRESS, (10**17, 2 * 10**16), 2**40, 1, 0)
    on_chain = chain.call("Marketplace", "hashMerkleListing", listing.as_tuple())
    assert merkle_listing_digest(listing, domain) == bytes(on_chain)
    leaf = chain.call("Marketplace", "catalogLeaf", b"\x01" * 32, b"\x02" * 32, 3)
    assert catalog_leaf(b"\x01" * 32, b"\x02" * 32, 3) == bytes(leaf)


def test_python_signature_passes_and_foreign_ones_fail(studio: Studio, shared_anvil: NodeInfo) -> None:
    chain = studio.chain
    out = deploy_all(chain, studio.settings.governance)
    seller = Web3().eth.account.from_key(SELLER).address
    order = _order(seller)
    good = sign_order(order, Domain(chain.chain_id, out["Marketplace"]), SELLER)
    # the signature is accepted: the fill gets past it and fails only on the (unregistered) token,
    # whose transfer count an asset listing must name
    assert _fill_error(studio, order, good) == _selector("UnknownAsset(uint256)")
    invalid = _selector("InvalidSignature()")
    other_chain = sign_order(order, Domain(chain.chain_id + 1, out["Marketplace"]), SELLER)
    assert _fill_error(studio, order, other_chain) == invalid
    other_market = sign_order(order, Domain(chain.chain_id, out["LicenseMarket"]), SELLER)
    assert _fill_error(studio, order, other_market) == invalid
    cheaper = _order(seller, price=1)  # the buyer rewrites the price under the seller's signature
    assert _fill_error(studio, cheaper, good) == invalid


def test_sign_refuses_a_key_that_is_not_the_signer() -> None:
    seller = Web3().eth.account.from_key(SELLER).address
    with pytest.raises(MarketError, match="cannot sign"):
        sign_order(_order(seller), Domain(1, ZERO_ADDRESS), dev_key(4))
