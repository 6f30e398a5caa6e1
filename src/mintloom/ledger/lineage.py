"""Datasets and models on chain (``LineageRegistry``), known locally by name.

A campaign spec names its datasets and model (``lineage:``); registering them records the
on-chain id under that name per chain in the ``chain_names`` table, and the party expected to hold
the entry (its registrant) in ``lineage_registrants``. On chain, entries are keyed by registrant
and content hash, so somebody registering our datasheet or weights first only makes his own entry:
we always look up and use the entry of the party we expect (the sender of our registration, or a
curator/trainer pinned explicitly for a third-party dataset or model). Re-registering is
idempotent for the same registrant; a name already held by another registrant is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import BigInteger, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from web3 import Web3

from mintloom.errors import (
    ContractError,
    LedgerError,
    LedgerInputError,
    RegistrantMismatch,
    UntrustedIngredient,
)
from mintloom.faults import crash_point
from mintloom.ledger.client import ChainClient
from mintloom.ledger.reader import ChainReader
from mintloom.store.cid import digest_of, raw_cid
from mintloom.store.db import Base, Database
from mintloom.store.files import MAX_DATASHEET_BYTES, MAX_WEIGHTS_BYTES, read_regular, sha256_regular

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


class LineageRegistrant(Base):
    """Who is expected to hold the on-chain entry known locally as (kind, name)."""

    __tablename__ = "lineage_registrants"
    __table_args__ = (UniqueConstraint("chain_id", "kind", "name", name="uq_lineage_registrant"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    registrant: Mapped[str] = mapped_column(String(42))


class Registrants:
    """The expected registrant (curator or trainer) of each named dataset and model, per chain."""

    def __init__(self, db: Database, chain_id: int) -> None:
        self.db, self.chain_id = db, chain_id

    def _row(self, s: Session, kind: str, name: str) -> LineageRegistrant | None:
        return s.scalar(
            select(LineageRegistrant).where(
                LineageRegistrant.chain_id == self.chain_id,
                LineageRegistrant.kind == kind,
                LineageRegistrant.name == name,
            )
        )

    def get(self, kind: str, name: str) -> str | None:
        with self.db.session() as s:
            row = self._row(s, kind, name)
            return None if row is None else row.registrant

    def set(self, kind: str, name: str, registrant: str) -> None:
        address = Web3.to_checksum_address(registrant)
        with self.db.session() as s:
            row = self._row(s, kind, name)
            if row is None:
                s.add(LineageRegistrant(chain_id=self.chain_id, kind=kind, name=name, registrant=address))
            else:
                row.registrant = address


@dataclass(frozen=True)
class Registered:
    name: str
    onchain_id: int
    content_hash: str
    created: bool


def _read(path: Path, what: str) -> bytes:
    return read_regular(path, limit=MAX_DATASHEET_BYTES, what=what, error=LedgerInputError)


def _content_digest(kind: str, path: Path) -> bytes:
    """sha-256 of a datasheet (read whole, bounded) or of a weights file (hashed streaming)."""
    if kind == "dataset":
        return hashlib.sha256(_read(path, "datasheet")).digest()
    return sha256_regular(path, limit=MAX_WEIGHTS_BYTES, what="weights file", error=LedgerInputError)


def _refuse_other_holder(chain: ChainClient, db: Database, kind: str, name: str) -> None:
    """A name already bound to another registrant's entry is theirs: never silently adopt it."""
    holder = Registrants(db, chain.chain_id).get(kind, name)
    if holder is not None and holder.lower() != chain.address.lower():
        known = Names(db, chain.chain_id).get(kind, name)
        raise RegistrantMismatch(
            f"{kind} {name!r} is held by {holder} (entry #{known}), not by this account {chain.address}",
            holder=holder,
            hint=f"register it under another name, or send from {holder}",
        )


def _register_once(
    chain: ChainClient,
    db: Database,
    kind: str,
    name: str,
    *,
    digest: bytes,
    call: tuple[object, ...],
    fn: str | None = None,
) -> Registered:
    """Send ``register<Kind>(digest, *call)`` (or ``fn``) unless this sender already registered
    ``digest`` (its ``<Kind>Exists`` error), then record this sender's on-chain entry under ``name``."""
    _refuse_other_holder(chain, db, kind, name)
    try:
        fn = fn or f"register{kind.capitalize()}"
        chain.transact(CONTRACT, fn, digest, *call)
        crash_point(f"{kind}.sent")
        created = True
    except ContractError as exc:
        if exc.error_name != f"{kind.capitalize()}Exists":
            raise
        created = False
    onchain = int(chain.call(CONTRACT, f"{kind}IdOf", chain.address, digest))
    Names(db, chain.chain_id).set(kind, name, onchain)
    Registrants(db, chain.chain_id).set(kind, name, chain.address)
    return Registered(name, onchain, digest.hex(), created)


def pin(
    chain: ChainReader, db: Database, kind: str, name: str, *, content: Path, registrant: str
) -> Registered:
    """Use under ``name`` the entry that ``registrant`` (a third-party curator or trainer) made for
    this datasheet or weights file; refuses if that party registered no such entry."""
    digest = _content_digest(kind, content)
    address = Web3.to_checksum_address(registrant)
    onchain = int(chain.call(CONTRACT, f"{kind}IdOf", address, digest))
    if onchain == 0:
        raise LedgerError(
            f"{address} has registered no {kind} with the hash of {content} on chain {chain.chain_id}"
        )
    Names(db, chain.chain_id).set(kind, name, onchain)
    Registrants(db, chain.chain_id).set(kind, name, address)
    return Registered(name, onchain, digest.hex(), False)


def register_dataset(
    chain: ChainClient, db: Database, name: str, datasheet: Path, *, license: str, ai_training: bool
) -> Registered:
    """Register a dataset by its datasheet (hash and CID) under ``name``; the sender is its curator."""
    data = _read(datasheet, "datasheet")
    digest = hashlib.sha256(data).digest()
    # LineageRegistry keeps a bare digest read as a raw CIDv1 (its NatSpec), not a UnixFS DAG root
    return _register_once(
        chain, db, "dataset", name, digest=digest, call=(digest_of(raw_cid(data)), license, ai_training)
    )


def register_model(
    chain: ChainClient, db: Database, name: str, weights: Path, *, trained_on: list[str], license: str
) -> Registered:
    """Register a model by the hash of its weights file, trained on datasets known by name; the
    sender is its trainer."""
    digest = _content_digest("model", weights)
    ids = [Names(db, chain.chain_id).require("dataset", d) for d in trained_on]
    return _register_once(chain, db, "model", name, digest=digest, call=(ids, license))


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


def _expected(chain: ChainReader, db: Database, kind: str, name: str) -> tuple[int, str]:
    onchain = Names(db, chain.chain_id).require(kind, name)
    holder = Registrants(db, chain.chain_id).get(kind, name)
    if holder is None:
        raise UntrustedIngredient(
            f"{kind} {name!r} (#{onchain}) has no expected registrant recorded here",
            hint=f"run `mintloom {kind} register {name} …` again, or `mintloom {kind} pin {name} …`",
        )
    return onchain, holder


def _mismatch(kind: str, name: str, onchain: int, actual: str, expected: str) -> UntrustedIngredient:
    return UntrustedIngredient(
        f"{kind} {name!r} (#{onchain}) was registered by {actual}, not by the expected {expected}: "
        "its terms cannot be relied on",
        hint=f"register it from {expected}, or pin the right entry with `mintloom {kind} pin`",
    )


def resolve_dataset(chain: ChainReader, db: Database, name: str) -> DatasetInfo:
    """The on-chain entry of dataset ``name``, only if its expected curator registered it."""
    onchain, expected = _expected(chain, db, "dataset", name)
    info = dataset_info(chain, onchain)
    if info.curator.lower() != expected.lower():
        raise _mismatch("dataset", name, onchain, info.curator, expected)
    return info


def resolve_model(chain: ChainReader, db: Database, name: str) -> ModelInfo:
    """The on-chain entry of model ``name``, only if its expected trainer registered it."""
    onchain, expected = _expected(chain, db, "model", name)
    info = model_info(chain, onchain)
    if info.trainer.lower() != expected.lower():
        raise _mismatch("model", name, onchain, info.trainer, expected)
    return info
