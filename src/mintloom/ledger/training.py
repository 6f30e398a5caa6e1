"""``mintloom model train``: fine-tune on ingested datasets, sign the run, register it as lineage.

The files trained on are exactly a dataset's committed entries: each is read from the folder it
was ingested from and must still have the CID its manifest lists (opted-out files were never
entries, so they are never read). The run record names each dataset's registry entry, root, count
and contributor count as the chain holds them, the base model hash, method, hyper-parameters,
seed, code version and output weights hash; it is signed (a sidecar next to the weights, see
:mod:`mintloom.provenance.training`), stored content-addressed, and registered with the model in
one ``registerTrainedModel`` transaction, whose ``trainedOn`` is the run's datasets.

Phases, each safe to interrupt: weights (renamed into place whole) → sidecar (written whole) →
sidecar stored → registered. A rerun finds the sidecar of the same inputs next to weights that
still hash to its output and resumes from it, so the same record is registered, once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mintloom import __version__
from mintloom.engines.diffusion import pipeline_hash
from mintloom.engines.diffusion_training import Sample, caption_of, is_pipeline, train_diffusion_lora
from mintloom.engines.training import (
    METHOD,
    TRAINER,
    TRAINER_VERSION,
    LoraParams,
    library_versions,
    train_lora,
)
from mintloom.engines.transformers_text import weights_hash
from mintloom.errors import (
    BlobNotFoundError,
    DatasetInputError,
    DatasetProofError,
    MintloomError,
    RunTrainerMismatch,
    RunWeightsMismatch,
    TrainingDataMismatch,
    TrainingRecordError,
    UnknownTrainingRun,
)
from mintloom.faults import crash_point
from mintloom.ledger.client import ChainClient
from mintloom.ledger.datasets import manifest_cid_of, onchain_root, registry_ref
from mintloom.ledger.lineage import CONTRACT, Registered, _refuse_other_holder, _register_once
from mintloom.ledger.reader import ChainReader
from mintloom.provenance.keys import Signer
from mintloom.provenance.training import (
    SIDECAR_NAME,
    DatasetUse,
    SignedRun,
    TrainingRecord,
    read_signed,
    sign_run,
)
from mintloom.store.blobs import BlobStore
from mintloom.store.cid import cid_for, cid_from_digest
from mintloom.store.db import Database
from mintloom.store.files import MAX_SIDECAR_BYTES, MiB, read_regular, write_atomic
from mintloom.types import CID

MAX_TRAINING_FILE_BYTES = 16 * MiB


@dataclass(frozen=True)
class TrainRequest:
    model: str
    base: Path
    datasets: tuple[tuple[str, Path], ...]
    """(dataset name, the folder it was ingested from)"""
    out: Path
    license: str
    seed: int
    params: LoraParams


@dataclass(frozen=True)
class TrainResult:
    record: TrainingRecord
    run_cid: CID
    registered: Registered
    trained: bool
    """False when a rerun resumed from the weights and sidecar an interrupted run left"""


def dataset_files(
    chain: ChainReader, db: Database, blobs: BlobStore, name: str, folder: Path
) -> tuple[DatasetUse, list[tuple[str, bytes]]]:
    """The dataset's registry entry as the chain holds it, and (path, bytes) of each committed file."""
    ref = registry_ref(chain, db, name)
    manifest = json.loads(blobs.get(manifest_cid_of(db, name)))
    root, count, _curator = onchain_root(chain, ref.dataset_id)
    if (root.hex(), count) != (manifest["root"], manifest["count"]):
        raise DatasetProofError(
            f"dataset {name!r}: the chain holds root {root.hex()} over {count} files, "
            f"its manifest {manifest['root']} over {manifest['count']}"
        )
    files = [
        (str(path), _committed_bytes(folder, str(path), CID(cid)))
        for cid, _s, _l, _c, path in manifest["entries"]
    ]
    use = DatasetUse(
        name=name, registry_id=ref.dataset_id, root=root.hex(), count=count,
        manifest_cid=manifest_cid_of(db, name), contributors=len(manifest["contributors"]),
    )  # fmt: skip
    return use, files


def _committed_bytes(folder: Path, rel: str, cid: CID) -> bytes:
    """The bytes of one committed file, refused unless it still has its committed CID."""
    parts = PurePosixPath(rel).parts
    if PurePosixPath(rel).is_absolute() or ".." in parts:
        raise DatasetInputError(f"the manifest lists a path outside its folder: {rel!r}")
    path = folder.joinpath(*parts)
    try:
        limit = MAX_TRAINING_FILE_BYTES
        data = read_regular(path, limit=limit, what="training file", error=TrainingDataMismatch)
    except TrainingDataMismatch as exc:
        raise TrainingDataMismatch(
            f"{rel} of the dataset cannot be read from {folder}: {exc.message}",
            hint="pass --data the folder the dataset was ingested from",
        ) from exc
    if cid_for(data) != cid:
        raise TrainingDataMismatch(
            f"{path} is not the file the dataset committed to (CID {cid_for(data)}, committed {cid})",
            hint="train on the files as ingested, or ingest the new files as a new dataset",
        )
    return data


def _texts(files: list[tuple[str, bytes]]) -> list[str]:
    """A text model trains on text files: each committed file as UTF-8 text."""
    texts = []
    for rel, data in files:
        try:
            texts.append(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DatasetInputError(f"{rel} is not UTF-8 text: a text model trains on text files") from exc
    return texts


def model_hash(folder: Path) -> str:
    """The hash the engines record for a model folder: a diffusers pipeline's (every file but its
    run record), or a text model's weights files'."""
    return pipeline_hash(folder) if is_pipeline(folder) else weights_hash(folder)


def _train(req: TrainRequest, files: list[tuple[str, bytes]]) -> str:
    """LoRA on the UNet of a diffusion pipeline (images, captioned by name) or on a text model."""
    if is_pipeline(req.base):
        samples = [Sample(data, caption_of(rel)) for rel, data in files]
        return train_diffusion_lora(req.base, samples, req.out, seed=req.seed, params=req.params)
    return train_lora(req.base, _texts(files), req.out, seed=req.seed, params=req.params)


def _versions(base: Path) -> dict[str, str]:
    versions = library_versions()
    if is_pipeline(base):
        import diffusers

        versions["diffusers"] = diffusers.__version__
    return versions


def plan_record(chain: ChainClient, req: TrainRequest, uses: list[DatasetUse]) -> TrainingRecord:
    """The run record before training (its output hash still empty)."""
    return TrainingRecord(
        model=req.model, license=req.license, base_model_hash=model_hash(req.base), method=METHOD,
        hyper_parameters=req.params.as_record(),
        code_version={"mintloom": __version__, TRAINER: TRAINER_VERSION, **_versions(req.base)},
        seed=req.seed, datasets=tuple(uses), chain_id=chain.chain_id,
        registry=chain.address_of(CONTRACT), trainer=chain.address, output_weights_hash="",
    )  # fmt: skip


def _resume(out: Path, planned: TrainingRecord) -> SignedRun | None:
    """The sidecar an interrupted run of the same inputs left next to weights it still describes."""
    sidecar = out / SIDECAR_NAME
    if not sidecar.is_file():
        return None
    try:
        signed = read_signed(
            read_regular(sidecar, limit=MAX_SIDECAR_BYTES, what="sidecar", error=TrainingRecordError)
        )
        done = signed.parsed()
        if done.same_inputs(planned) and done.output_weights_hash == model_hash(out):
            return signed
    except MintloomError:
        pass  # a broken or foreign sidecar: train again, over it
    return None


def train_and_register(
    chain: ChainClient, db: Database, blobs: BlobStore, signer: Signer, req: TrainRequest
) -> TrainResult:
    """Train (or resume), sign the run, store it and register model and run on chain."""
    _refuse_other_holder(chain, db, "model", req.model)  # before anything is trained for the name
    uses, files = [], []
    for name, folder in req.datasets:
        use, more = dataset_files(chain, db, blobs, name, folder)
        uses.append(use)
        files += more
    planned = plan_record(chain, req, uses)
    signed = _resume(req.out, planned)
    trained = signed is None
    if signed is None:
        produced = _train(req, files)
        crash_point("train.weights")
        record = planned.model_copy(update={"output_weights_hash": produced})
        signed = _registered_run(chain, blobs, record) or sign_run(record, signer)
        write_atomic(req.out / SIDECAR_NAME, signed.to_bytes())
    raw = signed.to_bytes()
    run_cid = blobs.put(raw)
    crash_point("train.stored")
    registered = register_run(chain, db, req.model, signed.parsed(), hashlib.sha256(raw).digest())
    return TrainResult(signed.parsed(), run_cid, registered, trained)


def _registered_run(chain: ChainClient, blobs: BlobStore, record: TrainingRecord) -> SignedRun | None:
    """The run this trainer already registered for the same record (the same training done
    again): reused, so the weights keep the one run the chain binds them to."""
    model_id = int(
        chain.call(CONTRACT, "modelIdOf", chain.address, bytes.fromhex(record.output_weights_hash))
    )
    if model_id == 0:
        return None
    try:
        signed = run_of(chain, blobs, model_id)
    except MintloomError:
        return None
    return signed if signed is not None and signed.parsed() == record else None


def register_run(
    chain: ChainClient, db: Database, name: str, record: TrainingRecord, run_hash: bytes
) -> Registered:
    """Register the weights with the run's datasets as lineage and ``run_hash`` as its run
    (idempotent); refuses weights this trainer already registered with another run."""
    ids = [d.registry_id for d in record.datasets]
    digest = bytes.fromhex(record.output_weights_hash)
    call = (ids, record.license, run_hash)
    reg = _register_once(chain, db, "model", name, digest=digest, call=call, fn="registerTrainedModel")
    onchain = bytes(chain.call(CONTRACT, "trainingRun", reg.onchain_id))
    if onchain != run_hash:
        raise TrainingRecordError(
            f"model #{reg.onchain_id} (these weights) is already registered with run "
            f"{onchain.hex() if any(onchain) else 'none'}",
            hint="a model's training run is registered once, with the model",
        )
    return reg


def run_of(chain: ChainReader, blobs: BlobStore, model_id: int) -> SignedRun | None:
    """The signed run the chain binds to model ``model_id`` (None: registered without one),
    read from the blob store by the on-chain hash; refused by name unless it names the model's
    weights, trainer, chain and registry."""
    run_hash = bytes(chain.call(CONTRACT, "trainingRun", model_id))
    if run_hash == bytes(32):
        return None
    try:
        raw = blobs.get(cid_from_digest(run_hash))
    except BlobNotFoundError as exc:
        raise UnknownTrainingRun(
            f"model #{model_id} is bound to run {run_hash.hex()}, which names no record in this store",
            hint="the trainer's workspace holds the signed record",
        ) from exc
    signed = read_signed(raw)
    _check_binding(chain, signed.parsed(), model_id)
    return signed


def _check_binding(chain: ChainReader, record: TrainingRecord, model_id: int) -> None:
    """The record is the run of this model: its weights, its trainer, this chain and registry."""
    weights, trainer = chain.call(CONTRACT, "model", model_id)[:2]
    if record.output_weights_hash != bytes(weights).hex():
        raise RunWeightsMismatch(f"the run record of model #{model_id} names other weights")
    if str(trainer).lower() != record.trainer.lower():
        raise RunTrainerMismatch(
            f"model #{model_id} was registered by {trainer}, but its run record was signed for "
            f"trainer {record.trainer}: the run was re-registered by someone else"
        )
    registry = str(chain.address_of(CONTRACT)).lower()
    if (record.chain_id, record.registry.lower()) != (chain.chain_id, registry):
        raise RunTrainerMismatch(
            f"the run record of model #{model_id} was made for registry {record.registry} on chain "
            f"{record.chain_id}, not this one"
        )
