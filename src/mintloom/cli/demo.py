"""`mintloom demo` (what `make demo` runs): the whole job end to end on the embedded chain.

Creates a workspace, starts the managed anvil, deploys the contracts, registers the example
dataset and model (as their curator and trainer), runs the example campaign with the licence gate,
anchors the log, attaches licences and the royalty split, registers one asset, buys a licence,
lets every contributor claim, and verifies an original, a tampered copy and a stripped copy.
Every step is idempotent, so running it again only does what is left.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from mintloom.cli.console import closed_at_exit, console
from mintloom.cli.demo_dao import dao_step
from mintloom.cli.demo_dynamic import dynamic_step
from mintloom.cli.demo_hero import hero_review_step
from mintloom.cli.demo_market import market_step
from mintloom.cli.demo_trained import trained_campaign_step
from mintloom.cli.demo_training import training_step
from mintloom.cli.demo_web import studio_step
from mintloom.cli.run import progress_callback
from mintloom.progress import Progress, Stage

if TYPE_CHECKING:
    from mintloom.campaign.spec import LoadedSpec
    from mintloom.governance.publish import PublishResult
    from mintloom.ledger.anchoring import AnchorResult
    from mintloom.ledger.client import ChainClient
    from mintloom.store.catalog import AssetRow
    from mintloom.studio import Studio
    from mintloom.verify.verifier import VerifyContext
    from mintloom.workspace import Workspace

DEMO_PASSWORD = "mintloom-demo-password"
"""Key password of the demo workspace (demo only; real workspaces use MINTLOOM_KEY_PASSWORD)."""

# anvil development accounts playing the other parties
ARTIST, CURATOR, TRAINER, BUYER = 1, 2, 3, 5


def _examples() -> Path:
    from mintloom.campaign.examples import example_source

    return example_source("lumen")


class _Steps:
    """Numbers the demo's steps as it prints them."""

    def __init__(self) -> None:
        self.step = 0

    def say(self, text: str) -> None:
        self.step += 1
        console.print(f"[bold cyan]{self.step:>2}.[/] {text}")


def demo(
    directory: Annotated[Path, typer.Argument(help="Workspace for the demo.")] = Path("demo-workspace"),
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1)] = None,
    spec: Annotated[Path | None, typer.Option(help="Campaign spec (default: examples/lumen).")] = None,
) -> None:
    """Run the example campaign end to end: generate, sign, log, anchor, license, pay, verify."""
    from mintloom.campaign.spec import load_spec
    from mintloom.chain_lookup import verify_context
    from mintloom.studio import Studio
    from mintloom.workspace import Workspace

    t0 = time.perf_counter()
    own_password = bool(os.environ.get("MINTLOOM_KEY_PASSWORD"))
    password = os.environ.get("MINTLOOM_KEY_PASSWORD") or DEMO_PASSWORD
    ws = Workspace.init(directory)
    studio = closed_at_exit(Studio(ws, password=password))  # a failed step stops the node too
    steps = _Steps()
    _start(steps, studio)
    examples = spec.parent if spec else _examples()
    loaded = load_spec(spec or examples / "campaign.yaml")
    _register_ingredients(steps, studio, loaded, examples)
    anchored, pub = _run_campaign(steps, studio, loaded, workers)
    variant = _register_variant(steps, studio, loaded)
    _license_and_claim(steps, studio, loaded, variant, pub)
    market_step(steps.say, studio, loaded, lambda i: _party(studio, i))
    training_step(steps.say, studio, lambda i: _party(studio, i))
    trained_campaign_step(steps.say, studio)
    dynamic_step(steps.say, studio, password)
    hero_review_step(steps.say, studio, password)
    dao_step(steps.say, studio, password, lambda i: _party(studio, i))
    ctx = verify_context(studio)  # one context (and fingerprint index) for both verify steps
    _verify_outputs(steps, studio, loaded, ctx)
    samples = _verify_samples(steps, studio, variant, ctx)
    gas = sum(e.gas_used or 0 for e in studio.chain.journal.entries(studio.chain.chain_id))
    studio.close()  # stops the embedded node if the demo started it; its state is kept
    body = _closing_text(
        studio,
        loaded,
        anchored=anchored.size,
        gas=gas,
        variant=variant,
        samples=samples,
        own_password=own_password,
        t0=t0,
    )
    console.print(Panel(body, title="mintloom demo done", border_style="green"))
    studio_step(ws)


def _closing_text(
    studio: Studio,
    loaded: LoadedSpec,
    *,
    anchored: int,
    gas: int,
    variant: AssetRow,
    samples: Path,
    own_password: bool,
    t0: float,
) -> str:
    """:func:`summary_text` filled in from the (closed) studio's catalog and log."""
    from mintloom.store.catalog import Catalog

    catalog = Catalog(studio.db)
    return summary_text(
        studio.workspace,
        campaign=loaded.spec.campaign,
        assets=len(catalog.assets(loaded.spec.campaign)),
        images=len(catalog.assets(loaded.spec.campaign, kind="image")),
        log_size=studio.log.size,
        anchored=anchored,
        gas=gas,
        seconds=time.perf_counter() - t0,
        variant=(variant.cid, variant.path),
        samples=samples,
        own_password=own_password,
    )


def _start(steps: _Steps, studio: Studio) -> None:
    """The workspace's keys, and the chain with mintloom's contracts."""
    ws = studio.workspace
    steps.say(f"workspace {ws.root}")
    studio.ensure_keys()
    info = studio.keys.info()
    console.print(f"    organisation keys: {info.organisation}, {info.alg}, CA {info.ca_fingerprint[:16]}…")
    chain = studio.chain
    steps.say(f"chain {chain.chain_id} at {chain.rpc_url} (managed anvil, state in {ws.chain_dir})")
    for name, addr in _contracts(studio).items():
        console.print(f"    {name:16} {addr}")


def _party(studio: Studio, index: int) -> ChainClient:
    """The studio's chain, sending as anvil development account ``index`` (another party)."""
    from mintloom.ledger.client import ChainClient
    from mintloom.ledger.node import dev_key

    chain = studio.chain
    return ChainClient(chain.rpc_url, dev_key(index), studio.db, chain.deployments)


def _register_ingredients(steps: _Steps, studio: Studio, loaded: LoadedSpec, examples: Path) -> None:
    """The example dataset (by its curator) and model (by its trainer), for the licence gate."""
    from mintloom.ledger.lineage import register_dataset, register_model

    steps.say("registering the example dataset (by its curator) and model (by its trainer)")
    ds = register_dataset(
        _party(studio, CURATOR),
        studio.db,
        loaded.spec.lineage.datasets[0],
        examples / "lineage" / "brand-photography.md",
        license="CC-BY-4.0",
        ai_training=True,
    )
    model_name = loaded.spec.lineage.model or "lumen-layout-v1"
    md = register_model(
        _party(studio, TRAINER),
        studio.db,
        model_name,
        examples / "lineage" / "layout-model.json",
        trained_on=[ds.name],
        license="Apache-2.0",
    )
    console.print(f"    dataset #{ds.onchain_id} {ds.name}, model #{md.onchain_id} {md.name}")


def _run_campaign(
    steps: _Steps, studio: Studio, loaded: LoadedSpec, workers: int | None
) -> tuple[AnchorResult, PublishResult]:
    """The pipeline, one narrated stage after the other: gate, plan, generate, anchor, publish."""
    from mintloom.pipeline import Pipeline

    n_workers = workers or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    steps.say(
        f"running campaign {loaded.spec.campaign} with {n_workers} worker(s) (licence gate checked first)"
    )
    with progress_callback() as cb:
        pipeline = Pipeline(studio, progress=cb)
        logged = pipeline.generate(pipeline.plan(pipeline.gate(loaded)), workers=n_workers)
    summary = logged.summary
    made = ", ".join(f"{v} {k}" for k, v in sorted(summary.generated.items())) or "nothing new (resumed)"
    console.print(f"    {summary.planned} assets planned, {summary.skipped} already done, made {made}")
    _qa_line(studio, loaded.spec.campaign)

    steps.say("anchoring the transparency log's checkpoint on chain")
    anchored = pipeline.anchor(pipeline.checkpoint(logged, receipts=False))
    a = anchored.anchor
    console.print(f"    checkpoint {a.size} (root {a.root[:16]}…) in {a.tx_hash}")

    steps.say("attaching licence terms, royalty split and lineage (batched per checkpoint)")
    pub = pipeline.publish(anchored)
    console.print(
        f"    {len(pub.terms_ranges)} terms range(s), split #{pub.split_id}: "
        + ", ".join(f"{s.role} {s.bps / 100:.0f}%" for s in pub.split)
        + f"; {len(pub.transactions)} transaction(s)"
    )
    return a, pub


def _qa_line(studio: Studio, campaign: str) -> None:
    """One line of the brand QA gate's result (`mintloom qa CAMPAIGN` shows the table)."""
    from mintloom.store.annotations import Annotations

    reports = Annotations(studio.db).qa_reports(campaign)
    held = sum(1 for _, row in reports if row.held)
    colour = "red" if held else "green"
    console.print(
        f"    brand QA: {len(reports)} images checked, [{colour}]{held} held[/] "
        f"(see `mintloom qa {campaign}`)"
    )


def _register_variant(steps: _Steps, studio: Studio, loaded: LoadedSpec) -> AssetRow:
    """One story variant of the last locale, registered as a token (lazily, on demand)."""
    from mintloom.ledger.assets import register_asset
    from mintloom.store.catalog import Catalog

    catalog = Catalog(studio.db)
    images = catalog.assets(loaded.spec.campaign, kind="image")
    variant = next(a for a in images if a.format == "story" and a.locale == loaded.spec.locales[-1])
    steps.say(f"registering one asset lazily: {variant.path}")
    reg = register_asset(studio.chain, studio.log, catalog, variant.cid, blobs=studio.blobs)
    console.print(
        f"    token {hex(reg.token_id)[:18]}… (parent {hex(reg.parent_token_id)[:18]}…)"
        + (" already registered" if reg.already else f", gas {reg.gas_used}")
    )
    return variant


def _license_and_claim(
    steps: _Steps, studio: Studio, loaded: LoadedSpec, variant: AssetRow, pub: PublishResult
) -> None:
    """A buyer licenses the variant; every contributor then claims its share."""
    from mintloom.governance.royalties import claim, claimable
    from mintloom.market.licensing import buy_license, license_balance

    chain, buyer = studio.chain, _party(studio, BUYER)
    terms_name = str(loaded.spec.governance.terms.get("image", "commercial-remix"))
    if license_balance(chain, buyer.address, variant.cid, terms_name) == 0:
        steps.say(f"a buyer licenses it under {terms_name}")
        purchase = buy_license(buyer, variant.cid, terms_name)
        console.print(
            f"    paid {purchase.fee / 1e18:.4f} ETH, licence token {hex(purchase.license_id)[:18]}…"
        )
    else:
        steps.say("the buyer already holds a licence (resumed run)")

    steps.say("every contributor claims its royalty share (pull payments)")
    paid = Table("contributor", "account", "claimed")
    roles = {s.account.lower(): s.role for s in pub.split}
    for client in (chain, _party(studio, ARTIST), _party(studio, CURATOR), _party(studio, TRAINER)):
        owed = claimable(chain, client.address)
        if owed:
            claim(client)
        paid.add_row(roles.get(client.address.lower(), "-"), client.address, f"{owed / 1e18:.4f} ETH")
    console.print(paid)


def _verify_outputs(steps: _Steps, studio: Studio, loaded: LoadedSpec, ctx: VerifyContext) -> None:
    """Every exported file of the campaign, verified; the verdicts counted."""
    from mintloom.verify.verifier import media_files, verify_many

    folder = studio.workspace.out_dir / loaded.spec.campaign
    steps.say(f"verifying every output of the campaign ({folder})")
    files = media_files(folder)
    counts: dict[str, int] = {}
    with progress_callback() as cb:
        for i, report in enumerate(verify_many(files, ctx), start=1):
            counts[report.verdict.value] = counts.get(report.verdict.value, 0) + 1
            cb(Progress(Stage.VERIFY, i, len(files)))
    console.print("    " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))


def _verify_samples(steps: _Steps, studio: Studio, variant: AssetRow, ctx: VerifyContext) -> Path:
    """The variant as logged, with one byte flipped, and re-encoded without metadata: three
    verdicts side by side. Returns the folder the two altered copies are written to."""
    from mintloom.verify.verifier import verify_bytes

    steps.say("verifying an original, a tampered copy and a stripped copy")
    original, tampered, stripped = _samples(studio, variant)
    samples = studio.workspace.out_dir / "verify-samples"
    samples.mkdir(parents=True, exist_ok=True)
    (samples / "tampered.png").write_bytes(tampered)
    (samples / "stripped.jpg").write_bytes(stripped)
    verdicts = Table("file", "verdict", "binding", "why")
    for name, data in (
        ("original " + variant.path, original),
        ("tampered.png", tampered),
        ("stripped.jpg (metadata removed, JPEG)", stripped),
    ):
        r = verify_bytes(data, name, ctx)
        failed = [c.detail for c in r.checks if c.status == "fail"]
        colour = {"VERIFIED": "green", "TAMPERED": "red"}.get(r.verdict.value, "yellow")
        verdicts.add_row(
            name, f"[{colour}]{r.verdict.value}[/]", r.binding, failed[0] if failed else "all checks passed"
        )
    console.print(verdicts)
    return samples


def _samples(studio: Studio, variant: AssetRow) -> tuple[bytes, bytes, bytes]:
    """(original, one byte flipped, re-encoded as JPEG without metadata)."""
    from PIL import Image

    original = studio.blobs.get(variant.cid)
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0xFF
    buf = io.BytesIO()
    with Image.open(io.BytesIO(original)) as im:
        im.convert("RGB").save(buf, "JPEG", quality=85)
    return original, bytes(tampered), buf.getvalue()


def _contracts(studio: Studio) -> dict[str, str]:
    """The demo's contracts. A demo workspace made by an earlier mintloom whose contracts changed
    since starts its chain over (its own workspace: the catalog and files are kept and published
    again); any other workspace is told to run `mintloom deploy --reset`."""
    from mintloom.errors import ContractsOutdatedError

    try:
        return studio.contracts()
    except ContractsOutdatedError as exc:
        console.print(f"    [yellow]{exc.message}[/]: starting this demo's chain over")
        studio.reset_chain()
        return studio.contracts()


def summary_text(
    ws: Workspace,
    *,
    campaign: str,
    assets: int,
    images: int,
    log_size: int,
    anchored: int,
    gas: int,
    seconds: float,
    variant: tuple[str, str],
    samples: Path,
    own_password: bool,
) -> str:
    """The closing panel's text. Never a password: a key password the user set is named, not
    shown (only the demo's own, published in this file, is spelled out)."""
    cid, path = variant
    password = "<your key password>" if own_password else DEMO_PASSWORD
    return (
        f"assets: {assets} in campaign {campaign} ({images} images), log size {log_size}, "
        f"anchored checkpoint {anchored}\n"
        f"gas used by this workspace's transactions: {gas:,}\n"
        f"outputs: {ws.out_dir / campaign}\n"
        f"time: {seconds:.0f}s\n\n"
        f"explore (export MINTLOOM_WORKSPACE={ws.root} MINTLOOM_KEY_PASSWORD={password}):\n"
        f"  mintloom verify {ws.out_dir / campaign / path}\n"
        f"  mintloom verify {samples}\n"
        f"  mintloom license show {cid}\n"
        f"  mintloom receipt {cid} --out story.png.receipt.json\n"
        f"  mintloom export {campaign} --car {campaign}.car\n"
        f"  mintloom chain status      mintloom royalties show      mintloom serve\n"
        f"commands that need the embedded chain start it from {ws.chain_dir} and stop it when done"
    )
