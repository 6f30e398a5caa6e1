"""Datasets and models on chain (``LineageRegistry``), known locally by name.

A campaign spec names its datasets and model (``lineage:``); registering them records the
on-chain id under that name per chain in the ``chain_names`` table, so specs stay readable and
re-registering the same datasheet or weights is idempotent (the contract refuses duplicates and
the existing id is looked up instead).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import BigInteger, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import ContractError, LedgerError
from mintloom.ledger.client import ChainClient
from mintloom.ledger.reader import ChainReader
from mintloom.provenance.cid import digest_of, raw_cid
from mintloom.store.db import Base, Database

CONTRACT = "LineageRegistry"


class ChainName(Base):
    __tablename__ = "chain_names"
    __table_args__ = (UniqueConstraint("chain_id", "kind", "name", name="uq_chain_name"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    """dataset, model or split"""
    name: Mapped[str] = mapped_column(String(128))
    onchain_id: Mapped[int] = mapped_column(BigInteger)


class Names:
    def __init__(self, db: Database, chain_id: int) -> None:
        self.db, self.chain_id = db, chain_id

    def get(self, kind: str, name: str) -> int | None:
        with self.db.session() as s:
            return s.scalar(
                select(ChainName.onchain_id).where(
                    ChainName.chain_id == self.chain_id, ChainName.kind == kind, ChainName.name == name
                )
            )

    def require(self, kind: str, name: str) -> int:
        found = self.get(kind, name)
        if found is None:
            raise LedgerError(
                f"{kind} {name!r} is not registered on chain {self.chain_id}",
                hint=f"run `mintloom {kind} register {name} …`",
            )
        return found

    def set(self, kind: str, name: str, onchain_id: int) -> None:
        with self.db.session() as s:
            row = s.scalar(
                select(ChainName).where(
                    ChainName.chain_id == self.chain_id, ChainName.kind == kind, ChainName.name == name
                )
            )
            if row is None:
                s.add(ChainName(chain_id=self.chain_id, kind=kind, name=name, onchain_id=onchain_id))
            else:
                row.onchain_id = onchain_id


@dataclass(frozen=True)
class Registered:
    name: str
    onchain_id: int
    content_hash: str
    created: bool


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LedgerError(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc


def _register_once(
    chain: ChainClient, db: Database, kind: str, name: str, *, digest: bytes, call: tuple[object, ...]
) -> Registered:
    """Send ``register<Kind>(digest, *call)`` unless the contract already knows ``digest`` (its
    ``<Kind>Exists`` error), then record the on-chain id under ``name``."""
    try:
        fn = f"register{kind.capitalize()}"
        chain.transact(CONTRACT, fn, digest, *call)
        created = True
    except ContractError as exc:
        if exc.error_name != f"{kind.capitalize()}Exists":
            raise
        created = False
    onchain = int(chain.call(CONTRACT, f"{kind}IdOf", digest))
    Names(db, chain.chain_id).set(kind, name, onchain)
    return Registered(name, onchain, digest.hex(), created)


def register_dataset(
    chain: ChainClient, db: Database, name: str, datasheet: Path, *, license: str, ai_training: bool
) -> Registered:
    """Register a dataset by its datasheet (hash and CID) under ``name``; the sender is its curator."""
    data = _read(datasheet, "datasheet")
    digest = hashlib.sha256(data).digest()
    # LineageRegistry keeps a bare digest read as a raw CIDv1 (its NatSpec), not a UnixFS DAG root
    return _register_once(chain, db, "dataset", name, digest=digest,
                          call=(digest_of(raw_cid(data)), license, ai_training))  # fmt: skip


def register_model(
    chain: ChainClient, db: Database, name: str, weights: Path, *, trained_on: list[str], license: str
) -> Registered:
    """Register a model by the hash of its weights file, trained on datasets known by name; the
    sender is its trainer."""
    data = _read(weights, "weights file")
    ids = [Names(db, chain.chain_id).require("dataset", d) for d in trained_on]
    return _register_once(chain, db, "model", name, digest=hashlib.sha256(data).digest(), call=(ids, license))


@dataclass(frozen=True)
class DatasetInfo:
    onchain_id: int
    curator: str
    license: str
    ai_training_allowed: bool


@dataclass(frozen=True)
class ModelInfo:
    onchain_id: int
    trainer: str
    license: str
    trained_on: tuple[int, ...]


def dataset_info(chain: ChainReader, onchain_id: int) -> DatasetInfo:
    _h, _cid, curator, ai, _at, lic = chain.call(CONTRACT, "dataset", onchain_id)
    return DatasetInfo(onchain_id, str(curator), str(lic), bool(ai))


def model_info(chain: ChainReader, onchain_id: int) -> ModelInfo:
    _h, trainer, _at, lic, trained_on = chain.call(CONTRACT, "model", onchain_id)
    return ModelInfo(onchain_id, str(trainer), str(lic), tuple(int(t) for t in trained_on))
