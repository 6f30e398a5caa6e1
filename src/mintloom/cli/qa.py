"""`mintloom qa CAMPAIGN` (the brand QA summary) and `mintloom search QUERY` (assets by tag)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from mintloom.cli.console import console, studio
from mintloom.errors import CatalogError


def qa(
    campaign: Annotated[str, typer.Argument(help="Campaign name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print every report as JSON.")] = False,
) -> None:
    """The brand QA gate's results: per format and locale how many images passed, were held
    (not exported, not published) or have non-blocking findings; then each held asset's reasons."""
    from mintloom.store.annotations import Annotations

    rows = Annotations(studio().db).qa_reports(campaign)
    if not rows:
        raise CatalogError(f"no QA reports for campaign {campaign!r}", hint="run the campaign first")
    if as_json:
        out = [{"cid": a.cid, "path": a.path, **json.loads(q.report)} for a, q in rows]
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    summary: dict[tuple[str, str], list[int]] = {}
    held: list[tuple[str, list[str]]] = []
    for asset, row in rows:
        report = json.loads(row.report)
        failing = [f for f in report["findings"] if not f["passed"]]
        counts = summary.setdefault((asset.format or "-", asset.locale or "-"), [0, 0, 0])
        counts[0 if not failing else 1 if row.held else 2] += 1
        if row.held:
            held.append((asset.path, [f"{f['rule']}: {f['detail']}" for f in failing if f["blocking"]]))
    table = Table(title=f"brand QA — {campaign}")
    for col in ("format", "locale", "passed", "held", "warnings"):
        table.add_column(col, justify="right" if col in ("passed", "held", "warnings") else "left")
    for (fmt, loc), (ok, bad, warn) in sorted(summary.items()):
        table.add_row(fmt, loc, str(ok), f"[red]{bad}[/red]" if bad else "0", str(warn))
    console.print(table)
    for path, reasons in held:
        console.print(f"[red]held[/red] {path}: " + "; ".join(reasons))
    console.print(f"{len(rows)} images checked, {len(held)} held")


def search(
    query: Annotated[
        str, typer.Argument(help="key:value terms, all must match, e.g. 'locale:ar-EG colour:navy'.")
    ],
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
) -> None:
    """Assets by their tags (colour, locale, lang, script, direction, format, aspect, kind, engine, model)."""
    from mintloom.store.annotations import Annotations, parse_query

    terms = parse_query(query)
    rows = Annotations(studio().db).search(terms, limit=limit)
    table = Table(title=f"{len(rows)} assets matching {query!r}")
    for col in ("cid", "campaign", "kind", "locale", "format", "path"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.cid, r.campaign, r.kind, r.locale or "", r.format or "", r.path)
    console.print(table)
