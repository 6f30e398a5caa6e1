"""``/market``: the marketplace's open listings and offers (as kept in the catalog) and its sales
history (from the chain). Read-only, scope ``read``; public fields only: orders carry addresses,
token ids, CIDs and prices, never an audience segment or personalised copy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from mintloom.api.auth import AUTH_RESPONSES, READ
from mintloom.api.deps import CatalogDep
from mintloom.api.errors import ERRORS, NotFoundError, parse_cid_param
from mintloom.ledger.assets import token_id
from mintloom.ledger.reader import ChainReader
from mintloom.market.book import SignedOrder, load_orders
from mintloom.market.catalog import SignedMerkleListing, load_listings
from mintloom.market.history import SaleRecord, owner_of, sales
from mintloom.market.orders import Kind, Side
from mintloom.studio import Studio

router = APIRouter(prefix="/market", tags=["market"], dependencies=[READ], responses=AUTH_RESPONSES)
CANCELLED = 2**256 - 1


class OrderOut(BaseModel):
    """A listing or offer of one asset (``token_id``) or of a campaign's leaves."""

    order_hash: str
    side: str
    kind: str
    signer: str
    token_id: str | None
    leaves: tuple[int, int] | None
    currency: str
    price: str
    """Wei (or ERC-20 units) per unit, as a decimal string."""
    amount: int
    """Units signed for: 1 for an asset, the lot's size for licences."""
    remaining: int
    """Units still to fill (0 once filled, cancelled, ended or expired)."""
    expiry: int
    state: str


class CampaignListingOut(BaseModel):
    """A Merkle listing: one signature over a campaign's anchored assets."""

    order_hash: str
    campaign: str
    signer: str
    checkpoint_size: int
    catalog_root: str
    prices: dict[str, str]
    assets: int
    expiry: int
    state: str


class ListingsOut(BaseModel):
    listings: list[OrderOut]
    campaign_listings: list[CampaignListingOut]


class SaleOut(BaseModel):
    order_hash: str
    token_id: str
    seller: str | None
    buyer: str
    price: str
    royalty: str | None
    block: int
    tx_hash: str


class AssetSalesOut(BaseModel):
    cid: str
    token_id: str
    owner: str | None
    sales: list[SaleOut]


def _reader(request: Request) -> ChainReader:
    studio: Studio = request.app.state.studio
    return studio.chain_reader()


def _state(chain: ChainReader, digest: bytes, amount: int | None, expiry: int) -> str:
    """open, filled, cancelled or expired (``amount`` None: a Merkle listing, never used up)."""
    filled = int(chain.call("Marketplace", "filled", digest))
    if filled == CANCELLED:
        return "cancelled"
    if amount is not None and filled >= amount:
        return "filled"
    return "expired" if expiry <= int(chain.w3.eth.get_block("latest")["timestamp"]) else "open"


def _listing_state(chain: ChainReader, s: SignedOrder, sold: set[str]) -> str | None:
    """An asset listing keeps no fill record: it is filled if a sale names it, and ended once its
    token changed hands some other way (it names the token's transfer count)."""
    o = s.order
    if o.side is not Side.LISTING or o.kind is not Kind.ASSET:
        return None
    if "0x" + s.digest.hex() in sold:
        return "filled"
    moved = int(chain.call("CreativeAssets", "transferCountOf", o.token_id)) != o.terms_id
    return "ended" if moved else None


def _order(chain: ChainReader, s: SignedOrder, sold: set[str]) -> OrderOut:
    o = s.order
    ranged = o.token_id == 0
    state = _listing_state(chain, s, sold) or _state(chain, s.digest, o.amount, o.expiry)
    return OrderOut(
        order_hash="0x" + s.digest.hex(), side=o.side.name.lower(), kind=o.kind.name.lower(), signer=o.signer,
        token_id=None if ranged else hex(o.token_id), leaves=(o.from_leaf, o.to_leaf) if ranged else None,
        currency=o.currency, price=str(o.unit_price), amount=o.amount,
        remaining=_remaining(chain, s, state), expiry=o.expiry, state=state,
    )  # fmt: skip


def _remaining(chain: ChainReader, s: SignedOrder, state: str) -> int:
    """Units a buyer (or seller) can still fill: a licence lot sells in parts."""
    if state != "open":
        return 0
    if s.order.kind is Kind.ASSET and s.order.side is Side.LISTING:
        return 1  # an asset listing keeps no fill record: open means unsold
    return s.order.amount - int(chain.call("Marketplace", "filled", s.digest))


def _campaign(chain: ChainReader, m: SignedMerkleListing) -> CampaignListingOut:
    o = m.listing
    return CampaignListingOut(
        order_hash="0x" + m.digest.hex(), campaign=m.campaign, signer=o.signer,
        checkpoint_size=o.checkpoint_size, catalog_root="0x" + o.catalog_root.hex(),
        prices={n: str(p) for n, p in zip(m.price_names, o.prices, strict=True)}, assets=len(m.entries),
        expiry=o.expiry, state=_state(chain, m.digest, None, o.expiry),
    )  # fmt: skip


def _sale(s: SaleRecord) -> SaleOut:
    return SaleOut(
        order_hash=s.order_hash, token_id=hex(s.token_id), seller=s.seller, buyer=s.buyer, price=str(s.price),
        royalty=None if s.royalty is None else str(s.royalty), block=s.block, tx_hash=s.tx_hash,
    )  # fmt: skip


@router.get("/listings", responses=ERRORS)
def listings(request: Request, campaign: Annotated[str | None, Query(max_length=64)] = None) -> ListingsOut:
    """Signed listings of single assets and campaign-wide (Merkle) listings, with their state."""
    chain = _reader(request)
    db = request.app.state.studio.db
    sold = {s.order_hash for s in sales(chain)}
    plain = [_order(chain, s, sold) for s in load_orders(db, chain.chain_id) if s.order.side is Side.LISTING]
    merkle = [_campaign(chain, m) for m in load_listings(db, chain.chain_id, campaign)]
    return ListingsOut(listings=[] if campaign else plain, campaign_listings=merkle)


@router.get("/offers", responses=ERRORS)
def offers(request: Request) -> list[OrderOut]:
    """Signed offers on one asset or on any asset of a campaign, with their state."""
    chain = _reader(request)
    db = request.app.state.studio.db
    return [_order(chain, s, set()) for s in load_orders(db, chain.chain_id) if s.order.side is Side.OFFER]


@router.get("/orders/{order_hash}", responses=ERRORS)
def order(
    request: Request, order_hash: Annotated[str, Path(pattern="^0x[0-9a-fA-F]{64}$")]
) -> dict[str, object]:
    """One order as shareable JSON (what `mintloom market import` reads)."""
    chain = _reader(request)
    db = request.app.state.studio.db
    every: list[SignedOrder | SignedMerkleListing] = [*load_orders(db, chain.chain_id)]
    every += load_listings(db, chain.chain_id)
    for o in every:
        if "0x" + o.digest.hex() == order_hash.lower():
            return o.to_json()
    raise NotFoundError(f"no order {order_hash}", hint="GET /market/listings or /market/offers lists them")


@router.get("/sales", responses=ERRORS)
def all_sales(request: Request) -> list[SaleOut]:
    """Every settled sale on this chain's Marketplace, oldest first."""
    return [_sale(s) for s in sales(_reader(request))]


@router.get("/assets/{cid}/sales", responses=ERRORS)
def asset_sales(request: Request, cid: str, catalog: CatalogDep) -> AssetSalesOut:
    """An asset's sales and its current owner (None until it is registered)."""
    parsed = parse_cid_param(cid)
    if catalog.asset(parsed) is None:
        raise NotFoundError(f"no asset {parsed} in this catalog", hint="GET /assets lists them")
    chain, tid = _reader(request), token_id(parsed)
    return AssetSalesOut(
        cid=parsed, token_id=hex(tid), owner=owner_of(chain, tid), sales=[_sale(s) for s in sales(chain, tid)]
    )
