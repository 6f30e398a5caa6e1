"""`mintloom market …`: signed listings and offers, one-signature campaign listings, buy, accept,
cancel, and orders shared as JSON. A refused order exits 8 (market) and sends nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from mintloom.cli.console import console, studio
from mintloom.cli.share_args import MAX_UINT256, ShareToken, base_units, share_units
from mintloom.errors import MarketError

if TYPE_CHECKING:
    from mintloom.ledger.reader import ChainReader
    from mintloom.market.book import SignedOrder
    from mintloom.market.catalog import SignedMerkleListing
    from mintloom.studio import Studio

app = typer.Typer(help="Marketplace: signed listings and offers settled on chain.", no_args_is_help=True)

Ttl = Annotated[float, typer.Option("--days", min=0.001, max=36500, help="Days until the order expires.")]
Currency = Annotated[str, typer.Option(help="ERC-20 address the price is in (18 decimals); default ETH.")]
ETH_ADDRESS = "0x0000000000000000000000000000000000000000"
Quantity = Annotated[int, typer.Option(min=1, max=MAX_UINT256, help="Licences in the lot (sold in parts).")]


def wei(eth: str) -> int:
    """``0.1`` (ETH) → wei, exactly; refuses what is not a positive whole number of wei."""
    return base_units(eth, whole="ETH", unit="wei", hint="e.g. --price 0.1", error=MarketError)


def _order_file(path: Path) -> Any:
    """An order JSON file's content: a regular file of at most 1 MiB (not a FIFO or /dev/zero)."""
    from mintloom.store.files import MAX_SMALL_TEXT_BYTES, read_regular

    raw = read_regular(path, limit=MAX_SMALL_TEXT_BYTES, what="order file", error=MarketError)
    try:
        return json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MarketError(f"{path} is not JSON: {exc}") from exc


def _eth(amount: int, currency: str = ETH_ADDRESS) -> str:
    unit = "ETH" if currency.lower() == ETH_ADDRESS else f"of {currency[:10]}…"
    return f"{Decimal(amount) / 10**18:f} {unit}"


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
        return _parse(_order_file(Path(ref)))
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
    price: Annotated[str, typer.Option(help="Price in ETH (or in the ERC-20 of --currency).")],
    currency: Currency = ETH_ADDRESS,
    days: Ttl = 7,
) -> None:
    """Sign a listing of one asset (approving the Marketplace once)."""
    from mintloom.market.service import list_asset

    s = studio()
    o = list_asset(s.chain, s.db, cid, wei(price), currency=currency, ttl=int(days * 86400))
    console.print(f"[green]listed[/] {cid} for {_eth(o.order.unit_price, currency)}: order {_hash(o)}")


@app.command("list-licences")
def list_licences(
    cid: Annotated[str, typer.Argument(help="The asset whose licences (ERC-1155) you hold.")],
    *,
    terms: Annotated[str, typer.Option(help="Licence terms: a flavour name or a terms id.")],
    quantity: Quantity,
    price: Annotated[str, typer.Option(help="Price of ONE licence in ETH (or the --currency ERC-20).")],
    currency: Currency = ETH_ADDRESS,
    days: Ttl = 7,
) -> None:
    """Sign a listing of a lot of licences; buyers take any part of it (`buy ORDER --quantity n`)."""
    from mintloom.governance.licenses import resolve_terms
    from mintloom.market.service import list_licences as sign_lot

    s = studio()
    o = sign_lot(
        s.chain, s.db, cid, resolve_terms(terms), quantity=quantity, unit_price=wei(price),
        currency=currency, ttl=int(days * 86400),
    )  # fmt: skip
    each = _eth(o.order.unit_price, currency)
    console.print(f"[green]listed[/] {quantity} licence(s) of {cid} at {each} each: order {_hash(o)}")


@app.command("list-shares")
def list_shares_(
    shares: Annotated[str, typer.Argument(help="Whole shares in the lot (fractions allowed: 12.5).")],
    *,
    price: Annotated[str, typer.Option(help="Price of ONE whole share in ETH (or the --currency ERC-20).")],
    token: ShareToken = None,
    currency: Currency = ETH_ADDRESS,
    days: Ttl = 7,
) -> None:
    """Sign a listing of a lot of a family's shares (ERC-20); buyers take any part of it
    (`buy-shares ORDER N`). Revenue accrued before a sale stays yours."""
    from mintloom.market.service import list_shares

    s = studio()
    o = list_shares(
        s.chain, s.db, share_units(shares), wei(price), token=token, currency=currency, ttl=int(days * 86400)
    )
    each = _eth(o.order.unit_price, currency)
    console.print(f"[green]listed[/] {shares} share(s) at {each} a share: order {_hash(o)}")


@app.command("buy-shares")
def buy_shares_(
    order: Annotated[str, typer.Argument(help="Share lot hash (or prefix), or an order JSON file.")],
    shares: Annotated[str, typer.Argument(help="Whole shares to take from the lot (fractions allowed).")],
    price: Annotated[str | None, typer.Option(help="The price of one share you agree to (checked).")] = None,
) -> None:
    """Buy part (or all) of a share lot; the price must come out exact to the wei."""
    from mintloom.market.book import SignedOrder
    from mintloom.market.orders import Kind
    from mintloom.market.service import buy

    s = studio()
    o = _find(s, s.chain, order)
    if not isinstance(o, SignedOrder) or o.order.kind is not Kind.SHARES:
        raise MarketError("that order is not a share lot", hint="`mintloom market buy` for other orders")
    agreed = wei(price) if price is not None else None
    sale = buy(s.chain, o, quantity=share_units(shares), agreed_price=agreed)
    resumed = " (sent by an interrupted run: reported, not bought again)" if sale.resumed else ""
    console.print(
        f"[green]bought[/] {shares} share(s) for {_eth(sale.price, o.order.currency)} "
        f"in {sale.tx.tx_hash} (gas {sale.tx.gas_used}){resumed}"
    )


@app.command("offer-shares")
def offer_shares_(
    shares: Annotated[str, typer.Argument(help="Whole shares wanted (fractions allowed).")],
    *,
    price: Annotated[str, typer.Option(help="Price of ONE whole share in the ERC-20 (18 decimals).")],
    currency: Annotated[str, typer.Option(help="The ERC-20 paid (offers are never ETH).")],
    token: ShareToken = None,
    days: Ttl = 7,
) -> None:
    """Sign an offer on a family's shares; holders sell into it in parts (`accept-shares`)."""
    from mintloom.market.service import offer_shares

    units, each = share_units(shares), wei(price)  # refused before the chain is reached
    s = studio()
    o = offer_shares(s.chain, s.db, units, each, currency, token=token, ttl=int(days * 86400))
    console.print(f"[green]offered[/] {wei(price)} of {currency} a share for {shares}: order {_hash(o)}")


@app.command("accept-shares")
def accept_shares_(
    order: Annotated[str, typer.Argument(help="Share offer hash (or prefix), or an offer JSON file.")],
    shares: Annotated[str, typer.Argument(help="Whole shares you sell into it (fractions allowed).")],
    price: Annotated[str | None, typer.Option(help="The price of one share you agree to (checked).")] = None,
) -> None:
    """Sell part (or all) of what a share offer wants; your accrued revenue stays yours."""
    from mintloom.market.book import SignedOrder
    from mintloom.market.service import accept_shares

    s = studio()
    o = _find(s, s.chain, order)
    if not isinstance(o, SignedOrder):
        raise MarketError("a campaign listing is not an offer", hint="use `mintloom market buy`")
    agreed = wei(price) if price is not None else None
    sale = accept_shares(s.chain, s.db, o, share_units(shares), agreed_price=agreed)
    resumed = " (sent by an interrupted run: reported, not sold again)" if sale.resumed else ""
    paid = _eth(sale.price, o.order.currency)
    console.print(f"[green]sold[/] {shares} share(s) for {paid} in {sale.tx.tx_hash}{resumed}")


@app.command("list-campaign")
def list_campaign(
    campaign: Annotated[str, typer.Argument(help="Campaign name.")],
    price_per_: Annotated[
        str, typer.Option("--price-per", help="Prices: image=0.1,copy=0.02 (kinds or formats).")
    ],
    licence: Annotated[
        str | None, typer.Option(help="Sell licences under these terms (flavour or id), not the assets.")
    ] = None,
    currency: Currency = ETH_ADDRESS,
    days: Ttl = 30,
) -> None:
    """List every anchored asset of a campaign with ONE signature (nothing is sent until a sale).
    With --licence, buyers get licences under those terms, issued when they buy."""
    from mintloom.governance.licenses import resolve_terms
    from mintloom.market.service import list_campaign as sign_listing

    s = studio()
    s.contracts()
    prices, terms_id = price_per(price_per_), resolve_terms(licence) if licence else 0
    o = sign_listing(
        s.chain, s.db, s.log, s.blobs, campaign, prices=prices, terms_id=terms_id, currency=currency,
        ttl=int(days * 86400),
    )  # fmt: skip
    counts = {n: sum(1 for e in o.entries if e.price_class == i) for i, n in enumerate(o.price_names)}
    shown = ", ".join(f"{counts[n]} {n} at {_eth(p, currency)}" for n, p in prices.items())
    what = f"licences (terms {terms_id}) of campaign" if terms_id else "campaign"
    console.print(f"[green]listed[/] {what} {campaign} (checkpoint {o.listing.checkpoint_size}): {shown}")
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
    t = Table("order", "side", "what", "price", "signer", "left")
    for o in load_orders(s.db, chain.chain_id):
        t.add_row(
            _hash(o)[:18], o.order.side.name.lower(), _what(o), _eth(o.order.unit_price, o.order.currency),
            o.order.signer, _order_left(chain, o),
        )  # fmt: skip
    for m in load_listings(s.db, chain.chain_id):
        ml = m.listing
        named = zip(m.price_names, ml.prices, strict=True)
        prices = ", ".join(f"{n} {_eth(p, ml.currency)}" for n, p in named)
        sold = f"licences (terms {ml.terms_id})" if ml.terms_id else "assets"
        what = f"campaign {m.campaign} ({len(m.entries)} {sold})"
        t.add_row(_hash(m)[:18], "merkle", what, prices, ml.signer, _left(chain, m.digest, None))
    console.print(t)


def _what(o: SignedOrder) -> str:
    from mintloom.market.orders import Kind

    order = o.order
    if order.kind is Kind.ASSET_RANGE:
        return f"leaves {order.from_leaf}-{order.to_leaf}"
    if order.kind is Kind.SHARES:
        return f"{Decimal(order.amount) / 10**18:f} share(s) of {hex(order.token_id)[:12]}… (price a share)"
    token = hex(order.token_id)[:18] + "…"
    return (
        f"{order.amount} licence(s) {token} terms {order.terms_id}" if order.kind is Kind.LICENCE else token
    )


def _order_left(chain: ChainReader, o: SignedOrder) -> str:
    """Units left; an asset listing keeps no fill record and ends once its token changed hands."""
    from mintloom.market.orders import Kind, Side

    left, order = _left(chain, o.digest, o.order.amount), o.order
    if order.kind is Kind.SHARES and left != "cancelled":
        done = min(int(chain.call("Marketplace", "filled", o.digest)), order.amount)
        return f"{Decimal(order.amount - done) / 10**18:f} of {Decimal(order.amount) / 10**18:f}"
    if order.kind is not Kind.ASSET or order.side is not Side.LISTING or left == "cancelled":
        return left
    moved = int(chain.call("CreativeAssets", "transferCountOf", order.token_id)) != order.terms_id
    return "0 of 1 (ended)" if moved else left


def _left(chain: ChainReader, digest: bytes, amount: int | None) -> str:
    """Units still on offer (``amount`` None: a campaign listing, open until cancelled or expired)."""
    from mintloom.market.service import CANCELLED, MARKET

    n = int(chain.call(MARKET, "filled", digest))
    if n == CANCELLED:
        return "cancelled"
    return "open" if amount is None else f"{max(amount - n, 0)} of {amount}"


@app.command("buy")
def buy_(
    order: Annotated[str, typer.Argument(help="Order hash (or prefix), or an order JSON file.")],
    cid: Annotated[str | None, typer.Option(help="The asset to buy from a campaign listing.")] = None,
    price: Annotated[str | None, typer.Option(help="The unit price you agree to (checked).")] = None,
    quantity: Annotated[int, typer.Option(min=1, max=MAX_UINT256, help="Licences to take from a lot.")] = 1,
) -> None:
    """Buy through a listing (any part of a licence lot); from a campaign listing, the asset is
    proven and minted to you (or its licences issued to you) and paid, in one transaction."""
    from mintloom.market.book import SignedOrder
    from mintloom.market.service import buy, buy_merkle

    s = studio()
    o = _find(s, s.chain, order)
    agreed = wei(price) if price is not None else None
    if isinstance(o, SignedOrder):
        sale, currency = buy(s.chain, o, quantity=quantity, agreed_price=agreed), o.order.currency
    elif cid is None:
        raise MarketError("a campaign listing needs --cid (the asset you pick)")
    else:
        sale = buy_merkle(s.chain, s.log, o, cid, quantity=quantity, agreed_price=agreed)
        currency = o.listing.currency
    resumed = " (sent by an interrupted run: reported, not bought again)" if sale.resumed else ""
    console.print(
        f"[green]bought[/] {sale.quantity} × token {hex(sale.token_id)} for {_eth(sale.price, currency)} "
        f"in {sale.tx.tx_hash} (gas {sale.tx.gas_used}){resumed}"
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
    resumed = " (sent by an interrupted run: reported, not sold again)" if sale.resumed else ""
    console.print(
        f"[green]sold[/] {cid} for {_eth(sale.price, o.order.currency)} in {sale.tx.tx_hash}{resumed}"
    )


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
        done = cancel_all(s.chain, s.db)
        console.print(f"[green]cancelled[/] every earlier order (counter {done.counter})")
        for h in done.tampered:
            console.print(f"[yellow]skipped[/] kept order {h}: its catalog row was changed (not read)")
        return
    found = [_find(s, s.chain, ref) for ref in orders or []]
    if not found:
        raise MarketError("name orders to cancel, or pass --all")
    plain = [o for o in found if isinstance(o, SignedOrder)]
    if plain:
        cancel(s.chain, s.db, plain)
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

    o = _parse(_order_file(file))
    s = studio()
    check_domain(s.chain_reader(start_node=True), o.domain)
    if isinstance(o, SignedOrder):
        save_order(s.db, o)
    else:
        save_listing(s.db, o)
    console.print(f"[green]imported[/] order {_hash(o)}")
