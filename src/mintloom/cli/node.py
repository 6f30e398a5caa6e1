"""`mintloom node start|stop|status`: the embedded anvil chain of the workspace."""

from __future__ import annotations

import typer

from mintloom.cli.console import console, workspace
from mintloom.ledger.node import AnvilNode

app = typer.Typer(help="Start, stop and inspect the embedded anvil chain.", no_args_is_help=True)


def _node() -> AnvilNode:
    ws = workspace()
    s = ws.settings().chain
    return AnvilNode(ws.chain_dir, port=s.anvil_port, state_interval=s.state_interval)


@app.command()
def start() -> None:
    """Start the workspace's anvil node (or report the one already running)."""
    info = _node().start()
    console.print(f"anvil running: pid {info.pid}, {info.rpc_url}, chain id {info.chain_id}")


@app.command()
def stop() -> None:
    """Stop the workspace's anvil node; its state is kept in .mintloom/chain/."""
    console.print("anvil stopped" if _node().stop() else "anvil was not running")


@app.command()
def status() -> None:
    """Show whether the workspace's anvil node is running."""
    info = _node().running()
    if info is None:
        console.print("anvil is not running")
        raise typer.Exit(1)
    console.print(f"anvil running: pid {info.pid}, {info.rpc_url}, chain id {info.chain_id}")
