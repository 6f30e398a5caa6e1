"""`mintloom review CAMPAIGN` (sample + contact sheet), `review approve|reject GROUP --reviewer KEY`,
`review status CAMPAIGN` and `review enrol NAME` (a reviewer key issued by the organisation CA)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table
from typer.core import TyperGroup

from mintloom.cli.console import console, key_password, studio
from mintloom.errors import ForgedReviewError, KeyStoreError

ENV_REVIEWER_PASSWORD = "MINTLOOM_REVIEWER_PASSWORD"


class _SampleByDefault(TyperGroup):
    """``mintloom review CAMPAIGN`` means ``mintloom review sample CAMPAIGN``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:  # typer's own click types
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["sample", *args]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_SampleByDefault,
    no_args_is_help=True,
    help="Human-on-the-loop review: sample, contact sheet, signed approvals.",
)


def _reviewer_password() -> str:
    pw = os.environ.get(ENV_REVIEWER_PASSWORD)
    if pw:
        return pw
    if not os.isatty(0):
        raise KeyStoreError("the reviewer key password is needed", hint=f"set {ENV_REVIEWER_PASSWORD}")
    value: str = typer.prompt("reviewer key password", hide_input=True)
    return value


@app.command("sample")
def sample(
    campaign: Annotated[str, typer.Argument(help="Campaign name.")],
    size: Annotated[int, typer.Option("--size", min=1, max=64, help="Assets per group.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Sample seed (same seed, same sample).")] = 0,
    out: Annotated[Path | None, typer.Option("--out", help="Contact sheet PNG path.")] = None,
) -> None:
    """Draw a stratified sample (per template × locale × format family) and write a contact sheet."""
    from mintloom.governance.review import contact_sheet, draw

    s = studio()
    samples = draw(s.db, campaign, size=size, seed=seed)
    path = out or s.workspace.root / "review" / f"{campaign}.png"
    contact_sheet(s.db, s.blobs, samples, path)
    table = Table(title=f"review sample — {campaign} (seed {seed})")
    for col in ("group", "assets", "sampled", "round"):
        table.add_column(col)
    for g in samples:
        table.add_row(g.group, str(g.members), str(len(g.sample)), str(g.round))
    console.print(table)
    console.print(f"contact sheet: {path}")


def _decide(group: str, reviewer: Path, decision: Literal["approve", "reject"]) -> None:
    from mintloom.governance.review import decide
    from mintloom.provenance.review import load_reviewer

    signer = load_reviewer(reviewer, _reviewer_password())
    s = studio()
    who = decide(s.db, group, decision, signer, s.keys.trust_anchor_pem())
    done = "approved" if decision == "approve" else "rejected (regenerated with a new seed on the next run)"
    console.print(f"{group}: {done}, signed by {who.name} at {who.record.at}")


_REVIEWER = typer.Option("--reviewer", help="Reviewer key NAME.key.pem (NAME.pem beside it).")


@app.command("approve")
def approve(
    group: Annotated[str, typer.Argument(help="CAMPAIGN/TEMPLATE/LOCALE/FAMILY")],
    reviewer: Annotated[Path, _REVIEWER],
) -> None:
    """Sign an approval of the group's drawn sample."""
    _decide(group, reviewer, "approve")


@app.command("reject")
def reject(
    group: Annotated[str, typer.Argument(help="CAMPAIGN/TEMPLATE/LOCALE/FAMILY")],
    reviewer: Annotated[Path, _REVIEWER],
) -> None:
    """Sign a rejection: the group's design is regenerated with a new seed on the next run."""
    _decide(group, reviewer, "reject")


@app.command("status")
def status(campaign: Annotated[str, typer.Argument(help="Campaign name.")]) -> None:
    """Each group's latest signed decision (checked), or none."""
    from mintloom.provenance.review import verified_decision
    from mintloom.store.reviews import Reviews

    s = studio(read_only=True)
    anchor = s.keys.trust_anchor_pem()
    table = Table(title=f"review — {campaign}")
    for col in ("group", "assets", "decision", "reviewer", "at"):
        table.add_column(col)
    for group, cids in Reviews(s.db).groups(campaign).items():
        try:
            who = verified_decision(s.db, campaign, group, anchor)
        except ForgedReviewError as exc:
            table.add_row(group, str(len(cids)), "[red]refused[/red]", str(exc), "-")
            continue
        if who is None:
            table.add_row(group, str(len(cids)), "unreviewed", "-", "-")
        else:
            table.add_row(group, str(len(cids)), who.record.decision, who.name, who.record.at)
    console.print(table)


@app.command("enrol")
def enrol(
    name: Annotated[str, typer.Argument(help="The reviewer's name (their certificate's CN).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for NAME.key.pem and NAME.pem.")] = Path("."),
) -> None:
    """Issue a reviewer key and certificate from the organisation CA (needs the workspace key password)."""
    from mintloom.provenance.review import REVIEWER_UNIT, save_reviewer

    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 64:
        raise KeyStoreError(f"reviewer name {name[:64]!r} must be letters, digits, - or _")
    s = studio()
    key, chain = s.keys.issue_person(name, REVIEWER_UNIT, key_password())
    path = save_reviewer(out, name, key, chain, _reviewer_password())
    console.print(f"reviewer key: {path} (certificate {path.with_name(name + '.pem')})")
