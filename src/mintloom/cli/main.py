"""`mintloom` entry point: Typer app, subcommand registration and the one error boundary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from mintloom import __version__
from mintloom.cli import assets as assets_cli
from mintloom.cli import chain as chain_cli
from mintloom.cli import dao as dao_cli
from mintloom.cli import dataset as dataset_cli
from mintloom.cli import db as db_cli
from mintloom.cli import demo as demo_cli
from mintloom.cli import governance as governance_cli
from mintloom.cli import keys as keys_cli
from mintloom.cli import market as market_cli
from mintloom.cli import model as model_cli
from mintloom.cli import node as node_cli
from mintloom.cli import qa as qa_cli
from mintloom.cli import render as render_cli
from mintloom.cli import review as review_cli
from mintloom.cli import run as run_cli
from mintloom.cli import serve as serve_cli
from mintloom.cli import tokens as tokens_cli
from mintloom.cli import verify as verify_cli
from mintloom.cli.console import close_studios, console, err_console
from mintloom.cli.doctor import doctor
from mintloom.errors import MintloomError
from mintloom.logs import configure
from mintloom.workspace import Workspace

app = typer.Typer(
    name="mintloom",
    help="Creative infrastructure: generate, prove, anchor, license and verify creative assets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(node_cli.app, name="node")
app.add_typer(keys_cli.app, name="keys")
app.add_typer(review_cli.app, name="review")
app.add_typer(chain_cli.app, name="chain")
app.add_typer(tokens_cli.app, name="tokens")
app.add_typer(assets_cli.app, name="assets")
app.add_typer(db_cli.app, name="db")
app.add_typer(market_cli.app, name="market")
app.add_typer(dao_cli.app, name="dao")
app.command()(dao_cli.remix)
app.add_typer(dao_cli.ugc_app, name="ugc")
app.add_typer(governance_cli.license_app, name="license")
app.add_typer(governance_cli.royalties_app, name="royalties")
app.add_typer(governance_cli.dataset_app, name="dataset")
dataset_cli.add_commands(governance_cli.dataset_app, governance_cli.royalties_app)
app.add_typer(governance_cli.model_app, name="model")
model_cli.add_commands(governance_cli.model_app)
app.command()(governance_cli.register)
app.command()(chain_cli.deploy)
app.command()(chain_cli.anchor)
app.command()(chain_cli.receipt)
app.command()(run_cli.run)
app.command()(run_cli.plan)
app.command()(run_cli.export)
app.command()(doctor)
app.command()(demo_cli.demo)
app.command()(serve_cli.serve)
app.command()(verify_cli.verify)
app.command()(qa_cli.qa)
app.command("render-url")(render_cli.render_url)
app.command()(qa_cli.search)


def _version(value: bool) -> None:
    if value:
        console.print(f"mintloom {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level.")] = False,
) -> None:
    configure("INFO" if verbose else "WARNING")


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Workspace folder (created if missing).")] = Path("."),
    example: Annotated[
        str | None, typer.Option(help="Also write this example campaign (lumen) into the workspace.")
    ] = None,
    segments: Annotated[
        int | None, typer.Option(min=1, help="Keep only this many audience rows of the example.")
    ] = None,
) -> None:
    """Create a workspace: mintloom.toml and .mintloom/ (catalog, blobs, keys, chain state)."""
    from mintloom.campaign.examples import write_example
    from mintloom.schema import open_workspace_database

    ws = Workspace.init(directory)
    db = open_workspace_database(ws.database_url())
    db.dispose()
    console.print(f"[green]workspace ready[/] at {ws.root}")
    console.print(f"  config   {ws.config_file}\n  state    {ws.state_dir}\n  outputs  {ws.out_dir}")
    if example is not None:
        spec = write_example(example, ws.root / example, segments=segments)
        console.print(f"  example  {spec}  (mintloom run {spec.relative_to(ws.root)})")


def run() -> None:
    """Console-script entry point: every MintloomError becomes a message and its exit code."""
    try:
        # standalone_mode=False turns typer.Exit(code) into a return value: pass it on
        try:
            code = app(standalone_mode=False, prog_name="mintloom")
        finally:
            close_studios()
    except MintloomError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}")
        if exc.hint:
            err_console.print(f"[yellow]hint:[/] {exc.hint}")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except _USAGE_ERRORS as exc:
        _show_usage_error(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's exception roots: Typer vendors click (``typer.TyperException``) in recent releases,
    older ones raise ``click.ClickException`` from the separate package."""
    try:
        import click
    except ImportError:  # pragma: no cover - typer without the click package
        return (typer.TyperException,)
    return (typer.TyperException, click.ClickException)


_USAGE_ERRORS = _usage_errors()


def _show_usage_error(exc: Exception) -> NoReturn:
    """What click's standalone mode prints: the usage line, a help hint and ``Error: message``
    (exit 2 for usage errors), never a traceback."""
    show = getattr(exc, "show", None)
    if callable(show):
        show(file=sys.stderr)
    else:  # pragma: no cover - every click exception has show()
        err_console.print(f"error: {exc}")
    code = getattr(exc, "exit_code", 2)
    sys.exit(code if isinstance(code, int) else 2)


if __name__ == "__main__":  # pragma: no cover
    run()
