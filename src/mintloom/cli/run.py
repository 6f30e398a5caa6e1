"""`mintloom run campaign.yaml` and `mintloom plan campaign.yaml`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import TaskID
from rich.table import Table

from mintloom.cli.console import console, progress, studio
from mintloom.progress import Progress, ProgressSink, Stage

if TYPE_CHECKING:
    from mintloom.pipeline import PipelineResult


@contextmanager
def progress_callback() -> Iterator[ProgressSink]:
    """A pipeline progress sink drawing one Rich bar per counting stage (generate, check outputs,
    verify); one-shot stages draw none."""
    with progress() as bar:
        bars: dict[Stage, TaskID] = {}

        def update(event: Progress) -> None:
            if not event.stage.counts_items:
                return
            if event.stage not in bars:
                bars[event.stage] = bar.add_task(event.stage.value, total=event.total)
            bar.update(bars[event.stage], completed=event.done, total=event.total)

        yield update


def plan(spec: Annotated[Path, typer.Argument(help="Campaign spec (YAML).")]) -> None:
    """Show what a campaign would produce, without generating anything."""
    from mintloom.campaign.plan import plan_campaign
    from mintloom.campaign.spec import load_spec
    from mintloom.engines.base import engine_registry

    loaded = load_spec(spec)
    p = plan_campaign(loaded, engine_registry())
    t = Table("kind", "jobs", title=f"campaign {p.campaign}")
    for kind in ("image", "copy", "audio"):
        t.add_row(kind, str(p.count(kind)))
    console.print(t)
    console.print(
        f"{len(loaded.segments)} segments × {len(loaded.spec.locales)} locales × "
        f"{len(loaded.spec.formats)} formats"
    )


def run(
    spec: Annotated[Path, typer.Argument(help="Campaign spec (YAML).")],
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1, help="Worker processes.")] = None,
    anchor: Annotated[bool, typer.Option(help="Anchor the log's checkpoint on chain afterwards.")] = False,
    publish: Annotated[
        bool,
        typer.Option(
            help="Anchor, then attach licence terms, royalty split and lineage on chain "
            "(--no-publish: stop after generating, signing and logging)."
        ),
    ] = True,
) -> None:
    """Generate, sign, log and catalogue every asset of a campaign (resumes where it stopped),
    then anchor the log and attach the spec's licence terms and royalty split on chain.

    With ingredients in the spec's lineage, their on-chain licence terms are checked first and a
    run that would violate them is refused."""
    from mintloom.pipeline import Pipeline, PipelineOptions

    s = studio(password=True)
    s.ensure_keys()
    n = workers or s.settings.engine.workers
    options = PipelineOptions(workers=n, anchor=anchor or publish, publish=publish)
    with progress_callback() as cb:
        result = Pipeline(s, progress=cb).run(spec, options)
    report_run(result)


def report_run(result: PipelineResult) -> None:
    """What `mintloom run` prints after the pipeline: the run, the anchor, the publication."""
    summary = result.summary
    made = ", ".join(f"{v} {k}" for k, v in sorted(summary.generated.items())) or "nothing new"
    console.print(
        f"[green]{summary.campaign}[/]: {summary.planned} planned, {summary.skipped} already done, "
        f"made {made} in {summary.seconds:.1f}s; log size {summary.log_size}"
    )
    if summary.restored:
        console.print(f"[yellow]{summary.restored} missing or damaged output file(s) written again[/]")
    console.print(f"outputs in {summary.out_dir}")
    if result.anchor is not None:
        console.print(f"anchored checkpoint {result.anchor.size} in {result.anchor.tx_hash}")
    p = result.publish
    if p is not None:
        count = sum(t - f for f, t, _ in p.terms_ranges)
        console.print(f"attaching terms to {count} assets in {len(p.terms_ranges)} range(s)")
        console.print(f"assigning split #{p.split_id} in {len(p.split_ranges)} range(s)")
        console.print(
            f"terms, split #{p.split_id} and lineage attached in {len(p.transactions)} transaction(s)"
        )


def export(
    campaign: Annotated[str, typer.Argument(help="Campaign name.")],
    car: Annotated[Path, typer.Option("--car", help="CARv1 file to write.")],
) -> None:
    """Write a campaign's assets (and text sidecars) as a CARv1 archive: `ipfs dag import` then
    serves every asset under the CID mintloom logged, anchored and registered, and the metadata
    JSON (with its receipt) of each registered one and the licence folder, so tokenURI and
    uri(id) resolve."""
    from itertools import chain

    from mintloom.errors import CatalogError
    from mintloom.governance.licence_metadata import folder_export, published_documents
    from mintloom.store.annotations import Annotations
    from mintloom.store.car import store_blocks, write_car
    from mintloom.store.catalog import Catalog

    s = studio()
    held = Annotations(s.db).held(campaign)  # held by the QA gate: never exported
    rows = [r for r in Catalog(s.db).assets(campaign) if r.cid not in held]
    if not rows:
        raise CatalogError(f"no assets in campaign {campaign!r}", hint="see `mintloom plan` / `mintloom run`")
    blobs = s.blobs
    cids = [r.cid for r in rows] + [r.sidecar_cid for r in rows if r.sidecar_cid]
    roots, documents = published_documents(s.db, blobs, [r.cid for r in rows])
    blocks = chain(store_blocks(blobs, cids + documents), folder_export(s.db, blobs))
    n = write_car(car, [r.cid for r in rows] + roots, blocks)
    console.print(f"{n} blocks ({len(rows)} assets) written to {car}")
