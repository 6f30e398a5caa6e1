"""`mintloom license …`, `mintloom royalties …`, `mintloom register`, `mintloom dataset|model register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mintloom.cli.console import console, studio

license_app = typer.Typer(help="Licence terms: list, attach to a campaign, buy, show.", no_args_is_help=True)
royalties_app = typer.Typer(help="Royalty balances and pull-payment claims.", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets in the on-chain lineage registry.", no_args_is_help=True)
model_app = typer.Typer(help="Models in the on-chain lineage registry.", no_args_is_help=True)


def _eth(wei: int) -> str:
    return f"{wei / 10**18:.6f} ETH"


@license_app.command("terms")
def terms() -> None:
    """List the licence terms registered on chain (ids 1-4 are the standard flavours)."""
    from mintloom.governance.licenses import list_terms

    t = Table("id", "name", "commercial", "derivatives", "AI training", "rev share", "fee", "expiry")
    for d in list_terms(studio().chain_reader(start_node=True)):
        t.add_row(
            str(d["id"]),
            d["name"] or "custom",
            str(d["commercial_use"]),
            str(d["derivatives_allowed"]),
            str(d["ai_training_allowed"]),
            f"{d['rev_share_bps'] / 100:.1f}%",
            _eth(d["minting_fee"]),
            str(d["expiry"] or "never"),
        )
    console.print(t)


@license_app.command("attach")
def attach(
    spec: Annotated[Path, typer.Argument(help="The campaign spec (its governance: section).")],
) -> None:
    """Attach terms, the royalty split and lineage to the campaign's anchored assets (batched)."""
    from mintloom.campaign.spec import load_spec
    from mintloom.governance.publish import publish_campaign

    s = studio()
    s.contracts()
    loaded = load_spec(spec)
    anchor = s.keys.trust_anchor_pem()
    r = publish_campaign(
        s.chain, s.db, loaded.spec, blobs=s.blobs, progress=console.print, trust_anchor_pem=anchor
    )
    console.print(
        f"checkpoint {r.checkpoint_size}: {len(r.terms_ranges)} terms range(s), "
        f"split #{r.split_id} ({', '.join(f'{x.role} {x.bps / 100:.0f}%' for x in r.split)}), "
        f"{len(r.transactions)} transaction(s), gas {r.gas_used}"
    )


@license_app.command("buy")
def buy(
    cid: Annotated[str, typer.Argument(help="Asset CID.")],
    terms_ref: Annotated[str, typer.Option("--terms", help="Terms id or flavour name.")] = "commercial-use",
    amount: Annotated[int, typer.Option(min=1)] = 1,
    to: Annotated[str | None, typer.Option(help="Licensee address (default: the sender).")] = None,
) -> None:
    """Buy a licence token for an asset; the fee goes to the asset's royalty split."""
    from mintloom.market.licensing import buy_license

    p = buy_license(studio().chain, cid, terms_ref, amount=amount, to=to)
    console.print(f"[green]licence {hex(p.license_id)}[/] ×{p.amount} for {_eth(p.fee)} in {p.tx_hash}")
    if p.resumed:
        console.print("  (sent by an interrupted earlier `license buy`: reported, not bought again)")


@license_app.command("show")
def show(cid: Annotated[str, typer.Argument(help="Asset CID.")]) -> None:
    """Terms attached to an asset, its registration and its lineage."""
    from mintloom.governance.licenses import describe_terms
    from mintloom.ledger.assets import token_id

    s = studio()
    chain = s.chain_reader(start_node=True)
    receipt = s.log.receipt(cid)
    if receipt is None:
        raise typer.BadParameter(f"{cid} is not in this workspace's log")
    tid = token_id(cid)
    registered = bool(chain.call("CreativeAssets", "isRegistered", tid))
    owner = "not registered"
    if registered:
        owner = f"registered to {chain.call('CreativeAssets', 'ownerOf', tid)}"
    console.print(f"asset {cid} (leaf {receipt.leaf_index}), token {hex(tid)}: {owner}")
    for t_id in chain.call("LicenseMarket", "termsOfLeaf", receipt.leaf_index):
        d = describe_terms(chain, int(t_id))
        console.print(
            f"  terms #{d['id']} {d['name'] or ''}: commercial={d['commercial_use']} "
            f"derivatives={d['derivatives_allowed']} ai-training={d['ai_training_allowed']} "
            f"fee={_eth(d['minting_fee'])}"
        )
    model, datasets = chain.call("LineageRegistry", "lineageOf", receipt.leaf_index)
    console.print(f"  lineage: model #{model}, datasets {list(datasets)}")


def register(
    cid: Annotated[str, typer.Argument(help="Asset CID (must be in an anchored checkpoint).")],
) -> None:
    """Register an asset as an ERC-721 token by proving its inclusion on chain (lazy registration)."""
    from mintloom.ledger.assets import register_asset
    from mintloom.store.catalog import Catalog

    s = studio()
    r = register_asset(s.chain, s.log, Catalog(s.db), cid, blobs=s.blobs)
    if r.already:
        console.print(f"{cid} was already registered as token {hex(r.token_id)}")
    else:
        console.print(f"[green]registered[/] token {hex(r.token_id)} in {r.tx_hash} (gas {r.gas_used})")


@royalties_app.command("show")
def royalties_show(
    account: Annotated[str | None, typer.Argument(help="Account (default: sender).")] = None,
) -> None:
    """What an account can claim from the royalty vault."""
    from mintloom.governance.royalties import claimable
    from mintloom.ledger.connect import sender_address

    s = studio()
    who = account or sender_address(s.workspace, s.settings)
    console.print(f"{who}: {_eth(claimable(s.chain_reader(start_node=True), who))} claimable")


@royalties_app.command("claim")
def royalties_claim(
    as_contributor: Annotated[
        Path | None, typer.Option(help="Claim your data share from this dataset distribution (JSON).")
    ] = None,
) -> None:
    """Withdraw the sender's royalties (pull payment), or its data share as a dataset contributor."""
    from mintloom.governance.royalties import claim

    if as_contributor is not None:
        from mintloom.cli.dataset import claim_as_contributor

        claim_as_contributor(as_contributor)
        return

    c = claim(studio().chain)
    console.print(f"[green]claimed[/] {_eth(c.amount)} to {c.account} in {c.tx_hash}")


@dataset_app.command("register")
def dataset_register(
    name: Annotated[str, typer.Argument(help="Name the campaign specs use.")],
    datasheet: Annotated[Path, typer.Option(help="Datasheet file (hashed and content-addressed).")],
    license_: Annotated[str, typer.Option("--license", help="Licence, e.g. CC-BY-4.0.")],
    ai_training: Annotated[
        bool, typer.Option(help="Whether AI training and data mining is allowed.")
    ] = False,
) -> None:
    """Register a dataset (datasheet hash, CID, licence, curator = sender). Refuses a name another
    account already holds; a squatter's entry for the same datasheet is never adopted."""
    from mintloom.ledger.lineage import register_dataset

    s = studio()
    s.contracts()
    r = register_dataset(s.chain, s.db, name, datasheet, license=license_, ai_training=ai_training)
    console.print(f"dataset {name!r} is #{r.onchain_id}{'' if r.created else ' (already registered)'}")


@model_app.command("register")
def model_register(
    name: Annotated[str, typer.Argument(help="Name the campaign specs use.")],
    weights: Annotated[Path, typer.Option(help="Weights file (hashed).")],
    trained_on: Annotated[list[str], typer.Option(help="Dataset names it was trained on.")],
    license_: Annotated[str, typer.Option("--license", help="Licence of the model.")],
) -> None:
    """Register a model (weights hash, training datasets, licence, trainer = sender). Refuses a name
    another account already holds; a squatter's entry for the same weights is never adopted."""
    from mintloom.ledger.lineage import register_model

    s = studio()
    s.contracts()
    r = register_model(s.chain, s.db, name, weights, trained_on=trained_on, license=license_)
    console.print(f"model {name!r} is #{r.onchain_id}{'' if r.created else ' (already registered)'}")


@dataset_app.command("pin")
def dataset_pin(
    name: Annotated[str, typer.Argument(help="Name the campaign specs use.")],
    datasheet: Annotated[Path, typer.Option(help="The third party's datasheet file.")],
    curator: Annotated[str, typer.Option(help="Address of the curator whose entry to trust.")],
) -> None:
    """Use a third-party dataset: the entry its curator registered for this datasheet, and no other."""
    from mintloom.ledger.lineage import pin

    s = studio()
    s.contracts()
    r = pin(s.chain, s.db, "dataset", name, content=datasheet, registrant=curator)
    console.print(f"dataset {name!r} is #{r.onchain_id}, curated by {curator}")


@model_app.command("pin")
def model_pin(
    name: Annotated[str, typer.Argument(help="Name the campaign specs use.")],
    weights: Annotated[Path, typer.Option(help="The third party's weights file.")],
    trainer: Annotated[str, typer.Option(help="Address of the trainer whose entry to trust.")],
) -> None:
    """Use a third-party model: the entry its trainer registered for these weights, and no other."""
    from mintloom.ledger.lineage import pin

    s = studio()
    s.contracts()
    r = pin(s.chain, s.db, "model", name, content=weights, registrant=trainer)
    console.print(f"model {name!r} is #{r.onchain_id}, trained by {trainer}")
