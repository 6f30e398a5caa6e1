"""Run a campaign: plan → generate (executor) → sign (C2PA) → store + log → export → checkpoint.

Finished assets are committed in batches; each batch writes its blobs first (content-addressed,
so a crash leaves at most unreferenced blobs), then the catalog rows, the lineage edges, the
finished jobs, their exports and the transparency-log leaves in one database transaction. A
crash or an error therefore never leaves a half-written asset, and re-running the same spec
resumes: jobs whose key is finished are skipped, and their exported files are checked and
rewritten from the blob store if a crash (or anything else) lost them. Files are exported
atomically (temp file, fsync, rename). At the end the log gets a signed checkpoint and every
new asset a receipt.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mintloom.campaign.execute import Executor, Generated, generate_job, make_executor
from mintloom.campaign.plan import Job, Plan, ordered, plan_campaign
from mintloom.campaign.spec import LoadedSpec
from mintloom.engines.base import Engine, engine_registry
from mintloom.errors import CatalogError, ExecutionError, LayoutError, MintloomError
from mintloom.faults import crash_point
from mintloom.provenance.credentials import (
    AssetSigner,
    DigitalSourceType,
    GenerationParameters,
    GenerationRecord,
    Parent,
    SignedAsset,
)
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import (
    AssetRow,
    Catalog,
    ExportRow,
    FingerprintRow,
    JobRow,
    LineageEdge,
    logged_sidecar,
    to_signed64,
)
from mintloom.store.cid import cid_for, cid_matches
from mintloom.store.files import contained, write_atomic
from mintloom.studio import Studio

KIND_ORDER = ("image", "copy", "audio")

Progress = Callable[[str, int, int], None]
"""(stage, done, total) callback; the CLI turns it into a progress bar."""

Gate = Callable[[Plan], None]
"""Checked before anything is generated; raises to refuse the run (licence gate)."""


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

    @property
    def new_assets(self) -> int:
        return sum(self.generated.values())


@dataclass
class _Signed:
    job: Job
    gen: Generated
    signed: SignedAsset
    cid: str

    @property
    def extension(self) -> str:
        assert self.gen.artifact is not None
        return self.gen.artifact.extension


def segment_commitment(salt: bytes, segment: str | None) -> str:
    """Salted hash of the audience segment: links assets of one segment without revealing it."""
    return hashlib.sha256(salt + (segment or "").encode()).hexdigest()


def salted_commitment(salt: bytes, domain: str, value: str) -> str:
    """Salted, domain-separated sha-256 of a value a manifest must not reveal (a rendered prompt,
    a job key hashed from audience data): provable by whoever holds the salt, opaque to others."""
    return hashlib.sha256(salt + domain.encode() + b"\0" + value.encode()).hexdigest()


def seed_commitment(salt: bytes, seed: int) -> str:
    """What a manifest says about the engine seed: the seed is derived from the spec seed and the
    segment name, so the raw seed would confirm a guessed segment offline."""
    return salted_commitment(salt, "seed", str(seed))


def recorded_parameters(art_params: GenerationParameters, job: Job, salt: bytes) -> GenerationParameters:
    """The artifact's allow-listed parameters plus, for a model engine, the prompt's commitment."""
    prompt = job.request.params.get("prompt")
    if not isinstance(prompt, str):
        return art_params
    return art_params.model_copy(update={"prompt_commitment": salted_commitment(salt, "prompt", prompt)})


class CampaignRunner:
    def __init__(
        self,
        studio: Studio,
        loaded: LoadedSpec,
        *,
        workers: int = 1,
        batch_size: int = 64,
        progress: Progress | None = None,
        gate: Gate | None = None,
        executor: Executor | None = None,
        engines: dict[str, Engine] | None = None,
    ) -> None:
        self.studio = studio
        self.loaded = loaded
        self.spec = loaded.spec
        self.workers = workers
        self.batch_size = batch_size
        self.progress = progress or (lambda _s, _d, _t: None)
        self.gate = gate
        self._executor = executor
        self.engines = engines or engine_registry()
        self.catalog = Catalog(studio.db)
        self.blobs = LocalBlobStore(studio.workspace.blobs_dir)
        self.out_dir = studio.workspace.out_dir / self.spec.campaign
        self._cid_of: dict[str, str] = {}
        self._jobs: dict[str, Job] = {}

    def plan(self) -> Plan:
        return plan_campaign(self.loaded, self.engines)

    def run(self) -> RunSummary:
        t0 = time.perf_counter()
        plan = self.plan()
        if self.gate is not None:
            self.gate(plan)
        studio = self.studio
        signer = studio.asset_signer  # fails early (wrong password) before any work
        existing = self.catalog.campaign(self.spec.campaign)
        salt = existing.salt if existing is not None else os.urandom(32)
        self.catalog.ensure_campaign(self.spec.campaign, self.loaded.spec_hash, salt)
        done = self.catalog.done_jobs(self.spec.campaign)
        self._cid_of = dict(done)
        todo = list(ordered([j for j in plan.jobs if j.key not in done]))
        summary = RunSummary(
            self.spec.campaign, len(plan.jobs), len(plan.jobs) - len(todo), out_dir=self.out_dir
        )
        summary.restored = self._restore(plan, done)
        by_key = plan.by_key()
        self._jobs = by_key
        # signed bytes are kept only for jobs that still have a child to sign (the parentOf ingredient)
        is_parent = {j.parent for j in todo if j.parent is not None}
        signed_parents: dict[str, tuple[bytes, str, str]] = {}  # job key -> (bytes, media type, cid)
        waiting: dict[str, list[Generated]] = {}
        batch: list[_Signed] = []
        total = len(todo)
        finished = 0
        self.progress("generate", 0, total)

        def parent_of(job: Job) -> tuple[bytes, str, str] | None:
            if job.parent is None:
                return None
            if job.parent in signed_parents:
                return signed_parents[job.parent]
            cid = done.get(job.parent)
            if cid is None:
                return None
            row = self.catalog.asset(cid)
            if row is None:
                raise CatalogError(f"finished job {job.parent} points at a missing asset {cid}")
            hit = (self.blobs.get(cid), row.media_type, cid)
            signed_parents[job.parent] = hit
            return hit

        def accept(gen: Generated) -> None:
            nonlocal finished
            job = by_key[gen.job_key]
            parent = parent_of(job)
            if job.parent is not None and parent is None:
                waiting.setdefault(job.parent, []).append(gen)
                return
            item = self._sign(signer, job, gen, salt, parent)
            if job.key in is_parent:
                signed_parents[job.key] = (item.signed.data, item.signed.media_type, item.cid)
            self._cid_of[job.key] = item.cid
            batch.append(item)
            finished += 1
            self.progress("generate", finished, total)
            crash_point("run.job")
            if len(batch) >= self.batch_size:
                self._flush(batch, summary)
            for child in waiting.pop(job.key, []):
                accept(child)

        executor = self._executor or make_executor(self.workers)
        try:
            # One phase per kind: each run's leaves of one kind are contiguous in the log, so the
            # licence terms of a checkpoint attach as a few leaf ranges, not per asset.
            for kind in KIND_ORDER:
                for gen in executor.map_unordered(generate_job, [j for j in todo if j.kind == kind]):
                    if gen.error is not None:
                        self._flush(batch, summary)
                        job = by_key[gen.job_key]
                        cls = LayoutError if gen.error_type == "LayoutError" else ExecutionError
                        raise cls(
                            f"job {job.title} ({job.kind}, segment {job.segment}, locale {job.locale}, "
                            f"format {job.format}) failed: {gen.error}",
                            hint="fix the spec and run again: finished assets are kept and skipped",
                        )
                    accept(gen)
                self._flush(batch, summary)
        finally:
            if self._executor is None:
                executor.close()
        if waiting:
            missing = ", ".join(sorted(waiting))
            raise ExecutionError(f"variants wait for parents that never finished: {missing}")

        crash_point("run.before_checkpoint")
        log = studio.log
        log.refresh()
        summary.log_size = log.size
        if log.size:
            cp = log.checkpoint(studio.signer)
            crash_point("run.before_receipts")
            log.issue_receipts(cp)
            summary.checkpoint_size = cp.size
        summary.seconds = time.perf_counter() - t0
        return summary

    # -- steps ------------------------------------------------------------------------------------
    def _sign(
        self,
        signer: AssetSigner,
        job: Job,
        gen: Generated,
        salt: bytes,
        parent: tuple[bytes, str, str] | None,
    ) -> _Signed:
        art = gen.artifact
        assert art is not None
        lineage = self.spec.lineage
        job_id = salted_commitment(salt, "job", job.key)  # the key hashes audience data
        record = GenerationRecord(
            engine=art.engine,
            engine_version=art.engine_version,
            model_id=art.model_id or lineage.model,
            model_hash=art.model_hash,
            dataset_ids=lineage.datasets,
            template_hash=job.template_hash,
            seed_commitment=seed_commitment(salt, art.seed),
            parameters=recorded_parameters(art.parameters, job, salt),
            campaign=self.spec.campaign,
            segment_commitment=segment_commitment(salt, job.segment),
            locale=job.locale or "und",
            source_locale=self._source_locale(job),
            format=job.format,
            action=job.action,
            source_type=DigitalSourceType.TRAINED_ALGORITHMIC
            if art.digital_source_type == "trainedAlgorithmicMedia"
            else DigitalSourceType.ALGORITHMIC,
            ai_training=lineage.ai_training,
            job_id=job_id,
        )
        par = None
        if parent is not None:
            par = Parent(data=parent[0], media_type=parent[1], title=parent[2])
        signed = signer.sign(
            # the title names the campaign and the (salted) job, never the segment or the raw key
            art.data,
            art.media_type,
            record,
            title=f"{self.spec.campaign}-{job_id[:16]}.{art.extension}",
            parent=par,
        )
        return _Signed(job, gen, signed, cid_for(signed.data))

    def _source_locale(self, job: Job) -> str | None:
        if job.action != "c2pa.translated" or job.parent is None:
            return None
        parent = self._jobs.get(job.parent)
        return None if parent is None else parent.locale

    def _flush(self, batch: list[_Signed], summary: RunSummary) -> None:
        if not batch:
            return
        items = list(batch)
        batch.clear()
        for it in items:  # blobs first: content-addressed, harmless if the transaction fails
            self.blobs.put(it.signed.data)
        log = self.studio.log
        try:
            with self.studio.db.session() as s:
                exports = self._commit(s, items)
        except BaseException:
            log.reload()  # the leaves were rolled back with the rows
            raise
        crash_point("run.after_commit")
        for it, exp in zip(items, exports, strict=True):
            sidecar = self.blobs.get(exp.sidecar_cid) if exp.sidecar_cid else None
            self._export(exp.path, it.signed.data, sidecar)
            summary.generated[it.job.kind] = summary.generated.get(it.job.kind, 0) + 1

    def _commit(self, s: Session, items: list[_Signed]) -> list[ExportRow]:
        """Write a batch's assets, log leaves, lineage, jobs and exports in the session ``s``.

        Identical bytes are one asset (content addressing): a job whose output another job
        already produced points at that asset instead of logging it twice, and ships that asset's
        logged manifest, so every exported file is exactly what the log names."""
        rows = s.execute(select(AssetRow.cid, AssetRow.sidecar_cid, AssetRow.manifest_hash)
                         .where(AssetRow.cid.in_({it.cid for it in items})))  # fmt: skip
        sidecar_of = {c: logged_sidecar(sc, mh) for c, sc, mh in rows}
        fresh: dict[str, _Signed] = {}
        for it in items:
            if it.cid not in sidecar_of:
                fresh.setdefault(it.cid, it)
        parents = {c: self._parent_cid(it.job.parent) for c, it in fresh.items() if it.job.parent}
        indices = self.studio.log.append_batch(
            [(c, it.signed.manifest_hash) for c, it in fresh.items()], session=s, parents=parents
        )
        assets: list[AssetRow] = []
        edges: list[LineageEdge] = []
        fps: list[FingerprintRow] = []
        for (cid, it), idx in zip(fresh.items(), indices, strict=True):
            sidecar_of[cid] = self.blobs.put(it.signed.manifest) if it.signed.sidecar else None
            assets.append(self._asset_row(it, idx, sidecar_of[cid]))
            fps.extend(FingerprintRow(cid=cid, phash=to_signed64(p), dhash=to_signed64(d))
                       for p, d in it.gen.fingerprints)  # fmt: skip
            if it.job.parent is not None:
                edges.append(LineageEdge(parent_cid=self._parent_cid(it.job.parent), child_cid=cid,
                                         relation=it.job.action.removeprefix("c2pa.")))  # fmt: skip
        jobs = [JobRow(key=it.job.key, campaign=self.spec.campaign, kind=it.job.kind, segment=it.job.segment,
                       locale=it.job.locale, format=it.job.format, asset_cid=it.cid)
                for it in items]  # fmt: skip
        exports = [ExportRow(campaign=self.spec.campaign, path=self._path(it.job, it.extension),
                             cid=it.cid, sidecar_cid=sidecar_of[it.cid]) for it in items]  # fmt: skip
        Catalog.add(s, assets, jobs, edges, fps, exports=exports)
        return exports

    def _parent_cid(self, parent_key: str) -> str:
        cid = self._cid_of.get(parent_key)
        if cid is None:
            raise MintloomError(f"parent job {parent_key} has no asset")
        return cid

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
            model_id=art.model_id,
            seed=art.seed,
            tags=json.dumps(tags, sort_keys=True, default=str),
            path=f"{job.title}.{art.extension}",
        )

    @staticmethod
    def _path(job: Job, extension: str) -> str:
        """Where a job's file goes, relative to the campaign's output folder."""
        return f"{job.title}.{extension}"

    def _restore(self, plan: Plan, done: dict[str, str]) -> int:
        """Record the finished jobs of ``plan`` as the campaign's exports, and rewrite from the
        blob store each of their files (or sidecars) that is missing or differs from the logged
        bytes: a crash between a batch's commit and its export loses nothing. Stale temp files of
        an interrupted export are removed. Returns how many files were rewritten."""
        self._remove_stale_tmp()
        assets = self.catalog.job_assets(self.spec.campaign)
        exports: list[ExportRow] = []
        for job in plan.jobs:
            if job.key not in done:
                continue
            row = assets.get(job.key)
            if row is None:
                raise CatalogError(f"finished job {job.title} points at a missing asset {done[job.key]}")
            exports.append(ExportRow(campaign=self.spec.campaign, path=self._path(job, row.extension),
                                     cid=row.cid, sidecar_cid=row.logged_sidecar_cid))  # fmt: skip
        self.catalog.set_exports(self.spec.campaign, exports)
        restored = 0
        for i, exp in enumerate(exports, 1):
            if not self._intact(exp):
                sidecar = self.blobs.get(exp.sidecar_cid) if exp.sidecar_cid else None
                self._export(exp.path, self.blobs.get(exp.cid), sidecar)
                restored += 1
            self.progress("check outputs", i, len(exports))
        return restored

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

    def _export(self, path: str, data: bytes, sidecar: bytes | None) -> None:
        """Write one exported file (sidecar first) atomically: temp file, fsync, rename."""
        target = contained(self.studio.workspace.out_dir, self.out_dir / path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if sidecar is not None:
                _write_atomic(target.with_name(target.name + ".c2pa"), sidecar)
            _write_atomic(target, data)
        except OSError as exc:
            raise ExecutionError(f"cannot export {target}: {exc}") from exc


def _write_atomic(target: Path, data: bytes) -> None:
    write_atomic(target, data, before_rename=lambda: crash_point("run.export"))
