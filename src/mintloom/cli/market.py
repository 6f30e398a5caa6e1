"""`mintloom market …`: signed listings and offers, one-signature campaign listings, buy, accept,
cancel, and orders shared as JSON. A refused order exits 8 (market) and sends nothing."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from mintloom.cli.console import console, studio
from mintloom.errors import MarketError

if TYPE_CHECKING:
    from mintloom.ledger.reader import ChainReader
    from mintloom.market.book import SignedOrder
    from mintloom.market.catalog import SignedMerkleListing
    from mintloom.studio import Studio

app = typer.Typer(help="Marketplace: signed listings and offers settled on chain.", no_args_is_help=True)

Ttl = Annotated[float, typer.Option("--days", min=0.001, help="Days until the order expires.")]


def wei(eth: str) -> int:
    """``0.1`` (ETH) → wei; refuses what is not a positive amount."""
    try:
        value = Decimal(eth) * 10**18
    except InvalidOperation as exc:
        raise MarketError(f"not an amount of ETH: {eth!r}", hint="e.g. --price 0.1") from exc
    if value <= 0 or value != value.to_integral_value():
        raise MarketError(f"not a positive amount of wei: {eth!r}")
    return int(value)


def _eth(amount: int) -> str:
    return f"{Decimal(amount) / 10**18:f} ETH"


def price_per(text: str) -> dict[str, int]:
    """``image=0.1,copy=0.02`` → {kind or format: wei}, in the order given (its price classes)."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, amount = part.partition("=")
        if not sep or not name.strip():
            raise MarketError(f"not NAME=PRICE: {part!r}", hint="--price-per image=0.1,copy=0.02")
        out[name.strip()] = wei(amount.strip())
    return out


def _find(s: Studio, chain: ChainReader, ref: str) -> SignedOrder | SignedMerkleListing:
    """An order by hash (or unique hash prefix) in the catalog, or read from a JSON file."""
    if Path(ref).is_file():
        return _parse(json.loads(Path(ref).read_text(encoding="utf-8")))
    from mintloom.market.book import load_orders
    from mintloom.market.catalog import load_listings

    every: list[SignedOrder | SignedMerkleListing] = [*load_orders(s.db, chain.chain_id)]
    every += load_listings(s.db, chain.chain_id)
    hits = [o for o in every if ("0x" + o.digest.hex()).startswith(ref.lower())]
    if len(hits) != 1:
        raise MarketError(f"{len(hits)} orders match {ref!r}", hint="`mintloom market offers` lists them")
    return hits[0]


def _parse(data: Any) -> SignedOrder | SignedMerkleListing:
    from mintloom.market.book import from_json
    from mintloom.market.catalog import listing_from_json

    if not isinstance(data, dict):
        raise MarketError("not a mintloom order (a JSON object is expected)")
    return listing_from_json(data) if data.get("type") == "merkle-listing" else from_json(data)


def _hash(o: SignedOrder | SignedMerkleListing) -> str:
    return "0x" + o.digest.hex()


@app.command("list")
def list_(
    cid: Annotated[str, typer.Argument(help="Your asset's CID (a registered token you hold).")],
    price: Annotated[str, typer.Option(help="Price in ETH.")],
    days: Ttl = 7,
) -> None:
    """Sign a listing of one asset (approving the Marketplace once)."""
    from mintloom.market.service import list_asset

    s = studio()
    o = list_asset(s.chain, s.db, cid, wei(price), ttl=int(days * 86400))
    console.print(f"[green]listed[/] {cid} for {_eth(o.order.unit_price)}: order {_hash(o)}")


@app.command("list-campaign")
def list_campaign(
    campaign: Annotated[str, typer.Argument(help="Campaign name.")],
    price_per_: Annotated[
        str, typer.Option("--price-per", help="Prices: image=0.1,copy=0.02 (kinds or formats).")
    ],
    days: Ttl = 30,
) -> None:
    """List every anchored asset of a campaign with ONE signature (nothing is sent until a sale)."""
    from mintloom.market.service import list_campaign as sign_listing

    s = studio()
    s.contracts()
    prices = price_per(price_per_)
    o = sign_listing(s.chain, s.db, s.log, s.blobs, campaign, prices=prices, ttl=int(days * 86400))
    counts = {n: sum(1 for e in o.entries if e.price_class == i) for i, n in enumerate(o.price_names)}
    shown = ", ".join(f"{counts[n]} {n} at {_eth(p)}" for n, p in prices.items())
    console.print(f"[green]listed[/] campaign {campaign} (checkpoint {o.listing.checkpoint_size}): {shown}")
    console.print(f"  one signature, order {_hash(o)}")


@app.command()
def offer(
    price: Annotated[str, typer.Option(help="Price in units of the ERC-20 (18 decimals).")],
    currency: Annotated[str, typer.Option(help="The ERC-20 paid (offers are never ETH).")],
    cid: Annotated[str | None, typer.Option(help="Offer on this asset.")] = None,
    campaign: Annotated[str | None, typer.Option(help="Offer on any asset of this campaign.")] = None,
    days: Ttl = 7,
) -> None:
    """Sign an offer on one asset or on any asset of a campaign (collection-wide)."""
    from mintloom.market.service import make_offer
    from mintloom.store.catalog import Catalog

    s = studio()
    leaves = None
    if campaign is not None:
        idx = [a.leaf_index for a in Catalog(s.db).assets(campaign) if a.leaf_index is not None]
        if not idx:
            raise MarketError(f"campaign {campaign} has no logged asset")
        leaves = (min(idx), max(idx) + 1)
    o = make_offer(s.chain, s.db, wei(price), currency, cid=cid, leaves=leaves, ttl=int(days * 86400))
    console.print(f"[green]offered[/] {wei(price)} of {currency}: order {_hash(o)}")


@app.command()
def offers() -> None:
    """The orders kept in this workspace (listings, offers, campaign listings) and their state."""
    from mintloom.market.book import load_orders
    from mintloom.market.catalog import load_listings

    s = studio(read_only=True)
    chain = s.chain_reader(start_node=True)
    t = Table("order", "side", "what", "price", "signer", "filled")
    for o in load_orders(s.db, chain.chain_id):
        what = (
            hex(o.order.token_id)[:18] + "…"
            if o.order.token_id
            else f"leaves {o.order.from_leaf}-{o.order.to_leaf}"
        )
        t.add_row(
            _hash(o)[:18],
            o.order.side.name.lower(),
            what,
            _eth(o.order.unit_price),
            o.order.signer,
            _filled(chain, o.digest),
        )
    for m in load_listings(s.db, chain.chain_id):
        prices = ", ".join(f"{n} {_eth(p)}" for n, p in zip(m.price_names, m.listing.prices, strict=True))
        what = f"campaign {m.campaign} ({len(m.entries)} assets)"
        t.add_row(_hash(m)[:18], "merkle", what, prices, m.listing.signer, _filled(chain, m.digest))
    console.print(t)


def _filled(chain: ChainReader, digest: bytes) -> str:
    from mintloom.market.service import CANCELLED, MARKET

    n = int(chain.call(MARKET, "filled", digest))
    return "cancelled" if n == CANCELLED else str(n)


@app.command("buy")
def buy_(
    order: Annotated[str, typer.Argument(help="Order hash (or prefix), or an order JSON file.")],
    cid: Annotated[str | None, typer.Option(help="The asset to buy from a campaign listing.")] = None,
    price: Annotated[str | None, typer.Option(help="The price in ETH you agree to (checked).")] = None,
) -> None:
    """Buy through a listing; from a campaign listing, the asset is proven, minted to you and paid."""
    from mintloom.market.book import SignedOrder
    from mintloom.market.service import buy, buy_merkle

    s = studio()
    o = _find(s, s.chain, order)
    agreed = wei(price) if price is not None else None
    if isinstance(o, SignedOrder):
        sale = buy(s.chain, o, agreed_price=agreed)
    elif cid is None:
        raise MarketError("a campaign listing needs --cid (the asset you pick)")
    else:
        sale = buy_merkle(s.chain, s.log, o, cid, agreed_price=agreed)
    console.print(
        f"[green]bought[/] token {hex(sale.token_id)} for {_eth(sale.price)} "
        f"in {sale.tx.tx_hash} (gas {sale.tx.gas_used})"
    )


@app.command("accept")
def accept_(
    order: Annotated[str, typer.Argument(help="Offer hash (or prefix), or an offer JSON file.")],
    cid: Annotated[str, typer.Argument(help="Your asset to sell to it.")],
    price: Annotated[str | None, typer.Option(help="The price you agree to (checked).")] = None,
) -> None:
    """Sell your asset to an offer (its signer pays in its ERC-20)."""
    from mintloom.market.book import SignedOrder
    from mintloom.market.service import accept

    s = studio()
    o = _find(s, s.chain, order)
    if not isinstance(o, SignedOrder):
        raise MarketError("a campaign listing is not an offer", hint="use `mintloom market buy`")
    sale = accept(s.chain, o, cid, agreed_price=wei(price) if price is not None else None)
    console.print(f"[green]sold[/] {cid} for {sale.price} in {sale.tx.tx_hash}")


@app.command("cancel")
def cancel_(
    orders: Annotated[list[str] | None, typer.Argument(help="Order hashes (or prefixes) to cancel.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Cancel every order you signed so far.")] = False,
) -> None:
    """Cancel your orders one by one, or all of them at once (bulk cancel)."""
    from mintloom.market.book import SignedOrder
    from mintloom.market.service import cancel, cancel_all, cancel_listing

    s = studio()
    if all_:
        console.print(f"[green]cancelled[/] every earlier order (counter {cancel_all(s.chain)})")
        return
    found = [_find(s, s.chain, ref) for ref in orders or []]
    if not found:
        raise MarketError("name orders to cancel, or pass --all")
    plain = [o for o in found if isinstance(o, SignedOrder)]
    if plain:
        cancel(s.chain, plain)
    for m in (o for o in found if not isinstance(o, SignedOrder)):
        cancel_listing(s.chain, m)
    console.print(f"[green]cancelled[/] {len(found)} order(s)")


@app.command("export")
def export(
    order: Annotated[str, typer.Argument(help="Order hash (or prefix).")],
    out: Annotated[Path, typer.Option(help="JSON file to write.")],
) -> None:
    """Write an order as JSON to share it off chain (its signature travels with it)."""
    s = studio(read_only=True)
    o = _find(s, s.chain_reader(start_node=True), order)
    out.write_text(json.dumps(o.to_json(), indent=2, sort_keys=True), encoding="utf-8")
    console.print(f"order {_hash(o)} written to {out}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="An order JSON file.", exists=True, dir_okay=False)],
) -> None:
    """Keep a shared order after checking it (signature fields, catalog, chain, Marketplace)."""
    from mintloom.market.book import SignedOrder, save_order
    from mintloom.market.catalog import save_listing
    from mintloom.market.service import check_domain

    s = studio()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MarketError(f"{file} is not JSON: {exc}") from exc
    o = _parse(data)
    check_domain(s.chain_reader(start_node=True), o.domain)
    if isinstance(o, SignedOrder):
        save_order(s.db, o)
    else:
        save_listing(s.db, o)
    console.print(f"[green]imported[/] order {_hash(o)}")
