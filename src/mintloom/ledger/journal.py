"""Write-ahead journal of chain transactions.

Before a transaction is broadcast, its intent — kind, payload, sender, nonce and the *signed raw
transaction* — is committed to the catalog. After a crash :meth:`Journal.pending` lists what was
sent or about to be sent but never confirmed; the client reconciles each entry by looking its
hash up on chain and, if the chain never saw it, rebroadcasting the same signed bytes. The same
nonce means the transaction can be applied at most once: never sent twice, never lost.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from mintloom.errors import CatalogError, JournalError, LedgerError
from mintloom.store.db import Base, Database
from mintloom.store.locks import hold

PENDING, CONFIRMED, FAILED, REPLACED, ORPHANED = "pending", "confirmed", "failed", "replaced", "orphaned"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


KIND_LENGTH = 255
"""Room for the longest kind (``licence-folder:<CID>`` is 74 characters; PostgreSQL enforces it)."""


class JournalEntry(Base):
    __tablename__ = "ledger_journal"
    __table_args__ = (UniqueConstraint("chain_id", "sender", "nonce", name="uq_journal_nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH), index=True)
    payload: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    intent: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    """hash of the logical write (see :func:`mintloom.ledger.client.intent_key`)"""
    raw_tx: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), index=True, default=PENDING)
    block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gas_used: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    contract_address: Mapped[str | None] = mapped_column(String(42), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """hash of the confirmed receipt's logs (:func:`mintloom.ledger.client.logs_hash`): what a
    replay must reproduce; None on entries journaled before outcomes were kept"""
    delivered: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """For a repeatable write (a purchase): whether its outcome reached the caller that sent it.
    A crashed sender's write stays undelivered, and the next identical write reports it instead
    of sending again. None for other writes (and entries made before this column)."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


def nonce_lock(chain_id: int, sender: str) -> str:
    return f"nonce:{chain_id}:{sender.lower()}"


# statuses of an entry whose nonce the chain consumed (or will): what a lost block is replayed from
SENT = (PENDING, CONFIRMED, FAILED)

# a signer: the nonce to sign at -> (tx hash, signed raw bytes)
Signer = Callable[[int], tuple[str, bytes]]

NONCE_TRIES = 8


class NonceTaken(JournalError):
    """Another client journaled a transaction at this nonce first (caught: signed again)."""

    def __init__(self, nonce: int) -> None:
        super().__init__(f"nonce {nonce} is already journaled")
        self.nonce = nonce


class IntentJournaled(JournalError):
    """A one-time write of this intent is already journaled (pending or confirmed) by another
    client of the catalog: its outcome is this write's (caught: nothing is signed)."""

    def __init__(self, tx_hash: str) -> None:
        super().__init__(f"this write is already journaled as {tx_hash}")
        self.tx_hash = tx_hash


_LOCK_NOT_AVAILABLE = "55P03"
"""PostgreSQL's SQLSTATE for a lock wait past ``lock_timeout``."""


class Journal:
    def __init__(self, db: Database) -> None:
        self.db = db
        _add_columns(db)

    def record_intent(
        self,
        *,
        chain_id: int,
        kind: str,
        payload: dict[str, Any],
        sender: str,
        nonce: int,
        tx_hash: str,
        raw: bytes,
        intent: str | None = None,
        repeatable: bool = False,
    ) -> int:
        """Journal a signed transaction before it is sent. The very same bytes as an orphaned
        entry's (same key, nonce and fields on a chain started over) replace that entry."""
        with self.db.session() as s:
            entry = JournalEntry(
                intent=intent,
                chain_id=chain_id,
                kind=kind,
                sender=sender,
                nonce=nonce,
                payload=_dump(payload),
                tx_hash=tx_hash,
                raw_tx=raw,
                status=PENDING,
                delivered=False if repeatable else None,
            )
            try:
                _insert(s, entry)
            except NonceTaken as clash:
                raise CatalogError(f"nonce {nonce} of {sender} is already journaled") from clash
            return entry.id

    @contextmanager
    def locked(self, name: str, wait: float | None = None) -> Iterator[None]:
        """Hold the lock ``name`` across a multi-step chain write (anchoring: read the chain,
        prove, send, await) on PostgreSQL, waiting at most ``wait`` seconds for another holder
        (None: as long as it takes). On SQLite that lock would also block this process's own
        journal writes, so there the caller re-reads and retries instead."""
        if self.db.engine.dialect.name != "postgresql":
            yield
            return
        with self.db.session() as s:
            if wait is not None:  # this transaction's statements only (is_local)
                s.execute(
                    text("SELECT set_config('lock_timeout', :ms, true)"),
                    {"ms": f"{max(1, int(wait * 1000))}ms"},
                )
            try:
                hold(s, name)
            except OperationalError as exc:
                if wait is None or getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                    raise  # not the timeout (a lost connection): not to be reported as one
                raise LedgerError(
                    f"another mintloom process has held the catalog lock {name!r} for over {wait:g} s",
                    hint="wait for it to finish, or stop it (it may run on another host sharing the catalog)",
                ) from exc
            yield

    def record_signed(
        self,
        *,
        chain_id: int,
        kind: str,
        payload: dict[str, Any],
        sender: str,
        least_nonce: int,
        sign: Signer,
        intent: str | None = None,
        repeatable: bool = False,
    ) -> JournalEntry:
        """Allocate ``sender``'s next nonce, sign at it and journal the transaction, all in one
        catalog transaction. The nonce is past both ``least_nonce`` (the node's pending count) and
        every nonce journaled on ``chain_id``: another client of the catalog (a second `mintloom
        run`, another host) may have journaled one it has not sent yet. Allocation holds the
        sender's nonce lock, so such clients take turns; should one journal the same nonce first
        anyway (a client without the lock), the transaction is signed again at the next one (a
        bounded number of times): two signed transactions are never journaled, hence never sent,
        at one nonce."""
        draft = JournalEntry(
            intent=intent,
            chain_id=chain_id,
            kind=kind,
            sender=sender,
            payload=_dump(payload),
            status=PENDING,
            delivered=False if repeatable else None,
        )
        tries, nonce = 0, least_nonce
        while True:
            try:
                return self._record_next(draft, nonce, sign)
            except NonceTaken as clash:
                tries, nonce = tries + 1, clash.nonce + 1
                if tries >= NONCE_TRIES:
                    raise JournalError(
                        f"could not journal {kind}: {tries} nonces of {sender} were taken by other "
                        "clients of this workspace while signing",
                        hint="retry when the other mintloom command or server is idle",
                    ) from clash

    def _record_next(self, draft: JournalEntry, least: int, sign: Signer) -> JournalEntry:
        """Journal ``draft`` signed at the first nonce past ``least`` and the journal's highest,
        holding the sender's nonce lock: another writer on this catalog waits, then sees it."""
        with self.db.session() as s:
            hold(s, nonce_lock(draft.chain_id, draft.sender))
            if draft.intent is not None and draft.delivered is None:  # a one-time write
                _refuse_twin(s, draft)
            top = s.scalar(
                select(func.max(JournalEntry.nonce)).where(
                    JournalEntry.chain_id == draft.chain_id, JournalEntry.sender == draft.sender
                )
            )
            nonce = least if top is None else max(least, int(top) + 1)
            tx_hash, raw = sign(nonce)
            entry = JournalEntry(
                intent=draft.intent,
                chain_id=draft.chain_id,
                kind=draft.kind,
                sender=draft.sender,
                payload=draft.payload,
                status=PENDING,
                nonce=nonce,
                tx_hash=tx_hash,
                raw_tx=raw,
                delivered=draft.delivered,
            )
            _insert(s, entry)
            s.expunge(entry)
            return entry

    def finish(
        self,
        tx_hash: str,
        status: str,
        *,
        block: int | None = None,
        gas_used: int | None = None,
        contract_address: str | None = None,
        error: str | None = None,
        outcome: str | None = None,
    ) -> None:
        with self.db.session() as s:
            entry = s.scalars(select(JournalEntry).where(JournalEntry.tx_hash == tx_hash)).one()
            entry.status = status
            entry.block = block
            entry.gas_used = gas_used
            entry.contract_address = contract_address
            entry.error = error
            entry.outcome = outcome
            entry.updated_at = _now()

    def mark_delivered(self, tx_hash: str) -> None:
        """The sender of a repeatable write has its outcome: a later identical write is new."""
        with self.db.session() as s:
            entry = s.scalars(select(JournalEntry).where(JournalEntry.tx_hash == tx_hash)).one()
            entry.delivered = True
            entry.updated_at = _now()

    def undelivered(self, chain_id: int, sender: str, intent: str) -> JournalEntry | None:
        """The oldest repeatable write of this intent, pending or confirmed, whose sender died
        before it had the outcome."""
        with self.db.session() as s:
            return s.scalars(
                select(JournalEntry)
                .where(JournalEntry.chain_id == chain_id, JournalEntry.sender == sender)
                .where(JournalEntry.intent == intent, JournalEntry.delivered.is_(False))
                .where(JournalEntry.status.in_((PENDING, CONFIRMED)))
                .order_by(JournalEntry.id)
            ).first()

    def pending(self, chain_id: int, sender: str) -> list[JournalEntry]:
        with self.db.session() as s:
            return list(
                s.scalars(
                    select(JournalEntry)
                    .where(JournalEntry.chain_id == chain_id, JournalEntry.sender == sender)
                    .where(JournalEntry.status == PENDING)
                    .order_by(JournalEntry.nonce)
                )
            )

    def orphan(self, chain_id: int) -> int:
        """Mark every entry of ``chain_id`` orphaned (the chain was reset under the same id);
        their nonces are released so the new chain's transactions can be journaled."""
        with self.db.session() as s:
            rows = list(s.scalars(select(JournalEntry).where(JournalEntry.chain_id == chain_id)))
            for row in rows:
                row.status = ORPHANED
                row.chain_id = -chain_id
                row.nonce = -row.id
                row.updated_at = _now()
            return len(rows)

    def by_intent(self, chain_id: int, sender: str, intent: str) -> JournalEntry | None:
        """The latest entry of ``sender`` for this logical write on ``chain_id``, if any."""
        with self.db.session() as s:
            return s.scalars(
                select(JournalEntry)
                .where(JournalEntry.chain_id == chain_id, JournalEntry.sender == sender)
                .where(JournalEntry.intent == intent)
                .order_by(JournalEntry.id.desc())
            ).first()

    def replayable(self, chain_id: int) -> list[JournalEntry]:
        """Every entry of ``chain_id`` whose nonce the chain consumed or will, in sending order."""
        with self.db.session() as s:
            return list(
                s.scalars(
                    select(JournalEntry)
                    .where(JournalEntry.chain_id == chain_id, JournalEntry.status.in_(SENT))
                    .order_by(JournalEntry.id)
                )
            )

    def get(self, tx_hash: str) -> JournalEntry | None:
        with self.db.session() as s:
            return s.scalars(select(JournalEntry).where(JournalEntry.tx_hash == tx_hash)).first()

    def entries(self, chain_id: int, kind: str | None = None) -> list[JournalEntry]:
        with self.db.session() as s:
            q = select(JournalEntry).where(JournalEntry.chain_id == chain_id)
            if kind is not None:
                q = q.where(JournalEntry.kind == kind)
            return list(s.scalars(q.order_by(JournalEntry.id)))


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, default=str)


def _insert(s: Session, entry: JournalEntry) -> None:
    """Add ``entry`` (replacing an orphaned entry of the very same bytes); a clash on its nonce
    raises :class:`NonceTaken` carrying the nonce."""
    old = s.scalars(select(JournalEntry).where(JournalEntry.tx_hash == entry.tx_hash)).first()
    if old is not None and old.status != ORPHANED:
        raise JournalError(f"{entry.tx_hash} is already journaled ({old.kind}, {old.status})")
    if old is not None:
        s.delete(old)
        s.flush()
    s.add(entry)
    try:
        s.flush()
    except IntegrityError as exc:
        if "nonce" not in str(exc.orig).lower():
            raise
        raise NonceTaken(entry.nonce) from exc


def _add_columns(db: Database) -> None:
    """Catalogs made before intents (or kept outcomes, or delivery) existed get the nullable columns;
    ``create_all`` only adds whole tables."""
    _add_column(db, "intent", "VARCHAR(64)", index=True)
    _add_column(db, "outcome", "VARCHAR(64)", index=False)
    _add_column(db, "delivered", "BOOLEAN", index=False)


def _add_column(db: Database, name: str, sql_type: str, *, index: bool) -> None:
    table = JournalEntry.__tablename__

    def has_it() -> bool:
        return name in {c["name"] for c in inspect(db.engine).get_columns(table)}

    try:
        if not has_it():
            with db.engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}"))
                if index:
                    conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{table}_{name} ON {table} ({name})"))
    except SQLAlchemyError as exc:
        if not has_it():  # another process adding it at the same time is fine
            raise CatalogError(f"cannot add the {name} column to {table}: {exc}") from exc


def _refuse_twin(s: Session, draft: JournalEntry) -> None:
    """Under the sender's nonce lock: another client (a second run on this catalog) that checked
    for an earlier write of the same intent at the same moment as this one journaled it first."""
    twin = s.scalar(
        select(JournalEntry.tx_hash).where(
            JournalEntry.chain_id == draft.chain_id,
            JournalEntry.sender == draft.sender,
            JournalEntry.intent == draft.intent,
            JournalEntry.status.in_((PENDING, CONFIRMED)),
        )
    )
    if twin is not None:
        raise IntentJournaled(twin)
