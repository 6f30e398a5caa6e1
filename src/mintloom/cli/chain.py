"""`mintloom deploy`, `mintloom anchor`, `mintloom chain status|reconcile`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mintloom.cli.console import console, studio
from mintloom.logs import public_url
from mintloom.studio import Studio

app = typer.Typer(help="Contracts, anchoring and the transaction journal.", no_args_is_help=True)


def deploy(
    reset: Annotated[
        bool,
        typer.Option("--reset", help="First forget this chain's deployments and journal (`chain reset`)."),
    ] = False,
) -> None:
    """Deploy mintloom's contracts on the configured chain (skips those already there)."""
    s = studio()
    if reset:
        _reset(s)
    chain = s.chain
    addresses = s.contracts()
    t = Table("contract", "address", title=f"chain {chain.chain_id}")
    for name, addr in addresses.items():
        t.add_row(name, addr)
    console.print(t)


def anchor() -> None:
    """Deploy mintloom's contracts if missing, anchor the log's current checkpoint and write the
    transaction into every covered receipt."""
    s = studio(password=True)
    s.contracts()  # the explicit deploy step: anchoring itself never deploys
    r = s.anchor()
    if r.already_anchored:
        console.print(
            f"checkpoint {r.size} was already anchored in {r.tx_hash}; {r.receipts_updated} receipts updated"
        )
    else:
        console.print(
            f"[green]anchored[/] checkpoint {r.previous_size} → {r.size} (root {r.root[:16]}…) "
            f"in {r.tx_hash}, block {r.block}, gas {r.gas_used}; {r.receipts_updated} receipts updated"
        )


@app.command()
def status() -> None:
    """Chain id, sender, deployed contracts, anchored checkpoint and pending journal entries
    (read only: pending entries are shown, not settled; `chain reconcile` settles them)."""
    from mintloom.ledger.connect import sender_address
    from mintloom.ledger.journal import Journal

    s = studio()
    chain = s.chain_reader(start_node=True)
    sender = sender_address(s.workspace, s.settings)
    console.print(f"chain {chain.chain_id} at {public_url(chain.rpc_url)}, sender {sender}")
    deployed = chain.addresses()
    for name, addr in deployed.items():
        console.print(f"  {name:18} {addr}")
    if "ProvenanceLog" in deployed:
        size, _ts, block, root = chain.call("ProvenanceLog", "latest")
        console.print(f"anchored checkpoint: size {size}, root {bytes(root).hex()} (block {block})")
    console.print(f"local log: {s.log.size} leaves")
    pending = Journal(s.db).pending(chain.chain_id, sender)
    console.print(f"pending journal entries: {len(pending)}")


def _reset(s: Studio) -> None:
    dropped = s.reset_chain()
    console.print(f"[yellow]chain reset[/]: deployments forgotten, {dropped} journal entries orphaned")


@app.command()
def reset(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the contracts will be deployed anew.")] = False,
) -> None:
    """Forget this chain's deployments, journal and on-chain ids after mintloom refused it as
    reset (its history lost and not replayable); `mintloom deploy` then deploys anew."""
    if not yes:
        from mintloom.errors import LedgerError

        raise LedgerError(
            "`chain reset` forgets every contract and transaction this workspace recorded on the chain",
            hint="run it again with --yes if the chain was really wiped",
        )
    _reset(studio())


@app.command()
def reconcile() -> None:
    """Settle transactions a crashed run left pending: confirm, rebroadcast or mark replaced."""
    s = studio()
    outcomes = s.chain.reconcile()
    if not outcomes:
        console.print("journal is clean: nothing pending")
    for tx, outcome in outcomes:
        console.print(f"{tx}: {outcome}")


def receipt(
    cid: Annotated[str, typer.Argument(help="Asset CID.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file (e.g. FILE.receipt.json).")
    ] = None,
) -> None:
    """An asset's log receipt (JSON): inclusion proof, signed checkpoint, anchoring transaction.
    Shipped beside the file as NAME.receipt.json, it lets anyone verify without this workspace."""
    from mintloom.errors import LogError

    r = studio().log.receipt(cid)
    if r is None:
        raise LogError(f"{cid} has no receipt in this workspace's log")
    text = r.model_dump_json(indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(
            f"receipt written to {out}{'' if r.anchor else ' (not anchored yet: run `mintloom anchor`)'}"
        )
