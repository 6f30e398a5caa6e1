"""The persisted transparency log: RFC 9162 leaves in the catalog, signed checkpoints, receipts.

Entries are appended in batches (one transaction each); the tree itself is mirrored in memory
by :class:`~mintloom.provenance.merkle.MerkleTree`, rebuilt from the stored leaf hashes when the
log is opened. A checkpoint is a C2SP ``tlog-checkpoint`` style signed note (origin, size,
base64 root, a timestamp extension line) signed by the workspace signer. Each asset gets a
:class:`Receipt`: its leaf, the inclusion proof to a checkpoint, the checkpoint itself and,
once anchored, the chain transaction. Receipts are re-issued against the anchored size when an
anchor covers them, so every receipt can be checked on chain with ``rootAt(tree_size)``.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text, func, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from mintloom.errors import LogError, ProvenanceError
from mintloom.provenance.keys import Retirements, Signer, verify_chain, verify_raw_signature
from mintloom.provenance.merkle import (
    MerkleTree,
    hash_leaf,
    leaf_data,
    root_from_inclusion_proof,
)
from mintloom.store.cid import parse_cid
from mintloom.store.db import Base, Database
from mintloom.store.locks import hold
from mintloom.types import CID

LOG_LOCK = "log"
"""The catalog write lock (:func:`mintloom.store.locks.hold`) of appending, checkpointing and
issuing receipts."""


RECEIPT_PAGE = 1000
"""Leaves whose receipts are built and written together (bounded memory at any log size)."""


class LogLeaf(Base):
    __tablename__ = "log_leaves"
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    cid: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    manifest_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogLeafParent(Base):
    """The parent a derived asset's leaf commits to (part of its leaf data)."""

    __tablename__ = "log_leaf_parents"
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    parent_cid: Mapped[str] = mapped_column(String(80))


class LogCheckpoint(Base):
    __tablename__ = "log_checkpoints"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    signer_chain: Mapped[str] = mapped_column(Text)


class ReceiptRow(Base):
    __tablename__ = "log_receipts"
    cid: Mapped[str] = mapped_column(String(80), primary_key=True)
    leaf_index: Mapped[int] = mapped_column(BigInteger, index=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    anchored: Mapped[int] = mapped_column(Integer, default=0, index=True)
    body: Mapped[str] = mapped_column(Text)


# --- models ---------------------------------------------------------------------------------------
class SignedCheckpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    origin: str
    size: int = Field(ge=0)
    root: str = Field(pattern="^[0-9a-f]{64}$")
    timestamp: int
    note: str
    """The signed note body: origin, size, base64 root, extension lines, each newline-terminated."""
    signature: str
    """base64 raw signature over ``note``."""
    signer_chain: str
    """PEM chain of the signer certificate (leaf first)."""

    def check(self, trust_anchor_pem: str | None = None, retired: Retirements | None = None) -> None:
        """Raise unless the note is well formed, matches the fields and is signed by the chain's
        leaf; with a trust anchor, the whole chain must also validate up to it as of the
        checkpoint's timestamp (:func:`verify_chain`; a leaf in ``retired`` must have been
        retired after it), else :class:`CertificateChainError`. The timestamp is the signer's own
        claim: only an on-chain anchor bounds it (see the verifier)."""
        expected = _note_body(self.origin, self.size, bytes.fromhex(self.root), self.timestamp)
        if expected != self.note:
            raise LogError("the checkpoint note does not match its fields")
        chain = self.signer_chain.encode()
        if trust_anchor_pem is not None:
            verify_chain(chain, trust_anchor_pem, self.signed_at(), retired)
        try:
            sig = base64.b64decode(self.signature, validate=True)
        except ValueError as exc:
            raise LogError("the checkpoint signature is not base64") from exc
        try:
            valid = verify_raw_signature(chain, self.note.encode(), sig)
        except ValueError as exc:
            raise LogError(f"the checkpoint's signer chain is unreadable: {exc}") from exc
        if not valid:
            raise LogError("the checkpoint signature does not verify with the signer certificate")

    def signed_at(self) -> dt.datetime:
        """The signed timestamp: the time the signer certificate must have been valid at."""
        try:
            return dt.datetime.fromtimestamp(self.timestamp, dt.UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise LogError(f"checkpoint timestamp {self.timestamp} is out of range") from exc

    def verify_signature(self, trust_anchor_pem: str | None = None) -> bool:
        """:meth:`check` as a boolean."""
        try:
            self.check(trust_anchor_pem)
        except ProvenanceError:
            return False
        return True

    def signed_note(self) -> str:
        """The checkpoint as a C2SP signed note: body, blank line, signature line."""
        return f"{self.note}\n— {self.origin} {self.signature}\n"


class Anchor(BaseModel):
    chain_id: int
    contract: str
    tx_hash: str
    block: int


class Receipt(BaseModel):
    """Proof that an asset is in the log: everything needed to check it offline, and on chain."""

    version: int = 1
    cid: CID
    manifest_hash: str = Field(pattern="^[0-9a-f]{64}$")
    parent: CID | None = None
    """For a derived asset, the parent its leaf commits to (what ``CreativeAssets`` registers)."""
    leaf_index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    inclusion_proof: list[str]
    checkpoint: SignedCheckpoint
    anchor: Anchor | None = None

    def leaf_hash(self) -> bytes:
        return hash_leaf(leaf_data(self.cid, bytes.fromhex(self.manifest_hash), self.parent))

    def verify(self) -> bool:
        """The inclusion proof leads from this asset's leaf to the checkpoint's root."""
        if self.checkpoint.size != self.tree_size:
            return False
        try:
            proof = [bytes.fromhex(p) for p in self.inclusion_proof]
            root = root_from_inclusion_proof(self.leaf_index, self.tree_size, self.leaf_hash(), proof)
        except (LogError, ValueError):
            return False
        return root.hex() == self.checkpoint.root


def _note_body(origin: str, size: int, root: bytes, timestamp: int) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntimestamp {timestamp}\n"


@dataclass(frozen=True)
class StoredLeaf:
    """A leaf as stored: its index, the (CID, manifest hash) entry and the RFC 9162 leaf hash."""

    index: int
    cid: str
    manifest_hash: bytes
    leaf_hash: bytes


def _first_without_receipt(s: Session, size: int, *, anchored: bool) -> int:
    """The first leaf below ``size`` with no receipt (or, if ``anchored``, no anchored one):
    receipts are written a checkpoint at a time, so leaves before it need nothing and are not
    read. Found from the receipts' indexes, in a few aggregate queries, not by reading every
    leaf under the log lock at each anchor (the anchorer of `mintloom serve` anchors every few
    seconds, a few new leaves each time)."""
    below = ReceiptRow.leaf_index < size
    count, top = s.execute(select(func.count(), func.max(ReceiptRow.leaf_index)).where(below)).one()
    first = count if count == 0 or top == count - 1 else 0  # no gap below ``count``: else look at all
    if anchored:
        unanchored = s.scalar(select(func.min(ReceiptRow.leaf_index)).where(below, ReceiptRow.anchored == 0))
        first = min(first, unanchored if unanchored is not None else first)
    return int(first)


# --- the log --------------------------------------------------------------------------------------
class TransparencyLog:
    """Append-only log of (CID, manifest hash) entries over the catalog database."""

    def __init__(self, db: Database, origin: str = "mintloom/log") -> None:
        self.db = db
        self.origin = origin
        self._tree = MerkleTree()
        self._index: dict[str, int] = {}
        self._reload_lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        """Rebuild the in-memory tree from the stored leaves (after another process appended)."""
        tree = MerkleTree()
        index: dict[str, int] = {}
        with self.db.session() as s:
            rows = s.execute(select(LogLeaf.index, LogLeaf.cid, LogLeaf.leaf_hash).order_by(LogLeaf.index))
            hashes = []
            for i, (idx, cid, lh) in enumerate(rows):
                if idx != i:
                    raise LogError(f"log is corrupted: leaf {i} is missing (found {idx})")
                hashes.append(bytes(lh))
                index[cid] = idx
        tree.extend_hashes(hashes)
        self._tree, self._index = tree, index

    def refresh(self) -> None:
        """Catch up with the leaves another writer appended (leaves are append-only, so their
        count says whether anything changed): only the new leaves are read and hashed, not the
        whole log (the anchorer of `mintloom serve` refreshes before every anchor). A tree longer
        than the stored log (a rolled-back append) is rebuilt."""
        with self._reload_lock, self.db.session() as s:
            stored = s.scalar(select(func.count()).select_from(LogLeaf)) or 0
            if stored > self.size:
                self._catch_up(s)
            elif stored < self.size:
                self.reload()

    @property
    def size(self) -> int:
        return self._tree.size

    def root(self, size: int | None = None) -> bytes:
        return self._tree.root(size)

    def index_of(self, cid: str) -> int | None:
        return self._index.get(cid)

    def leaf(self, cid: str) -> StoredLeaf | None:
        """The stored leaf of ``cid``, read from the database (None if it was never logged)."""
        with self.db.session() as s:
            row = s.scalars(select(LogLeaf).where(LogLeaf.cid == cid)).first()
            if row is None:
                return None
            return StoredLeaf(row.index, row.cid, bytes(row.manifest_hash), bytes(row.leaf_hash))

    def append_batch(
        self,
        entries: Sequence[tuple[str, bytes]],
        *,
        session: Session | None = None,
        parents: Mapping[str, str] | None = None,
        external_parents: Mapping[str, str] | None = None,
    ) -> list[int]:
        """Append (CID, manifest hash) entries in one transaction; returns their leaf indices.

        ``external_parents`` maps a derived asset's CID to a parent in another organisation's log
        (a fan's remix of a brand asset): the leaf commits to it all the same, unchecked here.

        ``parents`` maps a derived asset's CID to its parent's, which must be in the log already
        (or earlier in the batch); the leaf commits to it. An entry whose CID is already in the
        log keeps its original index (appending is idempotent, so a resumed run never logs an
        asset twice). With ``session`` the leaves are written in the caller's transaction (with
        the catalog rows of the same assets); if that transaction is rolled back the caller must
        :meth:`reload`. Writers sharing the catalog (several runs) take turns: the log's write
        lock is held until the transaction ends, and leaves another writer appended are read first."""
        links = {**(parents or {}), **(external_parents or {})}
        external = frozenset(external_parents or ())
        if session is not None:
            return self._append_locked(session, entries, links, external)
        with self.db.session() as s:
            return self._append_locked(s, entries, links, external)

    def _append_locked(
        self,
        s: Session,
        entries: Sequence[tuple[str, bytes]],
        parents: Mapping[str, str],
        external: frozenset[str] = frozenset(),
    ) -> list[int]:
        hold(s, LOG_LOCK)
        with self._reload_lock:
            self._catch_up(s)
        start = self.size
        new, seen, result = self._new_leaves(entries, parents, start, external)
        if not new:
            return result
        rows = [
            {"index": start + i, "cid": cid, "manifest_hash": mh, "leaf_hash": lh}
            for i, (cid, mh, lh, _) in enumerate(new)
        ]
        links = [{"index": start + i, "parent_cid": p} for i, (*_, p) in enumerate(new) if p is not None]
        self._insert(s, start, rows, links)
        with self._reload_lock:
            self._tree.extend_hashes(lh for _, _, lh, _ in new)
            self._index.update(seen)
        return result

    def _catch_up(self, s: Session) -> None:
        """Extend the tree in memory with the leaves other writers committed since it was loaded."""
        rows = s.execute(
            select(LogLeaf.index, LogLeaf.cid, LogLeaf.leaf_hash)
            .where(LogLeaf.index >= self.size)
            .order_by(LogLeaf.index)
        ).all()
        for expected, (idx, _, _) in enumerate(rows, start=self.size):
            if idx != expected:
                raise LogError(f"log is corrupted: leaf {expected} is missing (found {idx})")
        self._tree.extend_hashes(bytes(lh) for _, _, lh in rows)
        self._index.update({cid: idx for idx, cid, _ in rows})

    def _new_leaves(
        self,
        entries: Sequence[tuple[str, bytes]],
        parents: Mapping[str, str],
        start: int,
        external: frozenset[str] = frozenset(),
    ) -> tuple[list[tuple[str, bytes, bytes, str | None]], dict[str, int], list[int]]:
        """The leaves (CID, manifest hash, leaf hash, parent) not yet logged, their indices by CID,
        and every entry's index (a CID already logged, or repeated in the batch, keeps its first)."""
        new: list[tuple[str, bytes, bytes, str | None]] = []
        seen: dict[str, int] = {}
        result: list[int] = []
        for raw_cid, mh in entries:
            cid = parse_cid(raw_cid)
            if len(mh) != 32:
                raise LogError(f"manifest hash of {cid} must be 32 bytes")
            known = self._index.get(cid, seen.get(cid))
            if known is not None:
                result.append(known)
                continue
            parent = self._parent(parents.get(cid), seen, external=raw_cid in external or cid in external)
            idx = start + len(new)
            seen[cid] = idx
            new.append((cid, mh, hash_leaf(leaf_data(cid, mh, parent)), parent))
            result.append(idx)
        return new, seen, result

    def _parent(self, parent: str | None, seen: dict[str, int], *, external: bool = False) -> str | None:
        if parent is None:
            return None
        cid = parse_cid(parent)
        if not external and cid not in self._index and cid not in seen:
            raise LogError(f"parent {cid} is not in the log: log a parent before what derives from it")
        return cid

    @staticmethod
    def _insert(s: Session, start: int, rows: list[dict[str, Any]], links: list[dict[str, Any]]) -> None:
        stored = s.scalar(select(LogLeaf.index).order_by(LogLeaf.index.desc()).limit(1))
        if (stored if stored is not None else -1) != start - 1:
            raise LogError("the log was appended to by another process; reload and retry")
        s.execute(insert(LogLeaf), rows)
        if links:
            s.execute(insert(LogLeafParent), links)

    # -- checkpoints ------------------------------------------------------------------------------
    def checkpoint(self, signer: Signer, timestamp: int | None = None) -> SignedCheckpoint:
        """Sign and store a checkpoint of the current tree (returns the stored one if unchanged)."""
        size = self.size
        latest = self.latest_checkpoint()
        if latest is not None and latest.size == size:
            return latest
        if size == 0:
            raise LogError("the log is empty: nothing to checkpoint")
        root = self._tree.root()
        ts = int(time.time()) if timestamp is None else timestamp
        note = _note_body(self.origin, size, root, ts)
        sig = signer.sign(note.encode())
        cp = SignedCheckpoint(
            origin=self.origin,
            size=size,
            root=root.hex(),
            timestamp=ts,
            note=note,
            signature=base64.b64encode(sig).decode(),
            signer_chain=signer.certificate_chain_pem.decode(),
        )
        with self.db.session() as s:
            hold(s, LOG_LOCK)
            signed_meanwhile = s.get(LogCheckpoint, size)  # by another writer of the catalog
            if signed_meanwhile is not None:
                return self._to_model(signed_meanwhile)
            s.add(
                LogCheckpoint(
                    size=size, root=root, timestamp=ts, note=note, signature=sig, signer_chain=cp.signer_chain
                )
            )
        return cp

    def _to_model(self, row: LogCheckpoint) -> SignedCheckpoint:
        return SignedCheckpoint(
            origin=self.origin,
            size=row.size,
            root=bytes(row.root).hex(),
            timestamp=row.timestamp,
            note=row.note,
            signature=base64.b64encode(bytes(row.signature)).decode(),
            signer_chain=row.signer_chain,
        )

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        with self.db.session() as s:
            row = s.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)).first()
            return None if row is None else self._to_model(row)

    def checkpoint_at(self, size: int) -> SignedCheckpoint:
        with self.db.session() as s:
            row = s.get(LogCheckpoint, size)
            if row is None:
                raise LogError(f"no checkpoint of size {size}")
            return self._to_model(row)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return self._tree.inclusion_proof(index, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return self._tree.consistency_proof(old_size, new_size)

    # -- receipts ---------------------------------------------------------------------------------
    def _receipt(
        self, leaf: tuple[int, str, bytes, str | None], cp: SignedCheckpoint, anchor: Anchor | None
    ) -> Receipt:
        index, cid, mh, parent = leaf
        proof = self._tree.inclusion_proof(index, cp.size)
        return Receipt(
            cid=CID(cid),
            manifest_hash=mh.hex(),
            parent=None if parent is None else CID(parent),
            leaf_index=index,
            tree_size=cp.size,
            inclusion_proof=[p.hex() for p in proof],
            checkpoint=cp,
            anchor=anchor,
        )

    def issue_receipts(self, checkpoint: SignedCheckpoint, anchor: Anchor | None = None) -> int:
        """Write receipts against ``checkpoint`` for every leaf it covers that has none yet, or
        (with ``anchor``) whose receipt is not anchored. Returns how many were written. Leaves are
        read and their receipts written a page at a time in one transaction: a receipt body is
        ~3 KB, and holding them all grew a 20k-asset run's peak memory by ~60 MB."""
        if checkpoint.size > self.size or self._tree.root(checkpoint.size).hex() != checkpoint.root:
            raise LogError(f"checkpoint of size {checkpoint.size} does not match this log")
        written = 0
        with self.db.session() as s:
            hold(s, LOG_LOCK)  # another writer issuing receipts for the same leaves waits, then skips them
            first = _first_without_receipt(s, checkpoint.size, anchored=anchor is not None)
            for start in range(first, checkpoint.size, RECEIPT_PAGE):
                end = min(start + RECEIPT_PAGE, checkpoint.size)
                inserts, updates = self._receipt_rows(s, checkpoint, anchor, start, end)
                if inserts:
                    s.execute(insert(ReceiptRow), inserts)
                if updates:  # ORM bulk UPDATE by primary key
                    s.execute(update(ReceiptRow), updates)
                written += len(inserts) + len(updates)
        return written

    def _receipt_rows(
        self, s: Session, checkpoint: SignedCheckpoint, anchor: Anchor | None, start: int, end: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Receipt rows to insert (leaves without one) and to update (unanchored, given ``anchor``)
        for the leaves ``start`` to ``end`` (a leaf's CID is unique, so its receipt's index is the
        leaf's own)."""
        have = {
            cid: anchored
            for cid, anchored in s.execute(
                select(ReceiptRow.cid, ReceiptRow.anchored).where(
                    ReceiptRow.leaf_index >= start, ReceiptRow.leaf_index < end
                )
            )
        }
        leaves = s.execute(
            select(LogLeaf.index, LogLeaf.cid, LogLeaf.manifest_hash, LogLeafParent.parent_cid)
            .outerjoin(LogLeafParent, LogLeafParent.index == LogLeaf.index)
            .where(LogLeaf.index >= start, LogLeaf.index < end)
        ).all()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for idx, cid, mh, parent in leaves:
            current = have.get(cid)
            leaf = (idx, cid, bytes(mh), parent)
            if current is None:
                r = self._receipt(leaf, checkpoint, anchor)
                inserts.append(
                    {
                        "cid": cid,
                        "leaf_index": idx,
                        "tree_size": checkpoint.size,
                        "anchored": int(anchor is not None),
                        "body": r.model_dump_json(),
                    }
                )
            elif anchor is not None and not current:
                r = self._receipt(leaf, checkpoint, anchor)
                updates.append(
                    {"cid": cid, "tree_size": checkpoint.size, "anchored": 1, "body": r.model_dump_json()}
                )
        return inserts, updates

    def record_anchor(self, tree_size: int, chain_id: int, contract: str, tx_hash: str, block: int) -> int:
        """Record the transaction anchoring checkpoint ``tree_size`` into every receipt it covers."""
        cp = self.checkpoint_at(tree_size)
        return self.issue_receipts(
            cp, Anchor(chain_id=chain_id, contract=contract, tx_hash=tx_hash, block=block)
        )

    def stored_receipts(self, cids: Collection[str]) -> dict[str, Receipt]:
        """The stored receipts of those of ``cids`` that have one, in one query (a folder's, for
        ``verify DIR``); :meth:`receipt` answers for the others."""
        if not cids:
            return {}
        with self.db.session() as s:
            rows = s.execute(select(ReceiptRow.cid, ReceiptRow.body).where(ReceiptRow.cid.in_(set(cids))))
            return {cid: Receipt.model_validate_json(body) for cid, body in rows}

    def receipt(self, cid: str) -> Receipt | None:
        """The stored receipt or, for a checkpointed leaf whose receipt waits for the anchor stage
        (a run whose anchoring failed), one computed against the latest checkpoint, unanchored
        and not stored: a read never writes, and the anchor stage still writes it once."""
        with self.db.session() as s:
            row = s.get(ReceiptRow, cid)
            if row is not None:
                return Receipt.model_validate_json(row.body)
            leaf = s.execute(
                select(LogLeaf.index, LogLeaf.cid, LogLeaf.manifest_hash, LogLeafParent.parent_cid)
                .outerjoin(LogLeafParent, LogLeafParent.index == LogLeaf.index)
                .where(LogLeaf.cid == cid)
            ).first()
        cp = self.latest_checkpoint()
        if leaf is None or cp is None or leaf[0] >= cp.size:
            return None
        self.refresh()
        idx, leaf_cid, mh, parent = leaf
        return self._receipt((idx, leaf_cid, bytes(mh), parent), cp, None)
