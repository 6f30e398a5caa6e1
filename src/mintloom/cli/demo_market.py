"""The demo's market step: the brand lists the whole campaign with one signature, a buyer buys one
asset through it and resells it to a second buyer through a listing; the resale's royalty reaches
the split and is claimed. Every party's ETH balance change is tabled, gas fees included, and the
column sums to zero (what left one account arrived at another, or paid for gas)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from eth_utils.address import to_checksum_address
from rich.table import Table

from mintloom.cli.console import console

if TYPE_CHECKING:
    from mintloom.campaign.spec import LoadedSpec
    from mintloom.ledger.client import ChainClient
    from mintloom.market.catalog import SignedMerkleListing
    from mintloom.store.catalog import AssetRow
    from mintloom.studio import Studio

PRICES = {"image": 5 * 10**16, "copy": 10**16, "audio": 10**16}
RESALE = 12 * 10**16
FIRST_BUYER, SECOND_BUYER = 5, 6


def market_step(
    say: Callable[[str], None], studio: Studio, loaded: LoadedSpec, party: Callable[[int], ChainClient]
) -> None:
    """Run the market step once per workspace (a rerun finds its sales and says so)."""
    from mintloom.market.catalog import load_listings
    from mintloom.market.history import sales

    chain, campaign = studio.chain, loaded.spec.campaign
    if load_listings(studio.db, chain.chain_id, campaign) and sales(chain):
        say("the campaign is already listed and traded on the marketplace (resumed run)")
        return
    listing = _list(say, studio, campaign)
    if (cid := _pick(studio, listing)) is None:  # a tiny campaign whose images are all registered
        console.print("    every image is registered already: nothing is left to sell, the trade is skipped")
        return
    split = int(chain.call("RoyaltyVault", "splitOfLeaf", studio.log.index_of(listing.entries[0].cid)))
    parties = _parties(studio, party, split)
    before, sent = _balances(chain, parties), _sent(chain)
    _trade(say, studio, listing, cid, party)
    _royalties(say, studio, split, party)
    _ledger(chain, parties, before, _sent(chain) - sent)


def _list(say: Callable[[str], None], studio: Studio, campaign: str) -> SignedMerkleListing:
    from mintloom.market.service import list_campaign

    kinds = {a.kind for a in _assets(studio, campaign)}
    prices = {k: p for k, p in PRICES.items() if k in kinds}
    shown = ", ".join(f"{k} {_eth(p)}" for k, p in prices.items())
    say(f"the brand lists the whole campaign with ONE signature ({shown})")
    listing = list_campaign(studio.chain, studio.db, studio.log, studio.blobs, campaign, prices=prices)
    console.print(f"    {len(listing.entries)} assets, 0 gas, order {('0x' + listing.digest.hex())[:18]}…")
    return listing


def _trade(
    say: Callable[[str], None],
    studio: Studio,
    listing: SignedMerkleListing,
    cid: str,
    party: Callable[[int], ChainClient],
) -> None:
    from mintloom.market.service import buy, buy_merkle, list_asset

    first, second = party(FIRST_BUYER), party(SECOND_BUYER)
    say("a buyer picks an image: proven in the anchored log, minted to them and paid in one transaction")
    sale = buy_merkle(first, studio.log, listing, cid)
    console.print(f"    {cid[:20]}… for {_eth(sale.price)}, gas {sale.tx.gas_used:,}")
    say(f"the buyer resells it to a second buyer through a signed listing at {_eth(RESALE)}")
    resale = buy(second, list_asset(first, studio.db, cid, RESALE), agreed_price=RESALE)
    console.print(f"    gas {resale.tx.gas_used:,}; owner now {second.address}")


def _pick(studio: Studio, listing: SignedMerkleListing) -> str | None:
    """An unsold image of the listing whose parent (if any) is registered, so it can be minted."""
    from mintloom.ledger.assets import token_id

    chain = studio.chain
    for e in listing.entries:
        receipt = studio.log.receipt(e.cid)
        if (
            e.price_class != 0
            or receipt is None
            or chain.call("CreativeAssets", "isRegistered", token_id(e.cid))
        ):
            continue
        if receipt.parent is None or chain.call("CreativeAssets", "isRegistered", token_id(receipt.parent)):
            return e.cid
    return None


def _royalties(
    say: Callable[[str], None], studio: Studio, split: int, party: Callable[[int], ChainClient]
) -> None:
    from mintloom.governance.royalties import claim, claimable
    from mintloom.market.service import ETH

    chain = studio.chain
    say("the royalties reach the campaign's split receiver; it is flushed and every contributor claims")
    chain.transact("RoyaltyVault", "flush", split, ETH, kind="market:flush", once=False)
    for client in (chain, *(party(i) for i in (1, 2, 3))):
        owed = claimable(chain, client.address)
        if owed:
            claim(client)
            console.print(f"    {client.address} claimed {_eth(owed)}")


def _parties(studio: Studio, party: Callable[[int], ChainClient], split: int) -> dict[str, str]:
    chain = studio.chain
    named: dict[str, str] = {
        "brand": chain.address,
        "artist": party(1).address,
        "data curator": party(2).address,
    }
    named |= {"model trainer": party(3).address, "first buyer": party(FIRST_BUYER).address}
    named |= {"second buyer": party(SECOND_BUYER).address}
    for contract in ("Marketplace", "RoyaltyVault"):
        named[contract] = chain.address_of(contract)
    named["split receiver"] = str(chain.call("RoyaltyVault", "receiverOf", split))
    return named


def _balances(chain: ChainClient, parties: dict[str, str]) -> dict[str, int]:
    return {name: int(chain.w3.eth.get_balance(to_checksum_address(a))) for name, a in parties.items()}


def _sent(chain: ChainClient) -> set[str]:
    return {e.tx_hash for e in chain.journal.entries(chain.chain_id)}


def _ledger(chain: ChainClient, parties: dict[str, str], before: dict[str, int], txs: set[str]) -> None:
    """The table of balance changes; gas is its own row so the column sums to zero."""
    after = _balances(chain, parties)
    gas = 0
    for h in txs:
        r = chain.w3.eth.get_transaction_receipt(h)  # type: ignore[arg-type]
        gas += int(r["gasUsed"]) * int(r["effectiveGasPrice"])
    t = Table("party", "account", "ETH change")
    rows = [(n, parties[n], after[n] - before[n]) for n in parties]
    rows.append(("gas fees (burnt / to the validator)", "-", gas))
    for name, addr, delta in rows:
        t.add_row(name, addr, _signed(delta))
    total = sum(d for _, _, d in rows)
    t.add_row("[bold]total[/]", "", f"[bold]{_signed(total)}[/]")
    console.print(t)


def _assets(studio: Studio, campaign: str) -> list[AssetRow]:
    from mintloom.store.catalog import Catalog

    return list(Catalog(studio.db).assets(campaign))


def _eth(wei: int) -> str:
    return f"{Decimal(wei) / 10**18:f} ETH"


def _signed(wei: int) -> str:
    return ("+" if wei > 0 else "") + f"{Decimal(wei) / 10**18:f}"
