"""Ingested datasets on chain: the file Merkle root registered on ``LineageRegistry``, bound to
its curator, the manifest known locally by name, and inclusion proofs checked against the chain.

The dataset's on-chain key is the sha-256 of its manifest (which holds the root, the terms and
every entry), so one curator registers a given manifest once; another account registering the
same manifest first only makes its own entry (see :mod:`mintloom.ledger.lineage`), and a name
held locally by another registrant is refused by name (:class:`~mintloom.errors.RegistrantMismatch`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import BigInteger, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import DatasetInputError, DatasetProofError
from mintloom.faults import crash_point
from mintloom.ledger.client import ChainClient
from mintloom.ledger.lineage import (
    CONTRACT,
    Registered,
    _refuse_other_holder,
    _register_once,
    resolve_dataset,
)
from mintloom.ledger.reader import ChainReader
from mintloom.provenance.dataset import DatasetProof, DatasetTree, RegistryRef
from mintloom.provenance.ingest import (
    Ingested,
    IngestOptions,
    datasheet_template,
    entries_of,
    hash_file,
    ingest,
    manifest_json,
)
from mintloom.store.blobs import BlobStore
from mintloom.store.db import Base, Database
from mintloom.types import CID


class DatasetManifest(Base):
    """A dataset ingested here: its name, the CID of its stored manifest, root and terms."""

    __tablename__ = "dataset_manifests"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    manifest_cid: Mapped[str] = mapped_column(String(128))
    datasheet_cid: Mapped[str] = mapped_column(String(128))
    root: Mapped[str] = mapped_column(String(64))
    file_count: Mapped[int] = mapped_column(BigInteger)
    excluded_count: Mapped[int] = mapped_column(Integer)
    license: Mapped[str] = mapped_column(String(256))


@dataclass(frozen=True)
class Ingestion:
    name: str
    manifest_cid: CID
    datasheet_cid: CID
    root: bytes
    count: int
    excluded: int
    license: str


def record(db: Database, ing: Ingestion) -> None:
    """Remember the ingestion under its name; the same name for another manifest is refused."""
    with db.session() as s:
        row = s.scalar(select(DatasetManifest).where(DatasetManifest.name == ing.name))
        if row is not None and row.manifest_cid != ing.manifest_cid:
            raise DatasetInputError(
                f"dataset {ing.name!r} already names manifest {row.manifest_cid} (root {row.root})",
                hint="ingest the new contents under a new name (e.g. NAME-v2): a dataset never changes",
            )
        if row is None:
            s.add(DatasetManifest(
                name=ing.name, manifest_cid=ing.manifest_cid, datasheet_cid=ing.datasheet_cid,
                root=ing.root.hex(), file_count=ing.count, excluded_count=ing.excluded, license=ing.license,
            ))  # fmt: skip


def manifest_cid_of(db: Database, name: str) -> str:
    with db.session() as s:
        found = s.scalar(select(DatasetManifest.manifest_cid).where(DatasetManifest.name == name))
    if found is None:
        raise DatasetInputError(
            f"no dataset {name!r} was ingested here", hint="run `mintloom dataset ingest`"
        )
    return found


def register_files(
    chain: ChainClient, db: Database, ing: Ingestion, manifest: bytes, *, ai_training: bool
) -> Registered:
    """Register the dataset's root and count under its name, the sender as curator (idempotent)."""
    digest = hashlib.sha256(manifest).digest()
    call = (digest, ing.license, ai_training, ing.root, ing.count)
    return _register_once(chain, db, "dataset", ing.name, digest=digest, call=call, fn="registerDatasetFiles")


def registry_ref(chain: ChainReader, db: Database, name: str) -> RegistryRef:
    """Where dataset ``name``'s root is, only if its expected curator registered it."""
    info = resolve_dataset(chain, db, name)
    return RegistryRef(chain.chain_id, chain.address_of(CONTRACT), info.onchain_id, info.curator)


def onchain_root(chain: ChainReader, dataset_id: int) -> tuple[bytes, int, str]:
    """(root, file count, curator) of a dataset entry; (empty, 0, curator) without a file root."""
    root, count = chain.call(CONTRACT, "fileRoot", dataset_id)
    curator = str(chain.call(CONTRACT, "dataset", dataset_id)[2])
    return bytes(root), int(count), curator


def check_on_chain(chain: ChainReader, proof: DatasetProof) -> None:
    """Refuse, by name, a proof whose root, size, registry or curator is not the chain's."""
    ref = proof.registry
    if ref.chain_id != chain.chain_id:
        raise DatasetProofError(
            f"the proof is for chain {ref.chain_id}, this endpoint serves {chain.chain_id}"
        )
    if ref.registry.lower() != chain.address_of(CONTRACT).lower():
        raise DatasetProofError(f"the proof names registry {ref.registry}, not this chain's LineageRegistry")
    root, count, curator = onchain_root(chain, ref.dataset_id)
    if curator.lower() != ref.curator.lower():
        raise DatasetProofError(f"dataset #{ref.dataset_id} is curated by {curator}, not {ref.curator}")
    if (root, count) != (proof.root, proof.size):
        raise DatasetProofError(
            f"dataset #{ref.dataset_id} registered root {root.hex()} over {count} files; "
            f"the proof claims {proof.root.hex()} over {proof.size}"
        )
    if proof.computed_root() != root:
        raise DatasetProofError("the inclusion path does not lead to the registered root")


@dataclass(frozen=True)
class IngestResult:
    ingestion: Ingestion
    registered: Registered
    done: Ingested


def ingest_and_register(
    chain: ChainClient,
    db: Database,
    blobs: BlobStore,
    folder: Path,
    *,
    name: str,
    options: IngestOptions,
    ai_training: bool = True,
) -> IngestResult:
    """Ingest ``folder``, store its datasheet template and manifest content-addressed, remember the
    name, and register root, count and licence on chain with the sender as curator."""
    _refuse_other_holder(chain, db, "dataset", name)  # before anything is stored under the name
    options = IngestOptions(options.license, chain.address, options.contributors, options.opt_out)
    done = ingest(folder, options)
    if not done.entries:
        raise DatasetInputError(
            f"{folder} holds no file that may be ingested ({len(done.excluded)} excluded)"
        )
    datasheet = blobs.put(datasheet_template(name, options.license, done).encode("utf-8"))
    manifest = manifest_json(name, options.license, chain.address, datasheet, done)
    tree = DatasetTree(done.entries)
    ing = Ingestion(
        name, blobs.put(manifest), datasheet, tree.root(), tree.size, len(done.excluded), options.license
    )
    crash_point("dataset.stored")
    record(db, ing)
    crash_point("dataset.recorded")
    registered = register_files(chain, db, ing, manifest, ai_training=ai_training)
    return IngestResult(ing, registered, done)


def prove_file(chain: ChainReader, db: Database, blobs: BlobStore, file: Path, name: str) -> DatasetProof:
    """The inclusion proof of ``file`` in dataset ``name``, checked against the root on chain."""
    cid = _cid_of(file)
    manifest = blobs.get(manifest_cid_of(db, name))
    proof = DatasetTree(entries_of(manifest)).proof(cid, dataset=name, registry=registry_ref(chain, db, name))
    check_on_chain(chain, proof)
    return proof


def verify_file_proof(chain: ChainReader, proof: DatasetProof, file: Path) -> None:
    """Refuse unless ``file`` is the proof's entry and the proof reaches the root on chain."""
    cid = _cid_of(file)
    if cid != proof.entry.cid:
        raise DatasetProofError(f"{file} has CID {cid}; the proof is for {proof.entry.cid}")
    check_on_chain(chain, proof)


def _cid_of(file: Path) -> CID:
    try:
        return hash_file(file)[0]
    except OSError as exc:
        raise DatasetInputError(f"cannot read {file}: {exc.strerror or exc}") from exc


def contributor_weights(db: Database, blobs: BlobStore, name: str) -> dict[str, int]:
    """The royalty weight of each contributor of dataset ``name`` (from its stored manifest)."""
    try:
        weights = json.loads(blobs.get(manifest_cid_of(db, name)))["contributors"]
        return {str(k): int(v) for k, v in weights.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DatasetInputError(f"the manifest of dataset {name!r} lists no contributors: {exc}") from exc
