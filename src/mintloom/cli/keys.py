"""`mintloom keys init|show|rotate`: the organisation's signing identity and chain account."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast, get_args

import typer
from rich.table import Table

from mintloom.cli.console import console, key_password, workspace
from mintloom.provenance.keys import Alg, KeyInfo, KeyStore

app = typer.Typer(help="Create, show and rotate the workspace's keys.", no_args_is_help=True)


def _show(info: KeyInfo) -> None:
    t = Table(show_header=False, box=None)
    for k, v in (
        ("organisation", info.organisation),
        ("algorithm", info.alg),
        ("root CA (sha256)", info.ca_fingerprint),
        ("signer (sha256)", info.signer_fingerprint),
        ("signer valid until", info.signer_not_after),
        ("chain account", info.eth_address),
        ("rotations", str(info.rotations)),
    ):
        t.add_row(f"[bold]{k}[/]", v)
    console.print(t)


def _alg(value: str) -> Alg:
    if value not in get_args(Alg):
        raise typer.BadParameter("alg must be es256 or ed25519")
    return cast(Alg, value)


@app.command()
def init(
    organisation: Annotated[str | None, typer.Option(help="Organisation named in the certificates.")] = None,
    alg: Annotated[str, typer.Option(help="Signature algorithm: es256 or ed25519.")] = "es256",
) -> None:
    """Create the root CA, a signer certificate and a chain account, encrypted with a password."""
    ws = workspace()
    org = organisation or ws.settings().provenance.organisation
    _show(KeyStore(ws.keys_dir).init(org, _alg(alg), key_password(confirm=True)))


@app.command()
def show() -> None:
    """Show the identity: fingerprints, validity, chain address (no password needed)."""
    _show(KeyStore(workspace().keys_dir).info())


@app.command()
def rotate(
    alg: Annotated[str | None, typer.Option(help="Switch algorithm while rotating.")] = None,
) -> None:
    """Issue a new signer certificate from the same root; earlier assets keep verifying."""
    _show(KeyStore(workspace().keys_dir).rotate(key_password(), None if alg is None else _alg(alg)))


@app.command("trust-anchor")
def trust_anchor(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the PEM to this file.")] = None,
) -> None:
    """The organisation's root certificate (PEM) and, after a rotation, the CA-signed list of retired
    signers: what others pass to `mintloom verify --trust`."""
    pem = KeyStore(workspace().keys_dir).trust_bundle_pem()
    if out is None:
        typer.echo(pem, nl=False)
    else:
        out.write_text(pem, encoding="utf-8")
        console.print(f"root certificate written to {out}")
