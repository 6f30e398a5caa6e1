"""`mintloom assets publicise|privatise|public`: which assets have a public page (``/a/<cid>``)."""

from __future__ import annotations

from typing import Annotated

import typer

from mintloom.cli.console import console, studio
from mintloom.store.visibility import Visibility

app = typer.Typer(help="Give assets a public page, or take it away.", no_args_is_help=True)


def _visibility() -> Visibility:
    return Visibility(studio().db)


@app.command()
def publicise(cid: Annotated[str, typer.Argument(help="The asset's CID (an image or audio).")]) -> None:
    """Mark an asset public: `mintloom serve` shows it at /a/CID to anyone."""
    row = _visibility().publicise(cid)
    console.print(f"asset [bold]{row.cid}[/] ({row.kind}) is public at /a/{row.cid}")


@app.command()
def privatise(cid: Annotated[str, typer.Argument(help="The asset's CID.")]) -> None:
    """Take an asset's public page away (its page answers 404 from the next request on)."""
    was = _visibility().privatise(cid)
    console.print(f"asset [bold]{cid}[/] is private" + ("" if was else " (it was not public)"))


@app.command("public")
def list_public() -> None:
    """List the assets marked public."""
    for cid in _visibility().public_cids():
        console.print(cid, markup=False, highlight=False)
