"""Verification figures: offline ``verify_bytes`` per signed 1080x1080 PNG, and for a stripped copy.

A small real campaign (4 segments × 2 locales, square masters only, no copy or audio) is
generated, signed, logged and checkpointed in a fresh workspace; then the square masters are
verified offline against the workspace (c2pa read + validation, CID, receipt and checkpoint). The
stripped copy (pixels re-encoded by Pillow without metadata) goes the fingerprint route: decode,
pHash/dHash, index lookup, then the original's credential and receipt.
"""

from __future__ import annotations

import io
import statistics
import time
from pathlib import Path

from PIL import Image

from mintloom.bench import Figure
from mintloom.bench.peer import load_note
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.chain_lookup import verify_context
from mintloom.errors import MintloomError
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import VerifyContext, verify_bytes
from mintloom.workspace import Workspace

PASSWORD = "bench-password"
RUNS = 30


def _campaign(work: Path) -> Studio:
    spec = sample_spec(
        campaign="bench-verify",
        seed=11,
        locales=("en-US", "de-DE"),
        formats=("square",),
        copy=False,
        audio=False,
    )
    path = write_sample_campaign(work / "campaign", spec, sample_audience(4))
    studio = Studio(Workspace.init(work / "ws"), password=PASSWORD)
    studio.ensure_keys()
    CampaignRunner(studio.run_parts(), load_spec(path), batch_size=8).run()
    return studio


def _median_ms(samples: list[bytes], ctx: VerifyContext, expect: str) -> float:
    times = []
    for i in range(RUNS + 2):
        data = samples[i % len(samples)]
        t0 = time.perf_counter()
        report = verify_bytes(data, "bench.png", ctx)
        elapsed = time.perf_counter() - t0
        if report.verdict is not Verdict.VERIFIED or report.binding != expect:
            raise MintloomError(f"bench asset did not verify ({report.verdict}, {report.binding})")
        if i >= 2:  # the first rounds warm caches (and build the fingerprint index)
            times.append(elapsed)
    return 1000 * statistics.median(times)


DIR_SEGMENTS = 60  # x 2 formats: 120 signed, anchored and published ads in one folder


def folder_campaign(work: Path, segments: int) -> Path:
    """A real campaign folder, run like ``mintloom run`` (deploy, anchor, publish on the embedded
    node, which is stopped again): two small formats per audience row. Returns the workspace."""
    from mintloom.bench.compare import audience_csv, campaign_yaml
    from mintloom.campaign.sample import write_sample_campaign
    from mintloom.pipeline import Pipeline, PipelineOptions

    text = campaign_yaml("vdir", "png", "medium-rectangle").replace(
        "formats: [{name: medium-rectangle, encoding: png}]", "formats: [medium-rectangle, leaderboard]"
    )
    path = write_sample_campaign(work / "vdir", text, audience_csv(segments))
    with Studio(Workspace.init(work / "vdir-ws"), password=PASSWORD) as studio:
        studio.ensure_keys()
        Pipeline(studio).run(path, PipelineOptions(workers=2, batch_size=256))
    return work / "vdir-ws"


def folder_rate(root: Path, *, online: bool, workers: int = 1) -> tuple[float, int]:
    """Files per second of ``mintloom verify DIR``'s own path (context, every file, missing
    exports) over the workspace's campaign folder; every file must verify (online: anchored)."""
    from mintloom.verify.verifier import media_files, missing_exports, verify_many

    with Studio(Workspace.find(root), password=PASSWORD) as studio:
        if online:
            studio.chain_reader(start_node=True)  # a running node, as `mintloom verify` expects
        t0 = time.perf_counter()
        ctx = verify_context(studio, offline=not online)
        folder = studio.workspace.out_dir / "vdir"
        files = media_files(folder)
        reports = list(verify_many(files, ctx, workers=workers))
        reports += missing_exports(folder, ctx, reports)
        elapsed = time.perf_counter() - t0
    bad = [r for r in reports if r.verdict is not Verdict.VERIFIED]
    anchored = [r for r in reports if any(c.name == "anchor" and c.status == "pass" for c in r.checks)]
    if bad or (online and len(anchored) != len(reports)):
        raise MintloomError(f"bench folder did not verify: {len(bad)} bad, {len(anchored)} anchored")
    return len(files) / elapsed, len(files)


def folder_figures(work: Path, segments: int = DIR_SEGMENTS) -> list[Figure]:
    root = folder_campaign(work, segments)
    folder_rate(root, online=False)  # warm: imports, the fingerprint index's code paths
    offline, n = folder_rate(root, online=False)
    online, _ = folder_rate(root, online=True)
    note = f"{n} signed ads of one anchored campaign, one thread, context included; {load_note()}"
    ratio = f"{online / offline:.2f}x offline in the same run, licences read in batches"
    return [
        Figure("verify_dir_files_per_s_offline", offline, "files/s", 50, ">=", f"offline: {note}"),
        Figure(
            "verify_dir_files_per_s_online", online, "files/s", 50, ">=", f"embedded anvil ({ratio}): {note}"
        ),
    ]


def run(work: Path) -> list[Figure]:
    return [*_single(work), *folder_figures(work)]


def _single(work: Path) -> list[Figure]:
    studio = _campaign(work)
    try:
        blobs = LocalBlobStore(studio.workspace.blobs_dir)
        rows = [r for r in Catalog(studio.db).assets("bench-verify", kind="image") if r.format == "square"]
        signed = [blobs.get(r.cid) for r in rows]
        with Image.open(io.BytesIO(signed[0])) as img:
            if img.size != (1080, 1080):
                raise MintloomError(f"expected 1080x1080 squares, got {img.size}")
        stripped = []
        for data in signed:
            buf = io.BytesIO()
            with Image.open(io.BytesIO(data)) as img:
                img.save(buf, "PNG")
            stripped.append(buf.getvalue())
        ctx = verify_context(studio, offline=True)
        hard = _median_ms(signed, ctx, "hard")
        soft = _median_ms(stripped, ctx, "fingerprint")
    finally:
        studio.close()
    note = f"offline, median of {RUNS}, {len(signed)} signed squares"
    return [
        Figure("verify_ms_per_1080_png", hard, "ms", 20, "<=", f"{note}: c2pa read + validate, CID, receipt"),
        Figure("verify_stripped_ms", soft, "ms", note=f"{note} re-saved without metadata: fingerprint route"),
    ]
