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
from mintloom.cli.run import progress_callback

if TYPE_CHECKING:
    from mintloom.studio import Studio
    from mintloom.workspace import Workspace

DEMO_PASSWORD = "mintloom-demo-password"
"""Key password of the demo workspace (demo only; real workspaces use MINTLOOM_KEY_PASSWORD)."""

# anvil development accounts playing the other parties
ARTIST, CURATOR, TRAINER, BUYER = 1, 2, 3, 5


def _examples() -> Path:
    from mintloom.campaign.examples import example_source

    return example_source("lumen")


def demo(
    directory: Annotated[Path, typer.Argument(help="Workspace for the demo.")] = Path("demo-workspace"),
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1)] = None,
    spec: Annotated[Path | None, typer.Option(help="Campaign spec (default: examples/lumen).")] = None,
) -> None:
    """Run the example campaign end to end: generate, sign, log, anchor, license, pay, verify."""
    from PIL import Image

    from mintloom.campaign.run import CampaignRunner
    from mintloom.campaign.spec import load_spec
    from mintloom.chain_lookup import verify_context
    from mintloom.governance.gate import license_gate
    from mintloom.governance.publish import publish_campaign
    from mintloom.governance.royalties import claim, claimable
    from mintloom.ledger.assets import register_asset
    from mintloom.ledger.client import ChainClient
    from mintloom.ledger.lineage import register_dataset, register_model
    from mintloom.ledger.node import dev_key
    from mintloom.market.licensing import buy_license, license_balance
    from mintloom.store.blobs import LocalBlobStore
    from mintloom.store.catalog import Catalog
    from mintloom.studio import Studio
    from mintloom.verify.verifier import media_files, verify_bytes, verify_many
    from mintloom.workspace import Workspace

    t0 = time.perf_counter()
    own_password = bool(os.environ.get("MINTLOOM_KEY_PASSWORD"))
    password = os.environ.get("MINTLOOM_KEY_PASSWORD") or DEMO_PASSWORD
    ws = Workspace.init(directory)
    studio = closed_at_exit(Studio(ws, password=password))  # a failed step stops the node too
    step = 0

    def say(text: str) -> None:
        nonlocal step
        step += 1
        console.print(f"[bold cyan]{step:>2}.[/] {text}")

    say(f"workspace {ws.root}")
    studio.ensure_keys()
    info = studio.keys.info()
    console.print(f"    organisation keys: {info.organisation}, {info.alg}, CA {info.ca_fingerprint[:16]}…")

    chain = studio.chain
    say(f"chain {chain.chain_id} at {chain.rpc_url} (managed anvil, state in {ws.chain_dir})")
    addresses = _contracts(studio)
    for name, addr in addresses.items():
        console.print(f"    {name:16} {addr}")

    def party(index: int) -> ChainClient:
        return ChainClient(chain.rpc_url, dev_key(index), studio.db, chain.deployments)

    examples = spec.parent if spec else _examples()
    loaded = load_spec(spec or examples / "campaign.yaml")
    say("registering the example dataset (by its curator) and model (by its trainer)")
    ds = register_dataset(party(CURATOR), studio.db, loaded.spec.lineage.datasets[0],
                          examples / "lineage" / "brand-photography.md", license="CC-BY-4.0",
                          ai_training=True)  # fmt: skip
    model_name = loaded.spec.lineage.model or "lumen-layout-v1"
    md = register_model(party(TRAINER), studio.db, model_name, examples / "lineage" / "layout-model.json",
                        trained_on=[ds.name], license="Apache-2.0")  # fmt: skip
    console.print(f"    dataset #{ds.onchain_id} {ds.name}, model #{md.onchain_id} {md.name}")

    n_workers = workers or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    say(f"running campaign {loaded.spec.campaign} with {n_workers} worker(s) (licence gate checked first)")
    runner = CampaignRunner(
        studio, loaded, workers=n_workers, gate=license_gate(chain, studio.db, loaded.spec)
    )
    with progress_callback() as cb:
        runner.progress = cb
        summary = runner.run()
    made = ", ".join(f"{v} {k}" for k, v in sorted(summary.generated.items())) or "nothing new (resumed)"
    console.print(f"    {summary.planned} assets planned, {summary.skipped} already done, made {made}")

    say("anchoring the transparency log's checkpoint on chain")
    anchored = studio.anchor()
    console.print(f"    checkpoint {anchored.size} (root {anchored.root[:16]}…) in {anchored.tx_hash}")

    say("attaching licence terms, royalty split and lineage (batched per checkpoint)")
    pub = publish_campaign(chain, studio.db, loaded.spec)
    console.print(f"    {len(pub.terms_ranges)} terms range(s), split #{pub.split_id}: "
                  + ", ".join(f"{s.role} {s.bps / 100:.0f}%" for s in pub.split)
                  + f"; {len(pub.transactions)} transaction(s)")  # fmt: skip

    catalog = Catalog(studio.db)
    images = catalog.assets(loaded.spec.campaign, kind="image")
    variant = next(a for a in images if a.format == "story" and a.locale == loaded.spec.locales[-1])
    say(f"registering one asset lazily: {variant.path}")
    reg = register_asset(chain, studio.log, catalog, variant.cid)
    console.print(f"    token {hex(reg.token_id)[:18]}… (parent {hex(reg.parent_token_id)[:18]}…)"
                  + (" already registered" if reg.already else f", gas {reg.gas_used}"))  # fmt: skip

    buyer = party(BUYER)
    terms_name = str(loaded.spec.governance.terms.get("image", "commercial-remix"))
    if license_balance(chain, buyer.address, variant.cid, terms_name) == 0:
        say(f"a buyer licenses it under {terms_name}")
        purchase = buy_license(buyer, variant.cid, terms_name)
        console.print(
            f"    paid {purchase.fee / 1e18:.4f} ETH, licence token {hex(purchase.license_id)[:18]}…"
        )
    else:
        say("the buyer already holds a licence (resumed run)")

    say("every contributor claims its royalty share (pull payments)")
    paid = Table("contributor", "account", "claimed")
    roles = {s.account.lower(): s.role for s in pub.split}
    for client in (chain, party(ARTIST), party(CURATOR), party(TRAINER)):
        owed = claimable(chain, client.address)
        if owed:
            claim(client)
        paid.add_row(roles.get(client.address.lower(), "-"), client.address, f"{owed / 1e18:.4f} ETH")
    console.print(paid)

    say(f"verifying every output of the campaign ({ws.out_dir / loaded.spec.campaign})")
    ctx = verify_context(studio)
    files = media_files(ws.out_dir / loaded.spec.campaign)
    counts: dict[str, int] = {}
    with progress_callback() as cb:
        for i, report in enumerate(verify_many(files, ctx), start=1):
            counts[report.verdict.value] = counts.get(report.verdict.value, 0) + 1
            cb("verify", i, len(files))
    console.print("    " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))

    say("verifying an original, a tampered copy and a stripped copy")
    blobs = LocalBlobStore(ws.blobs_dir)
    original = blobs.get(variant.cid)
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0xFF
    buf = io.BytesIO()
    with Image.open(io.BytesIO(original)) as im:
        im.convert("RGB").save(buf, "JPEG", quality=85)
    samples = ws.out_dir / "verify-samples"
    samples.mkdir(parents=True, exist_ok=True)
    (samples / "tampered.png").write_bytes(bytes(tampered))
    (samples / "stripped.jpg").write_bytes(buf.getvalue())
    verdicts = Table("file", "verdict", "binding", "why")
    for name, data in (("original " + variant.path, original), ("tampered.png", bytes(tampered)),
                       ("stripped.jpg (metadata removed, JPEG)", buf.getvalue())):  # fmt: skip
        r = verify_bytes(data, name, ctx)
        failed = [c.detail for c in r.checks if c.status == "fail"]
        colour = {"VERIFIED": "green", "TAMPERED": "red"}.get(r.verdict.value, "yellow")
        verdicts.add_row(
            name, f"[{colour}]{r.verdict.value}[/]", r.binding, failed[0] if failed else "all checks passed"
        )
    console.print(verdicts)

    gas = sum(e.gas_used or 0 for e in chain.journal.entries(chain.chain_id))
    studio.close()  # stops the embedded node if the demo started it; its state is kept
    body = summary_text(
        ws,
        campaign=loaded.spec.campaign,
        assets=len(catalog.assets(loaded.spec.campaign)),
        images=len(images),
        log_size=studio.log.size,
        anchored=anchored.size,
        gas=gas,
        seconds=time.perf_counter() - t0,
        variant=(variant.cid, variant.path),
        samples=samples,
        own_password=own_password,
    )
    console.print(Panel(body, title="mintloom demo done", border_style="green"))


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
