"""Run a campaign: generate (executor) → sign (C2PA) → store + log → export, then checkpoint.

The runner is handed its parts (:class:`RunParts`) and never reaches up to the studio or the
chain: the licence gate, anchoring and publishing are stages of :mod:`mintloom.pipeline`.

Finished assets are committed in batches through the one :class:`CatalogWriter`; each batch
writes its blobs first (content-addressed, so a crash leaves at most unreferenced blobs), then
the catalog rows, the lineage edges, the finished jobs, their exports and the transparency-log
leaves in one database transaction. A crash or an error therefore never leaves a half-written
asset, and re-running the same spec resumes: jobs whose key is finished are skipped, and their
exported files are checked and rewritten from the blob store if a crash (or anything else) lost
them. Files are exported atomically (temp file, fsync, rename). :func:`checkpoint_log` then signs
a checkpoint of the log and gives every new asset a receipt.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from mintloom.campaign.execute import Executor, Generated, generate_job, make_executor
from mintloom.campaign.plan import Job, Kind, Plan, PlannedJob, ordered, plan_campaign
from mintloom.campaign.qa import QAReport, evaluate
from mintloom.campaign.spec import LoadedSpec
from mintloom.campaign.tagging import Tagged, asset_metadata, tag
from mintloom.campaign.writer import BatchRows, BatchTransaction, CatalogWriter
from mintloom.engines.base import Artifact, Engine, engine_registry
from mintloom.errors import CatalogError, ExecutionError, LayoutError, MintloomError
from mintloom.faults import crash_point
from mintloom.progress import Progress, ProgressSink, Stage, no_progress
from mintloom.provenance.commitments import salted_commitment, seed_commitment, segment_commitment
from mintloom.provenance.credentials import (
    AssetSigner,
    DigitalSourceType,
    GenerationParameters,
    GenerationRecord,
    Parent,
    SignedAsset,
    derived_source_type,
)
from mintloom.provenance.keys import Signer
from mintloom.provenance.log import SignedCheckpoint, TransparencyLog
from mintloom.provenance.xmp import embed_xmp, embeds_xmp, xmp_packet
from mintloom.store.annotations import AltTextRow, Annotations, QARow, TagRow
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import (
    AssetRow,
    Catalog,
    ExportRow,
    FingerprintRow,
    JobRow,
    LineageEdge,
    to_signed64,
)
from mintloom.store.cid import cid_for, cid_matches
from mintloom.store.db import Database
from mintloom.store.files import contained, write_atomic_many
from mintloom.store.reviews import Reviews
from mintloom.store.thumbnails import ThumbnailRow, make_thumbnail

RESTORE_BATCH = 64
"""Lost files rewritten per flush to disk when a rerun restores a campaign's exports."""

PHASES: tuple[Kind, ...] = ("image", "copy", "audio")
"""The order the runner generates, signs and logs the kinds in, one kind after the other.

A run's leaves of one kind are therefore contiguous in the log, so publishing attaches a
checkpoint's licence terms (set per kind) as one leaf range per kind instead of one per asset.
Publishing stays correct without it (it derives its ranges from the leaves), only costlier."""


def phases(jobs: list[PlannedJob | Job]) -> Iterator[tuple[Kind, list[PlannedJob | Job]]]:
    """``jobs`` split per kind in :data:`PHASES` order, keeping their order (parents first)."""
    for kind in PHASES:
        yield kind, [j for j in jobs if j.kind == kind]


@dataclass(frozen=True)
class RunParts:
    """What a run writes to, handed in by the studio (campaign sits below it)."""

    db: Database
    log: TransparencyLog
    asset_signer: AssetSigner
    """Signs each asset's Content Credential."""
    signer: Signer
    """Signs the log's checkpoints."""
    blobs: BlobStore
    out_root: Path
    """The workspace's out/ folder; a campaign exports into ``out_root / campaign``."""


STAGES: tuple[str, ...] = (
    "generate",
    "encode",
    "fingerprint",
    "qa",
    "thumbnail",
    "tag",
    "sign",
    "cid",
    "log",
    "catalog",
    "export",
)
"""The stages a run's time is clocked in: the first five in the workers, the rest here
(``thumbnail`` is the gallery's; ``tag`` is tagging, alt text and embedding the XMP; the QA verdict
is in ``qa`` too).
``log`` is appending the leaves; ``catalog`` is the blobs, the rows and the commit around it."""


@dataclass
class StageClock:
    """Seconds per kind and stage of one run: a few ``perf_counter`` calls per asset, so that
    the slowest stage is visible (``mintloom.bench`` reads it) without a profiler."""

    seconds: dict[str, dict[str, float]] = field(default_factory=dict)
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    """The same stages in CPU seconds of the thread that ran them: on a shared machine the wall
    clock also counts the waits for a core, the CPU clock only the work."""

    def get(self, kind: str, stage: str) -> float:
        return self.seconds.get(kind, {}).get(stage, 0.0)

    def get_cpu(self, kind: str, stage: str) -> float:
        return self.cpu.get(kind, {}).get(stage, 0.0)

    def add(self, kind: str, stage: str, dt: float, cpu: float = 0.0) -> None:
        for clock, value in ((self.seconds, dt), (self.cpu, cpu)):
            per_kind = clock.setdefault(kind, {})
            per_kind[stage] = per_kind.get(stage, 0.0) + value

    @contextmanager
    def timed(self, kind: str, stage: str) -> Iterator[None]:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.add(kind, stage, time.perf_counter() - t0, time.thread_time() - c0)


@dataclass
class RunSummary:
    campaign: str
    planned: int
    skipped: int
    generated: dict[str, int] = field(default_factory=dict)
    log_size: int = 0
    checkpoint_size: int = 0
    out_dir: Path | None = None
    seconds: float = 0.0
    restored: int = 0
    """Files of already finished jobs that were missing or damaged and were written again."""
    clock: StageClock = field(default_factory=StageClock)

    @property
    def new_assets(self) -> int:
        return sum(self.generated.values())


@dataclass
class _Signed:
    job: Job
    gen: Generated
    signed: SignedAsset
    cid: str
    model_id: str | None
    """The trained model the manifest names (None: procedural output)."""
    tagged: Tagged | None = None
    qa: QAReport | None = None

    @property
    def extension(self) -> str:
        assert self.gen.artifact is not None
        return self.gen.artifact.extension


class _SignedParent(NamedTuple):
    """A signed parent asset, kept while children still need it."""

    data: bytes
    media_type: str
    cid: str
    model_id: str | None
    """The trained model its manifest names: a procedural child of it composites model output."""
    thumbnail: bytes | None = None
    """Its gallery thumbnail from the worker: its children's ingredient thumbnail is scaled from it."""


def _labelled_source(art: Artifact, parent: _SignedParent | None) -> tuple[DigitalSourceType, str | None]:
    """The asset's digital source type and the model its manifest names: the engine's own label,
    made a composite when a procedural engine derived it from a parent holding model output."""
    inherited = parent.model_id if parent is not None else None
    source_type = derived_source_type(art.source_type, inherited is not None)
    return source_type, art.model_id or (inherited if source_type.names_model else None)


def recorded_parameters(art: Artifact, salt: bytes) -> GenerationParameters:
    """The artifact's allow-listed parameters plus, for a model engine, its prompt's commitment
    (the engine rendered the prompt, so only the artifact knows it)."""
    if art.prompt is None:
        return art.parameters
    return art.parameters.model_copy(
        update={"prompt_commitment": salted_commitment(salt, "prompt", art.prompt)}
    )


@dataclass
class _RunState:
    """One run's bookkeeping: the jobs, what is finished, what waits for its parent, the batch."""

    salt: bytes
    jobs: dict[str, Job]
    """The jobs sent to the executor and not signed yet (built from the plan as they are sent:
    all of a run's jobs held ~3.4 KB each for the whole run)."""
    done: dict[str, str]
    """Job key → asset CID of jobs finished before this run."""
    is_parent: set[str]
    """Keys of the jobs with children to sign that are not signed yet themselves."""
    total: int
    summary: RunSummary
    cid_of: dict[str, str] = field(default_factory=dict)
    """Job key → asset CID of the parents whose children are not all committed yet."""
    signed_parents: dict[str, _SignedParent] = field(default_factory=dict)
    """Job key → its signed asset, kept only for jobs with a child still to sign."""
    children_left: Counter[str] = field(default_factory=Counter)
    """Job key → its children not signed yet: at 0 its bytes leave ``signed_parents`` (else
    every master's bytes stayed in memory for the whole run, ~20 KB per asset at scale)."""
    waiting: dict[str, list[Generated]] = field(default_factory=dict)
    signed_texts: dict[str, _Signed] = field(default_factory=dict)
    """Content CID of the unsigned text → the item that signed it in this run."""
    batch: list[_Signed] = field(default_factory=list)
    finished: int = 0
    signed_layers: dict[bytes, Parent] = field(default_factory=dict)
    """sha-256 of a model layer's bytes → it signed: one hero, signed once, in every format."""


def checkpoint_log(log: TransparencyLog, signer: Signer, *, receipts: bool = True) -> SignedCheckpoint | None:
    """Sign a checkpoint of the whole log (the stored one if it covers the log already) and, with
    ``receipts``, give every leaf without one a receipt (skipped when anchoring follows, which
    writes them once, anchored). None when the log is empty."""
    crash_point("run.before_checkpoint")
    log.refresh()
    if not log.size:
        return None
    cp = log.checkpoint(signer)
    crash_point("run.before_receipts")
    if receipts:
        log.issue_receipts(cp)
    return cp


class CampaignRunner:
    exports = True
    """Export finished assets into the out folder (dynamic renders are served, not exported)."""
    thumbnails = True
    """Store the gallery's thumbnails with the assets."""
    decoded_thumbnails = True
    """Decode an image whose worker made no thumbnail, to make one (a served renderer does not: its
    workers make every image's, and decoding would sit on the response's path)."""

    def __init__(
        self,
        parts: RunParts,
        loaded: LoadedSpec,
        *,
        workers: int = 1,
        batch_size: int = 64,
        progress: ProgressSink = no_progress,
        executor: Executor | None = None,
        engines: dict[str, Engine] | None = None,
    ) -> None:
        self.parts = parts
        self.loaded = loaded
        self.spec = loaded.spec
        self.workers = workers
        self.batch_size = batch_size
        self.progress = progress
        self._executor = executor
        self.engines = engines or engine_registry()
        self.catalog = Catalog(parts.db)
        self.writer = CatalogWriter(parts.db, parts.log)
        self.blobs = parts.blobs
        self.out_dir = parts.out_root / self.spec.campaign

    def plan(self) -> Plan:
        return plan_campaign(self.loaded, self.engines, Reviews(self.parts.db).rounds(self.spec.campaign))

    def run(self) -> RunSummary:
        """Plan, generate what is not finished yet, then checkpoint the log."""
        summary = self.generate(self.plan())
        cp = checkpoint_log(self.parts.log, self.parts.signer)
        summary.checkpoint_size = cp.size if cp is not None else 0
        return summary

    def generate(self, plan: Plan, executor: Executor | None = None) -> RunSummary:
        """Generate, sign, store, log and export every job of ``plan`` not finished yet, on
        ``executor`` (else the runner's own; one it made itself is closed at the end)."""
        t0 = time.perf_counter()
        state = self._start(plan)
        given = executor or self._executor
        executor = given or make_executor(self.workers)
        try:
            for _kind, entries in phases([j for j in ordered(plan.entries) if j.key not in state.done]):
                for gen in executor.map_unordered(generate_job, self._sent(state, plan, entries)):
                    self._accept(state, gen)
                self._flush(state)
        finally:
            if given is None:
                executor.close()
        if state.waiting:
            missing = ", ".join(sorted(state.waiting))
            raise ExecutionError(f"variants wait for parents that never finished: {missing}")
        self.parts.log.refresh()
        state.summary.log_size = self.parts.log.size
        state.summary.seconds = time.perf_counter() - t0
        return state.summary

    @staticmethod
    def _sent(state: _RunState, plan: Plan, entries: list[PlannedJob | Job]) -> Iterator[Job]:
        """Each entry's whole job, built as the executor takes it and held until it is signed."""
        for entry in entries:
            job = plan.job(entry)
            state.jobs[job.key] = job
            yield job

    # -- run state --------------------------------------------------------------------------------
    def _start(self, plan: Plan) -> _RunState:
        """Record the campaign, restore the finished jobs' files and set up the run's state."""
        existing = self.catalog.campaign(self.spec.campaign)
        salt = existing.salt if existing is not None else os.urandom(32)
        self.writer.ensure_campaign(self.spec.campaign, self.loaded.spec_hash, salt)
        done = self.catalog.done_jobs(self.spec.campaign)
        todo = [j for j in plan.entries if j.key not in done]
        summary = RunSummary(self.spec.campaign, len(plan), len(plan) - len(todo), out_dir=self.out_dir)
        summary.restored = self._restore(plan, done)
        children_left = Counter[str](j.parent for j in todo if j.parent is not None)
        state = _RunState(
            salt,
            {},
            done,
            set(children_left),
            len(todo),
            summary,
            cid_of={p: done[p] for p in children_left if p in done},
            children_left=children_left,
        )
        self.progress(Progress(Stage.GENERATE, 0, state.total))
        return state

    def _accept(self, state: _RunState, gen: Generated) -> None:
        """Sign a finished job, then any of its children that waited for it (depth first)."""
        self._raise_failed(state, gen)
        kind = state.jobs[gen.job_key].kind
        cpu = dict(gen.cpu_seconds)
        for stage, dt in gen.seconds:
            state.summary.clock.add(kind, stage, dt, cpu.get(stage, 0.0))
        ready = [gen]
        while ready:
            current = ready.pop()
            job = state.jobs[current.job_key]
            parent = self._parent_of(state, job)
            if job.parent is not None and parent is None:
                state.waiting.setdefault(job.parent, []).append(current)
                continue
            self._sign_one(state, job, current, parent)
            ready.extend(reversed(state.waiting.pop(job.key, [])))

    def _raise_failed(self, state: _RunState, gen: Generated) -> None:
        """A failed job stops the run; the finished batch is committed first."""
        if gen.error is None:
            return
        self._flush(state)
        job = state.jobs[gen.job_key]
        cls = LayoutError if gen.error_type == "LayoutError" else ExecutionError
        raise cls(
            f"job {job.title} ({job.kind}, segment {job.segment}, locale {job.locale}, "
            f"format {job.format}) failed: {gen.error}",
            hint="fix the spec and run again: finished assets are kept and skipped",
        )

    def _parent_of(self, state: _RunState, job: Job) -> _SignedParent | None:
        """The signed parent of ``job``, or None if it is not signed yet."""
        if job.parent is None:
            return None
        if job.parent in state.signed_parents:
            return state.signed_parents[job.parent]
        cid = state.done.get(job.parent)
        if cid is None:
            return None
        row = self.catalog.asset(cid)
        if row is None:
            raise CatalogError(f"finished job {job.parent} points at a missing asset {cid}")
        hit = _SignedParent(self.blobs.get(cid), row.media_type, cid, row.model_id)
        state.signed_parents[job.parent] = hit
        return hit

    def _sign_one(self, state: _RunState, job: Job, gen: Generated, parent: _SignedParent | None) -> None:
        # copy is text, which carries its manifest embedded: identical text is signed once
        text = cid_for(gen.artifact.data) if job.kind == "copy" and gen.artifact is not None else None
        item = (text and self._signed_before(state, job, gen, text)) or self._sign(state, job, gen, parent)
        if text is not None:
            state.signed_texts.setdefault(text, item)
        if job.key in state.is_parent:
            state.is_parent.discard(job.key)  # signed: held below until its children are
            kept = _SignedParent(
                item.signed.data, item.signed.media_type, item.cid, item.model_id, item.gen.thumbnail
            )
            state.signed_parents[job.key] = kept
            state.cid_of[job.key] = item.cid
        if job.parent is not None:
            state.children_left[job.parent] -= 1
            if state.children_left[job.parent] <= 0:
                state.signed_parents.pop(job.parent, None)
        state.jobs.pop(job.key, None)
        state.batch.append(item)
        state.finished += 1
        self.progress(Progress(Stage.GENERATE, state.finished, state.total))
        crash_point("run.job")
        if len(state.batch) >= self.batch_size:
            self._flush(state)

    # -- steps ------------------------------------------------------------------------------------
    def _signed_before(self, state: _RunState, job: Job, gen: Generated, content: str) -> _Signed | None:
        """The signed asset of the text whose unsigned CID is ``content``, signed earlier in this run
        or logged before: text carries its manifest embedded, so signing it again would make other
        bytes, and identical copy is one asset (it ships the logged manifest, as before)."""
        if (prev := state.signed_texts.get(content)) is not None:
            return _Signed(job, gen, prev.signed, prev.cid, prev.model_id)
        row = self.catalog.signed_text(content)
        sidecar = row.logged_sidecar_cid if row is not None else None
        if row is None or sidecar is None:
            return None
        data, manifest = self.blobs.get(row.cid), self.blobs.get(sidecar)
        signed = SignedAsset(data, row.media_type, manifest, bytes(row.manifest_hash), sidecar=True)
        return _Signed(job, gen, signed, row.cid, row.model_id)

    def _sign(self, state: _RunState, job: Job, gen: Generated, parent: _SignedParent | None) -> _Signed:
        art = gen.artifact
        assert art is not None
        lineage, salt = self.spec.lineage, state.salt
        job_id = salted_commitment(salt, "job", job.key)  # the key hashes audience data
        source_type, model_id = _labelled_source(art, parent)
        record = GenerationRecord(
            engine=art.engine,
            engine_version=art.engine_version,
            model_id=model_id,
            model_hash=art.model_hash,
            recipe=None if source_type.names_model else lineage.model,
            dataset_ids=lineage.datasets,
            template_hash=job.template_hash,
            seed_commitment=seed_commitment(salt, art.seed),
            parameters=recorded_parameters(art, salt),
            campaign=self.spec.campaign,
            segment_commitment=segment_commitment(salt, job.segment),
            locale=job.locale or "und",
            source_locale=job.source_locale,
            format=job.format,
            action=job.action,
            source_type=source_type,
            ai_training=lineage.ai_training,
            job_id=job_id,
            caption_model_id=gen.caption.model_id if gen.caption else None,
            caption_model_hash=gen.caption.model_hash if gen.caption else None,
        )
        par = None
        if parent is not None:
            par = Parent(parent.data, parent.media_type, parent.cid, preview=parent.thumbnail)
        clock = state.summary.clock
        with clock.timed(job.kind, "qa"):
            report = evaluate(gen.qa, self.spec.qa, job.format) if gen.qa is not None else None
        with clock.timed(job.kind, "tag"):
            caption = gen.caption.data.decode("utf-8") if gen.caption else None
            tagged = tag(self.spec, job, art, caption)
            data = self._with_xmp(job, art, tagged, source_type)
        with clock.timed(job.kind, "sign"):
            layers = tuple(self._sign_layer(state, job, layer) for layer in art.layers)
            signed = self.parts.asset_signer.sign(
                # the title names the campaign and the (salted) job, never the segment or the raw key
                data,
                art.media_type,
                record,
                title=f"{self.spec.campaign}-{job_id[:16]}.{art.extension}",
                parent=par,
                components=layers,
            )
        with clock.timed(job.kind, "cid"):
            cid = cid_for(signed.data)
        return _Signed(job, gen, signed, cid, model_id, tagged, report)

    def _with_xmp(self, job: Job, art: Artifact, tagged: Tagged, source_type: DigitalSourceType) -> bytes:
        """An image or WAV sound logo with its IPTC/XMP metadata embedded, before signing (so the
        hard binding covers it); text and FLAC as they are (no XMP container: ``provenance.xmp``)."""
        if job.kind == "copy" or not embeds_xmp(art.media_type):
            return art.data
        meta = asset_metadata(self.spec, job, tagged, source_type.value)
        return embed_xmp(art.data, art.media_type, xmp_packet(meta))

    def _sign_layer(self, state: _RunState, job: Job, layer: Artifact) -> Parent:
        """A model layer signed as its own trainedAlgorithmicMedia image (model, weights hash,
        prompt template hash and the prompt's salted commitment), once per run and layer."""
        digest = hashlib.sha256(layer.data).digest()
        if (done := state.signed_layers.get(digest)) is not None:
            return done
        salt = state.salt
        layer_id = salted_commitment(salt, "layer", digest.hex())
        record = GenerationRecord(
            engine=layer.engine,
            engine_version=layer.engine_version,
            model_id=layer.model_id,
            model_hash=layer.model_hash,
            dataset_ids=self.spec.lineage.datasets,
            template_hash=layer.template_hash,
            seed_commitment=seed_commitment(salt, layer.seed),
            parameters=recorded_parameters(layer, salt),
            campaign=self.spec.campaign,
            segment_commitment=segment_commitment(salt, job.segment),
            locale=job.locale or "und",
            source_type=DigitalSourceType.TRAINED_ALGORITHMIC,
            ai_training=self.spec.lineage.ai_training,
        )
        title = f"{self.spec.campaign}-layer-{layer_id[:16]}.{layer.extension}"
        signed = self.parts.asset_signer.sign(layer.data, layer.media_type, record, title=title)
        if len(state.signed_layers) >= 16:  # a design's formats are signed together: keep a few
            state.signed_layers.pop(next(iter(state.signed_layers)))
        state.signed_layers[digest] = Parent(data=signed.data, media_type=signed.media_type, title=title)
        return state.signed_layers[digest]

    def _flush(self, state: _RunState) -> None:
        """Commit the batch (blobs, then rows and leaves in one transaction), then export it."""
        if not state.batch:
            return
        items = list(state.batch)
        state.batch.clear()
        clock, kind = state.summary.clock, items[0].job.kind  # a batch is one kind (PHASES)
        t0, c0 = time.perf_counter(), time.thread_time()
        log_before, log_cpu_before = clock.get(kind, "log"), clock.get_cpu(kind, "log")
        thumbs = _thumbnails(items, decode=self.decoded_thumbnails) if self.thumbnails else {}
        # blobs first, durable together: content-addressed, harmless if the transaction fails
        self.blobs.put_many(
            [it.signed.data for it in items] + [it.signed.manifest for it in items if it.signed.sidecar]
            + [data for data, _row in thumbs.values()]
        )  # fmt: skip
        with self.writer.batch() as tx:
            exports = self._commit(tx, items, state.cid_of, clock)
            tx.add_thumbnails([row for _data, row in thumbs.values()])
        logging, logging_cpu = (
            clock.get(kind, "log") - log_before,
            clock.get_cpu(kind, "log") - log_cpu_before,
        )
        clock.add(kind, "catalog", time.perf_counter() - t0 - logging, time.thread_time() - c0 - logging_cpu)
        crash_point("run.after_commit")
        for it in items:  # a parent's CID is needed until its last child is committed
            if it.job.parent is not None and state.children_left[it.job.parent] <= 0:
                state.cid_of.pop(it.job.parent, None)
                state.children_left.pop(it.job.parent, None)
        generated = state.summary.generated
        with clock.timed(kind, "export"):
            self._export_many([(exp.path, it.signed.data, self._sidecar(it, exp)) for it, exp in exports])
        for it in items:
            generated[it.job.kind] = generated.get(it.job.kind, 0) + 1

    def _sidecar(self, it: _Signed, exp: ExportRow) -> bytes | None:
        """The logged sidecar an export ships: the one signed here, else the stored one (identical
        bytes logged before ship that asset's manifest)."""
        if exp.sidecar_cid is None:
            return None
        if it.signed.sidecar and cid_matches(exp.sidecar_cid, it.signed.manifest):
            return it.signed.manifest
        return self.blobs.get(exp.sidecar_cid)

    def _commit(
        self, tx: BatchTransaction, items: list[_Signed], cid_of: dict[str, str], clock: StageClock
    ) -> list[tuple[_Signed, ExportRow]]:
        """Write a batch's assets, log leaves, lineage, jobs and exports in the transaction ``tx``;
        returns the files to export (an asset held by the QA gate has none).

        Identical bytes are one asset (content addressing): a job whose output another job
        already produced points at that asset instead of logging it twice, and ships that asset's
        logged manifest, so every exported file is exactly what the log names."""
        sidecar_of = tx.logged_sidecars({it.cid for it in items})
        fresh: dict[str, _Signed] = {}
        for it in items:
            if it.cid not in sidecar_of:
                fresh.setdefault(it.cid, it)
        parents = {c: _parent_cid(cid_of, it.job.parent) for c, it in fresh.items() if it.job.parent}
        with clock.timed(items[0].job.kind, "log"):
            indices = tx.append_leaves([(c, it.signed.manifest_hash) for c, it in fresh.items()], parents)
        rows = BatchRows()
        for (cid, it), idx in zip(fresh.items(), indices, strict=True):
            sidecar_of[cid] = self.blobs.put(it.signed.manifest) if it.signed.sidecar else None
            self._add_asset(rows, it, idx, sidecar_of[cid], parents.get(cid))
            _add_annotations(rows, self.spec.campaign, it)
        held = tx.held({it.cid for it in items}) | {c for c, it in fresh.items() if it.qa and it.qa.held}
        exports: list[tuple[_Signed, ExportRow]] = []
        for it in items:
            rows.jobs.append(
                JobRow(
                    key=it.job.key,
                    campaign=self.spec.campaign,
                    kind=it.job.kind,
                    segment=it.job.segment,
                    locale=it.job.locale,
                    format=it.job.format,
                    asset_cid=it.cid,
                )
            )
            if it.cid in held or not self.exports:
                continue  # held by the QA gate (logged, never exported), or served, not exported
            exp = ExportRow(
                campaign=self.spec.campaign,
                path=self._path(it.job, it.extension),
                cid=it.cid,
                sidecar_cid=sidecar_of[it.cid],
            )
            rows.exports.append(exp)
            exports.append((it, exp))
        tx.add(rows)
        return exports

    def _add_asset(
        self, rows: BatchRows, it: _Signed, leaf_index: int, sidecar_cid: str | None, parent_cid: str | None
    ) -> None:
        """A new asset's row, fingerprints and lineage edge."""
        rows.assets.append(self._asset_row(it, leaf_index, sidecar_cid))
        rows.fingerprints.extend(
            FingerprintRow(cid=it.cid, phash=to_signed64(p), dhash=to_signed64(d))
            for p, d in it.gen.fingerprints
        )
        if parent_cid is not None:
            rows.edges.append(
                LineageEdge(
                    parent_cid=parent_cid, child_cid=it.cid, relation=it.job.action.removeprefix("c2pa.")
                )
            )

    def _asset_row(self, it: _Signed, leaf_index: int, sidecar_cid: str | None) -> AssetRow:
        art, job = it.gen.artifact, it.job
        assert art is not None
        fmt = job.request.format
        tags = {**art.tags, "kind": job.kind, "engine": art.engine}
        return AssetRow(
            cid=it.cid,
            content_cid=cid_for(art.data),
            campaign=self.spec.campaign,
            job_key=job.key,
            kind=job.kind,
            media_type=art.media_type,
            extension=art.extension,
            sidecar_cid=sidecar_cid,
            manifest_hash=it.signed.manifest_hash,
            leaf_index=leaf_index,
            segment=job.segment,
            locale=job.locale,
            format=job.format,
            width=fmt.width if fmt and job.kind == "image" else None,
            height=fmt.height if fmt and job.kind == "image" else None,
            engine=art.engine,
            engine_version=art.engine_version,
            model_id=it.model_id,
            seed=art.seed,
            tags=json.dumps(tags, sort_keys=True, default=str),
            path=f"{job.title}.{art.extension}",
        )

    @staticmethod
    def _path(job: PlannedJob | Job, extension: str) -> str:
        """Where a job's file goes, relative to the campaign's output folder."""
        return f"{job.title}.{extension}"

    def _restore(self, plan: Plan, done: dict[str, str]) -> int:
        """Record the finished jobs of ``plan`` as the campaign's exports, and rewrite from the
        blob store each of their files (or sidecars) that is missing or differs from the logged
        bytes: a crash between a batch's commit and its export loses nothing. Stale temp files of
        an interrupted export are removed. Returns how many files were rewritten."""
        self._remove_stale_tmp()
        assets = self.catalog.job_files(self.spec.campaign)
        held = Annotations(self.parts.db).held(self.spec.campaign)
        exports: list[ExportRow] = []
        for job in plan.entries:
            if job.key not in done or done[job.key] in held:
                continue
            row = assets.get(job.key)
            if row is None:
                raise CatalogError(f"finished job {job.title} points at a missing asset {done[job.key]}")
            exports.append(
                ExportRow(
                    campaign=self.spec.campaign,
                    path=self._path(job, row.extension),
                    cid=row.cid,
                    sidecar_cid=row.sidecar_cid,
                )
            )
        self.writer.set_exports(self.spec.campaign, exports)
        restored = 0
        lost: list[ExportRow] = []
        for i, exp in enumerate(exports, 1):
            if not self._intact(exp):
                lost.append(exp)
            if len(lost) >= RESTORE_BATCH or (lost and i == len(exports)):
                self._export_many([(e.path, self.blobs.get(e.cid), self._stored_sidecar(e)) for e in lost])
                restored, lost = restored + len(lost), []
            self.progress(Progress(Stage.CHECK_OUTPUTS, i, len(exports)))
        return restored

    def _stored_sidecar(self, exp: ExportRow) -> bytes | None:
        return self.blobs.get(exp.sidecar_cid) if exp.sidecar_cid else None

    def _intact(self, exp: ExportRow) -> bool:
        """The exported file (and sidecar) holds the logged bytes: size first, then the hash."""
        target = self.out_dir / exp.path
        pairs = [(target, exp.cid)]
        if exp.sidecar_cid is not None:
            pairs.append((target.with_name(target.name + ".c2pa"), exp.sidecar_cid))
        for path, cid in pairs:
            try:  # a symlink is not a file we wrote, even if it points at the right bytes
                if (
                    path.is_symlink()
                    or path.stat().st_size != self.blobs.size(cid)
                    or not cid_matches(cid, path.read_bytes())
                ):
                    return False
            except OSError:
                return False
        return True

    def _remove_stale_tmp(self) -> None:
        try:
            for tmp in self.out_dir.rglob("*.tmp"):
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise ExecutionError(f"cannot clean up temp files in {self.out_dir}: {exc}") from exc

    def _export_many(self, files: list[tuple[str, bytes, bytes | None]]) -> None:
        """Write exported files (each sidecar before its file) atomically, with one flush to disk
        for all of them (:func:`write_atomic_many`)."""
        writes: list[tuple[Path, bytes]] = []
        try:
            for path, data, sidecar in files:
                target = contained(self.parts.out_root, self.out_dir / path)
                target.parent.mkdir(parents=True, exist_ok=True)
                if sidecar is not None:
                    writes.append((target.with_name(target.name + ".c2pa"), sidecar))
                writes.append((target, data))
            write_atomic_many(writes, before_rename=lambda: crash_point("run.export"))
        except OSError as exc:
            raise ExecutionError(f"cannot export {len(files)} files to {self.out_dir}: {exc}") from exc


def _thumbnails(items: list[_Signed], *, decode: bool) -> dict[str, tuple[bytes, ThumbnailRow]]:
    """The gallery thumbnail of each image of the batch (its worker's, else decoded here unless
    ``decode`` is off), for its transaction."""
    made: dict[str, tuple[bytes, ThumbnailRow]] = {}
    for it in items:
        if it.gen.thumbnail is None and not decode:
            continue
        if it.cid not in made and (
            thumb := make_thumbnail(it.cid, it.signed.media_type, it.signed.data, it.gen.thumbnail)
        ):
            made[it.cid] = thumb
    return made


def _add_annotations(rows: BatchRows, campaign: str, it: _Signed) -> None:
    """A new asset's QA report, tags and alt texts."""
    if it.qa is not None:
        rows.qa.append(QARow(cid=it.cid, campaign=campaign, held=it.qa.held, report=it.qa.model_dump_json()))
    if it.tagged is not None:
        rows.tags.extend(
            TagRow(cid=it.cid, key=k, value=v.lower()) for k, vs in it.tagged.tags.items() for v in set(vs)
        )
        rows.alt_texts.extend(
            AltTextRow(cid=it.cid, locale=loc, text=text) for loc, text in it.tagged.alt_text.items()
        )


def _parent_cid(cid_of: dict[str, str], parent_key: str) -> str:
    cid = cid_of.get(parent_key)
    if cid is None:
        raise MintloomError(f"parent job {parent_key} has no asset")
    return cid
