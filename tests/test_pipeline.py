"""The campaign pipeline end to end on a real anvil: typed progress per stage in order, the
licence gate before planning, a rerun that resumes without regenerating, resending or rewriting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mintloom.campaign.run import PHASES
from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.errors import ConfigError, LicenseViolation
from mintloom.ledger.node import NodeInfo
from mintloom.pipeline import Pipeline, PipelineOptions
from mintloom.progress import Progress, Stage
from mintloom.provenance.log import LogCheckpoint, LogLeaf, ReceiptRow
from mintloom.store.catalog import AssetRow, Catalog, JobRow
from mintloom.studio import Studio
from tests.conftest import PASSWORD
from tests.ledger.test_anchoring import receipt_writes

pytestmark = pytest.mark.xdist_group("anvil")

# 1 segment × 2 locales × 2 formats = 4 images, 2 copy, 1 sound logo
SPEC = sample_spec(formats=("square", "leaderboard"))
ONE_SHOT = (Stage.LOAD, Stage.GATE, Stage.PLAN, Stage.CHECKPOINT, Stage.DEPLOY, Stage.ANCHOR, Stage.PUBLISH)


def campaign(folder: Path, spec: str = SPEC, audience: str | None = None) -> Path:
    return write_sample_campaign(folder, spec, audience or sample_audience(1))


def stage_order(events: list[Progress]) -> list[Stage]:
    order: list[Stage] = []
    for e in events:
        if e.stage not in order:
            order.append(e.stage)
    return order


def counts(studio: Studio) -> dict[str, int]:
    with studio.db.session() as s:
        return {t.__name__: s.scalar(select(func.count()).select_from(t)) or 0
                for t in (AssetRow, JobRow, LogLeaf, LogCheckpoint, ReceiptRow)}  # fmt: skip


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_pipeline_runs_every_stage_in_order_with_typed_progress(
    studio: Studio, anvil: NodeInfo, tmp_path: Path
) -> None:
    events: list[Progress] = []
    writes = receipt_writes(studio.db)
    result = Pipeline(studio, progress=events.append).run(
        campaign(tmp_path / "c"), PipelineOptions(batch_size=3)
    )

    assert all(isinstance(e, Progress) and isinstance(e.stage, Stage) for e in events)
    assert stage_order(events) == [Stage.LOAD, Stage.GATE, Stage.PLAN, Stage.GENERATE, Stage.CHECKPOINT,
                                   Stage.DEPLOY, Stage.ANCHOR, Stage.PUBLISH]  # fmt: skip
    for stage in ONE_SHOT:
        assert [(e.done, e.total) for e in events if e.stage is stage] == [(0, 1), (1, 1)], stage
    generate = [(e.done, e.total) for e in events if e.stage is Stage.GENERATE]
    assert generate == [(i, 7) for i in range(8)]  # start, then once per job, in order

    assert (result.summary.planned, result.summary.new_assets) == (7, 7)
    assert result.checkpoint is not None and result.checkpoint.size == studio.log.size == 7
    assert result.anchor is not None and not result.anchor.already_anchored and result.anchor.size == 7
    assert result.publish is not None and result.publish.checkpoint_size == 7
    # each kind's leaves are contiguous (PHASES), so its licence terms attach as one range
    leaves = {k: sorted(a.leaf_index for a in Catalog(studio.db).assets("tiny", kind=k)) for k in PHASES}
    assert [leaves[k][0] for k in PHASES] == sorted(leaves[k][0] for k in PHASES)
    for indices in leaves.values():
        assert indices == list(range(indices[0], indices[0] + len(indices)))
    assert sum(t - f for f, t, _ in result.publish.terms_ranges) == 7
    assert len(result.publish.terms_ranges) <= len(PHASES)
    # every receipt written once, already anchored: none first unanchored and then rewritten
    assert writes == ["INSERT"]
    for a in Catalog(studio.db).assets("tiny"):
        receipt = studio.log.receipt(a.cid)
        assert receipt is not None and receipt.anchor is not None
        assert receipt.anchor.tx_hash == result.anchor.tx_hash


def test_the_licence_gate_refuses_before_anything_is_planned(
    studio: Studio, anvil: NodeInfo, tmp_path: Path
) -> None:
    """An unregistered dataset is refused, although planning this spec would fail too (a price
    the template cannot format): the gate runs first, so planning and rendering never happen."""
    spec = SPEC + 'lineage:\n  datasets: ["never-registered"]\n'
    audience = sample_audience(1).replace("3.90", "abc")
    events: list[Progress] = []
    with pytest.raises(LicenseViolation, match="never-registered"):
        Pipeline(studio, progress=events.append).run(campaign(tmp_path / "c", spec, audience))
    assert stage_order(events) == [Stage.LOAD, Stage.DEPLOY, Stage.GATE]
    assert Progress(Stage.GATE, 1, 1) not in events
    assert counts(studio)["AssetRow"] == 0 and not (studio.workspace.out_dir / "tiny").exists()


def test_a_rerun_resumes_without_regenerating_resending_or_rewriting(
    studio: Studio, anvil: NodeInfo, tmp_path: Path
) -> None:
    spec = campaign(tmp_path / "c")
    first = Pipeline(studio).run(spec)
    assert first.anchor is not None and first.publish is not None
    before, files = counts(studio), mtimes(studio.workspace.out_dir)
    journal = len(studio.chain.journal.entries(studio.chain.chain_id))
    writes = receipt_writes(studio.db)

    events: list[Progress] = []
    again = Pipeline(studio, progress=events.append).run(spec)
    assert (again.summary.skipped, again.summary.new_assets, again.summary.restored) == (7, 0, 0)
    assert [e for e in events if e.stage is Stage.GENERATE] == [Progress(Stage.GENERATE, 0, 0)]
    assert Progress(Stage.CHECK_OUTPUTS, 7, 7) in events  # the exported files were checked
    assert again.anchor is not None and again.anchor.already_anchored
    assert again.anchor.tx_hash == first.anchor.tx_hash and again.anchor.receipts_updated == 0
    assert again.publish is not None and again.publish.transactions == []
    assert len(studio.chain.journal.entries(studio.chain.chain_id)) == journal  # nothing sent
    assert counts(studio) == before and writes == []
    assert mtimes(studio.workspace.out_dir) == files  # no file rewritten


def test_stages_resume_one_by_one_and_anchoring_an_anchored_log_sends_nothing(
    studio: Studio, anvil: NodeInfo, tmp_path: Path
) -> None:
    """A caller driving the stages itself (as the demo does): generate without anchoring, then
    anchor; anchoring the same checkpoint again finds its transaction and sends nothing."""
    pipeline = Pipeline(studio)
    loaded = pipeline.load(campaign(tmp_path / "c"))
    logged = pipeline.generate(pipeline.plan(pipeline.gate(loaded)))
    checkpointed = pipeline.checkpoint(logged)
    assert checkpointed.checkpoint is not None
    receipt = studio.log.receipt(Catalog(studio.db).assets("tiny")[0].cid)
    assert receipt is not None and receipt.anchor is None  # no anchoring asked: receipts unanchored
    pipeline.deploy()
    first = pipeline.anchor(checkpointed)
    journal = len(studio.chain.journal.entries(studio.chain.chain_id))
    writes = receipt_writes(studio.db)
    second = pipeline.anchor(pipeline.checkpoint(logged, receipts=False))
    assert second.anchor.already_anchored and second.anchor.tx_hash == first.anchor.tx_hash
    assert len(studio.chain.journal.entries(studio.chain.chain_id)) == journal and writes == []
    assert counts(studio)["LogCheckpoint"] == 1


def test_publishing_without_anchoring_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="publishing needs an anchored checkpoint"):
        PipelineOptions(anchor=False, publish=True)


@pytest.mark.parametrize("point", ["run.before_receipts", "tx-sent-anchor"])
def test_a_run_killed_between_checkpoint_and_receipts_resumes_with_each_receipt_anchored_once(
    studio: Studio, anvil: NodeInfo, tmp_path: Path, point: str
) -> None:
    """`mintloom run` (anchoring follows, so the checkpoint stage issues no receipts) SIGKILLed
    after signing the checkpoint or after sending the anchor: the rerun reuses the checkpoint,
    sends no second anchor and writes every receipt once, anchored."""
    spec = campaign(tmp_path / "c")
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(studio.workspace.root), "MINTLOOM_KEY_PASSWORD": PASSWORD,
           "MINTLOOM_CRASH_AT": point}  # fmt: skip
    killed = subprocess.run([sys.executable, "-m", "mintloom.cli.main", "run", str(spec)], env=env,
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert counts(studio)["ReceiptRow"] == 0 and counts(studio)["LogCheckpoint"] == 1

    writes = receipt_writes(studio.db)
    result = Pipeline(studio).run(spec)
    assert result.summary.new_assets == 0 and result.anchor is not None
    assert result.anchor.already_anchored == (point == "tx-sent-anchor")
    assert writes == ["INSERT"]
    assert counts(studio)["ReceiptRow"] == studio.log.size == 7 and counts(studio)["LogCheckpoint"] == 1
    assert len(studio.chain.journal.entries(studio.chain.chain_id, "anchor:7")) == 1
    for a in Catalog(studio.db).assets("tiny"):
        receipt = studio.log.receipt(a.cid)
        assert receipt is not None and receipt.anchor is not None
        assert receipt.anchor.tx_hash == result.anchor.tx_hash


def test_the_runner_is_handed_its_parts_and_never_reaches_up() -> None:
    """campaign/ sits below ledger, governance, verify and the studio: the runner and the writer
    import none of them (the studio hands them ``RunParts``)."""
    import ast

    import mintloom

    above = tuple(f"mintloom.{m}" for m in ("studio", "pipeline", "ledger", "governance", "verify"))
    for name in ("run.py", "writer.py"):
        tree = ast.parse((Path(mintloom.__file__).parent / "campaign" / name).read_text())
        imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert [m for m in imported if m.startswith(above)] == [], name
