"""The campaign pipeline: spec → gate → plan → generate → checkpoint → deploy → anchor → publish.

One object runs a campaign for every front end (``mintloom run``, ``mintloom demo``, the API, the
web studio). Each stage is a method taking the previous stage's typed output, so a caller can
stop anywhere or run the whole path with :meth:`Pipeline.run`:

>>> pipeline = Pipeline(studio, progress=print)
>>> result = pipeline.run(Path("campaign.yaml"), PipelineOptions(workers=4))

Every stage is idempotent and a rerun resumes: finished jobs are skipped (and their lost files
restored), a checkpoint that covers the log is reused, an anchored checkpoint is not sent again
and anchored receipts are never rewritten, and publishing attaches only what no range covers.
The licence gate runs before planning, so a refused run renders and generates nothing. Nothing
deploys implicitly: the deploy stage runs only when a later stage needs the chain and the
options allow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mintloom.campaign.execute import make_executor
from mintloom.campaign.plan import Plan, plan_campaign
from mintloom.campaign.run import CampaignRunner, RunSummary, checkpoint_log
from mintloom.campaign.spec import LoadedSpec, load_spec
from mintloom.engines.base import engine_registry
from mintloom.errors import ConfigError, LedgerError
from mintloom.faults import crash_point
from mintloom.progress import Progress, ProgressSink, Stage, no_progress
from mintloom.store.reviews import Reviews

if TYPE_CHECKING:
    from mintloom.governance.publish import PublishResult
    from mintloom.ledger.anchoring import AnchorResult
    from mintloom.provenance.log import SignedCheckpoint
    from mintloom.studio import Studio


@dataclass(frozen=True)
class PipelineOptions:
    workers: int = 1
    batch_size: int = 64
    anchor: bool = True
    """Anchor the log's checkpoint on chain after generating."""
    publish: bool = True
    """Attach licence terms, royalty split and lineage on chain (needs ``anchor``)."""
    deploy: bool = True
    """Deploy missing contracts before the first stage that needs them; without it a chain lacking
    them is refused by name (``NotDeployedError``)."""

    def __post_init__(self) -> None:
        if self.publish and not self.anchor:
            raise ConfigError("publishing needs an anchored checkpoint", hint="set anchor=True")


@dataclass(frozen=True)
class GatedSpec:
    """A spec whose ingredients' on-chain licence terms allow the run."""

    loaded: LoadedSpec
    lineage_checked: bool
    """False when the lineage names no ingredient (nothing to check)."""


@dataclass(frozen=True)
class PlannedRun:
    gated: GatedSpec
    plan: Plan


@dataclass(frozen=True)
class LoggedRun:
    """Every job generated, signed, stored, logged and exported."""

    planned: PlannedRun
    summary: RunSummary


@dataclass(frozen=True)
class CheckpointedRun:
    logged: LoggedRun
    checkpoint: SignedCheckpoint | None
    """None when the log is empty."""


@dataclass(frozen=True)
class AnchoredRun:
    checkpointed: CheckpointedRun
    anchor: AnchorResult


@dataclass(frozen=True)
class PipelineResult:
    loaded: LoadedSpec
    summary: RunSummary
    checkpoint: SignedCheckpoint | None
    anchor: AnchorResult | None = None
    publish: PublishResult | None = None


class Pipeline:
    """Runs campaigns of one studio (see the module docstring)."""

    def __init__(self, studio: Studio, *, progress: ProgressSink = no_progress) -> None:
        self.studio = studio
        self.progress = progress
        self._deployed = False

    def run(self, spec: Path | LoadedSpec, options: PipelineOptions | None = None) -> PipelineResult:
        """Every stage in order, as far as ``options`` say."""
        opts = options or PipelineOptions()
        loaded = spec if isinstance(spec, LoadedSpec) else self.load(spec)
        gated = self.gate(loaded, deploy=opts.deploy)
        crash_point("pipeline.gated")
        planned = self.plan(gated)
        crash_point("pipeline.planned")
        logged = self.generate(planned, workers=opts.workers, batch_size=opts.batch_size)
        checkpointed = self.checkpoint(logged, receipts=not opts.anchor)
        crash_point("pipeline.checkpointed")
        result = PipelineResult(loaded, logged.summary, checkpointed.checkpoint)
        if not opts.anchor:
            return result
        if opts.deploy:
            self.deploy()
        anchored = self.anchor(checkpointed)
        crash_point("pipeline.anchored")
        published = self.publish(anchored) if opts.publish else None
        return PipelineResult(loaded, logged.summary, checkpointed.checkpoint, anchored.anchor, published)

    # -- stages -----------------------------------------------------------------------------------
    def load(self, path: Path) -> LoadedSpec:
        with self._stage(Stage.LOAD):
            return load_spec(path)

    def gate(self, loaded: LoadedSpec, *, deploy: bool = True) -> GatedSpec:
        """Refuse the run if an ingredient's on-chain terms forbid it (``LicenseViolation``),
        before anything is planned. Only a lineage naming datasets or a model touches the chain."""
        lineage = loaded.spec.lineage
        if not (lineage.datasets or lineage.model):
            with self._stage(Stage.GATE):
                return GatedSpec(loaded, lineage_checked=False)
        if deploy:
            self.deploy()
        from mintloom.governance.gate import check_lineage

        with self._stage(Stage.GATE):
            check_lineage(self.studio.chain, self.studio.db, loaded.spec, loaded.path.parent)
        return GatedSpec(loaded, lineage_checked=True)

    def plan(self, gated: GatedSpec) -> PlannedRun:
        with self._stage(Stage.PLAN):
            rounds = Reviews(self.studio.db).rounds(gated.loaded.spec.campaign)
            return PlannedRun(gated, plan_campaign(gated.loaded, engine_registry(), rounds))

    def generate(self, planned: PlannedRun, *, workers: int = 1, batch_size: int = 64) -> LoggedRun:
        """Generate, sign, store, log and export the jobs not finished yet (progress per job), on
        the workspace's executor (``engine.executor``: a local pool or Ray)."""
        settings = self.studio.settings
        executor = make_executor(workers, settings.engine.executor, settings.ray)
        try:
            runner = self._runner(planned.gated.loaded, workers=workers, batch_size=batch_size)
            return LoggedRun(planned, runner.generate(planned.plan, executor))
        finally:
            executor.close()

    def checkpoint(self, logged: LoggedRun, *, receipts: bool = True) -> CheckpointedRun:
        """Sign a checkpoint of the log (reusing one that covers it). ``receipts=False`` when
        anchoring follows: the anchor stage then writes each receipt once, already anchored."""
        with self._stage(Stage.CHECKPOINT):
            cp = checkpoint_log(self.studio.log, self.studio.signer, receipts=receipts)
        logged.summary.checkpoint_size = cp.size if cp is not None else 0
        return CheckpointedRun(logged, cp)

    def deploy(self) -> dict[str, str]:
        """Deploy the contracts missing on the configured chain (once per pipeline)."""
        if self._deployed:
            return self.studio.contracts()
        with self._stage(Stage.DEPLOY):
            addresses = self.studio.contracts()
        self._deployed = True
        return addresses

    def anchor(self, checkpointed: CheckpointedRun) -> AnchoredRun:
        """Anchor the checkpoint (nothing is sent if it is on chain already)."""
        from mintloom.ledger.anchoring import anchor_checkpoint

        cp = checkpointed.checkpoint
        if cp is None:
            raise LedgerError("the log is empty: nothing to anchor", hint="run a campaign first")
        with self._stage(Stage.ANCHOR):
            result = anchor_checkpoint(self.studio.chain, self.studio.log, cp)
        return AnchoredRun(checkpointed, result)

    def publish(self, anchored: AnchoredRun) -> PublishResult:
        """Attach the campaign's licence terms, royalty split and lineage to its anchored leaves."""
        from mintloom.governance.publish import publish_campaign

        spec = anchored.checkpointed.logged.planned.gated.loaded.spec
        with self._stage(Stage.PUBLISH):
            blobs = self.studio.blobs
            anchor = self.studio.keys.trust_anchor_pem() if spec.governance.require_review else None
            chain, db = self.studio.chain, self.studio.db
            return publish_campaign(chain, db, spec, blobs=blobs, trust_anchor_pem=anchor)

    # -- helpers ----------------------------------------------------------------------------------
    def _runner(self, loaded: LoadedSpec, *, workers: int = 1, batch_size: int = 64) -> CampaignRunner:
        parts = self.studio.run_parts()
        return CampaignRunner(parts, loaded, workers=workers, batch_size=batch_size, progress=self.progress)

    def _stage(self, stage: Stage) -> _StageEvents:
        return _StageEvents(self.progress, stage)


class _StageEvents:
    """Reports a one-shot stage's start and, if it succeeds, its end."""

    def __init__(self, sink: ProgressSink, stage: Stage) -> None:
        self.sink, self.stage = sink, stage

    def __enter__(self) -> None:
        self.sink(Progress(self.stage, 0, 1))

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.sink(Progress(self.stage, 1, 1))
