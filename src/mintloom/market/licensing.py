"""Buying licences: ERC-1155 licence tokens for an asset under one of its attached terms.

The fee (terms' minting fee × amount) is paid in ETH or in the terms' ERC-20; the market pays it
into the royalty vault for the asset's split (and upstream for derivatives).
"""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from mintloom.errors import MarketError
from mintloom.governance.licenses import ETH, resolve_terms, terms_of
from mintloom.ledger.assets import token_id
from mintloom.ledger.client import ChainClient

CONTRACT = "LicenseMarket"

_ERC20_ABI = [
    {
        "type": "function",
        "name": "approve",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
]


@dataclass(frozen=True)
class Purchase:
    cid: str
    token_id: int
    terms_id: int
    license_id: int
    amount: int
    fee: int
    currency: str
    tx_hash: str
    gas_used: int
    resumed: bool = False
    """Sent by an interrupted earlier ``buy`` and reported now: not bought a second time."""


def quote(chain: ChainClient, terms: str | int, amount: int = 1) -> tuple[int, str]:
    t = terms_of(chain, resolve_terms(terms))
    return t.minting_fee * amount, t.currency


def buy_license(
    chain: ChainClient, cid: str, terms: str | int, *, amount: int = 1, to: str | None = None
) -> Purchase:
    """Buy ``amount`` licences of ``cid`` under ``terms`` for ``to`` (default: the sender).

    An identical purchase an interrupted run sent and never reported (killed after sending) is
    settled and returned instead of buying again; one that was reported is a deliberate earlier
    purchase, and this one is sent."""
    if amount < 1:
        raise MarketError("amount must be at least 1")
    tid, terms_id = token_id(cid), resolve_terms(terms)
    if not chain.call("CreativeAssets", "isRegistered", tid):
        raise MarketError(
            f"{cid} is not registered on chain", hint=f"the owner runs `mintloom register {cid}`"
        )
    fee, currency = quote(chain, terms_id, amount)
    value = fee if currency.lower() == ETH else 0
    if currency.lower() != ETH and fee:
        spender = chain.address_of(CONTRACT)
        chain.transact_at(currency, _ERC20_ABI, "approve", spender, fee, kind="approve", once=False)
    recipient = Web3.to_checksum_address(to or chain.address)
    tx = chain.transact(
        CONTRACT,
        "buyLicense",
        tid,
        terms_id,
        amount,
        recipient,
        value=value,
        kind=f"buy-license:{cid}:{terms_id}",
        once=False,
    )
    license_id = int(chain.call(CONTRACT, "licenseIdOf", tid, terms_id))
    return Purchase(
        cid, tid, terms_id, license_id, amount, fee, currency, tx.tx_hash, tx.gas_used, resumed=tx.resumed
    )


def license_balance(chain: ChainClient, account: str, cid: str, terms: str | int) -> int:
    lid = int(chain.call(CONTRACT, "licenseIdOf", token_id(cid), resolve_terms(terms)))
    return int(chain.call(CONTRACT, "balanceOf", Web3.to_checksum_address(account), lid))
