from __future__ import annotations

import hashlib
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import delete, event, update

from mintloom.errors import LogError
from mintloom.provenance import log as log_module
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import Anchor, Receipt, TransparencyLog
from mintloom.provenance.merkle import hash_leaf, leaf_data, verify_consistency
from mintloom.schema import open_workspace_database
from mintloom.store.cid import cid_for
from mintloom.store.db import Database

from .conftest import PASSWORD


def entries(n: int, offset: int = 0) -> list[tuple[str, bytes]]:
    return [(cid_for(f"asset {i}".encode()), hashlib.sha256(f"m{i}".encode()).digest()) for i in
            range(offset, offset + n)]  # fmt: skip


def test_append_is_persistent_and_idempotent(db: Database) -> None:
    log = TransparencyLog(db)
    first = entries(10)
    assert log.append_batch(first) == list(range(10))
    root = log.root()
    assert log.append_batch(first[3:5]) == [3, 4]  # already logged: same indices, no growth
    assert log.size == 10
    again = TransparencyLog(db)
    assert again.size == 10 and again.root() == root
    assert again.index_of(first[7][0]) == 7
    assert again.append_batch([*entries(2, 10), first[0]]) == [10, 11, 0]


def test_checkpoint_signature_and_receipts(db: Database, keystore: KeyStore) -> None:
    log = TransparencyLog(db, origin="example.org/log")
    signer = keystore.signer(PASSWORD)
    log.append_batch(entries(5))
    cp1 = log.checkpoint(signer, timestamp=int(time.time()) - 60)  # within the signer's validity
    assert cp1.size == 5 and cp1.verify_signature(keystore.trust_anchor_pem())
    assert cp1.signed_note().startswith("example.org/log\n5\n")
    assert log.checkpoint(signer) == cp1  # unchanged tree: same checkpoint
    assert log.issue_receipts(cp1) == 5
    assert log.issue_receipts(cp1) == 0
    log.append_batch(entries(8, 5))
    cp2 = log.checkpoint(signer)
    assert log.issue_receipts(cp2) == 8
    assert verify_consistency(5, 13, log.consistency_proof(5, 13), bytes.fromhex(cp1.root),
                              bytes.fromhex(cp2.root))  # fmt: skip
    r = log.receipt(entries(1, 2)[0][0])
    assert r is not None and r.tree_size == 5 and r.verify() and r.anchor is None
    # anchoring cp2 re-issues every receipt it covers against the anchored size
    assert log.record_anchor(13, 31337, "0xabc", "0x" + "11" * 32, 9) == 13
    r2 = log.receipt(entries(1, 2)[0][0])
    assert r2 is not None and r2.tree_size == 13 and r2.verify()
    assert r2.anchor is not None and r2.anchor.block == 9
    assert Receipt.model_validate_json(r2.model_dump_json()) == r2


def test_tampered_receipts_and_checkpoints_fail(
    db: Database, keystore: KeyStore, foreign_keystore: KeyStore
) -> None:
    log = TransparencyLog(db)
    log.append_batch(entries(7))
    cp = log.checkpoint(keystore.signer(PASSWORD))
    log.issue_receipts(cp)
    r = log.receipt(entries(1, 4)[0][0])
    assert r is not None and r.verify()
    other = entries(1, 5)[0][0]
    assert not r.model_copy(update={"cid": other}).verify()  # a receipt for another asset
    assert not r.model_copy(update={"leaf_index": 3}).verify()
    assert not r.model_copy(update={"manifest_hash": "00" * 32}).verify()
    bad_root = cp.model_copy(update={"root": "00" * 32})
    assert not bad_root.verify_signature()
    assert not cp.model_copy(update={"size": 6}).verify_signature()
    forged = (
        TransparencyLog(db)
        .checkpoint_at(7)
        .model_copy(update={"signer_chain": foreign_keystore.signer_pem.read_text()})
    )
    assert not forged.verify_signature()
    assert not cp.verify_signature(foreign_keystore.trust_anchor_pem())


def test_bad_input(db: Database, keystore: KeyStore) -> None:
    log = TransparencyLog(db)
    with pytest.raises(LogError, match="empty"):
        log.checkpoint(keystore.signer(PASSWORD))
    with pytest.raises(LogError, match="32 bytes"):
        log.append_batch([(cid_for(b"x"), b"short")])
    with pytest.raises(LogError, match="no checkpoint"):
        log.checkpoint_at(3)
    assert log.size == 0


def test_a_second_writer_reads_what_the_first_appended_then_appends_after_it(db: Database) -> None:
    """Two runs on one catalog (issue 20): the writer whose tree is behind takes the log's lock,
    reads the other's leaves and appends after them (it was refused, and a concurrent run failed)."""
    a, b = TransparencyLog(db), TransparencyLog(db)
    a.append_batch(entries(3))
    assert b.append_batch(entries(2, 3)) == [3, 4]
    assert b.append_batch(entries(1)) == [0]  # a's leaf, known after catching up: not logged twice
    a.refresh()
    assert a.size == b.size == 5 and a.root() == b.root() == TransparencyLog(db).root()


def test_a_derived_leaf_commits_to_its_parent(db: Database, keystore: KeyStore) -> None:
    log = TransparencyLog(db)
    (master, mh0), (variant, mh1), (other, mh2) = entries(3)
    with pytest.raises(LogError, match="not in the log"):  # a parent must be logged first
        log.append_batch([(variant, mh1)], parents={variant: master})
    assert log.append_batch([(master, mh0), (variant, mh1), (other, mh2)], parents={variant: master}) == [
        0,
        1,
        2,
    ]
    log.issue_receipts(log.checkpoint(keystore.signer(PASSWORD)))
    r = log.receipt(variant)
    assert r is not None and r.parent == master and r.verify()
    assert hash_leaf(leaf_data(variant, mh1, master)) == log._tree.leaf_hash(1)
    assert not r.model_copy(update={"parent": None}).verify()  # the parent cannot be dropped…
    assert not r.model_copy(update={"parent": other}).verify()  # …or swapped
    plain = log.receipt(master)
    assert plain is not None and plain.parent is None and plain.verify()
    assert TransparencyLog(db).receipt(variant) == r  # survives a reload


def _receipts_peak(db: Database, keystore: KeyStore, n: int, anchored: bool) -> int:
    """Peak bytes traced while issuing the receipts of an ``n``-leaf log (then anchoring them)."""
    log = TransparencyLog(db, origin=f"example.org/{n}")
    log.append_batch(entries(n, offset=10_000 * n))
    cp = log.checkpoint(keystore.signer(PASSWORD))
    if anchored:
        log.issue_receipts(cp)  # unanchored first: the anchor then rewrites every one of them
    tracemalloc.start()
    try:
        anchor = Anchor(chain_id=31337, contract="0x" + "11" * 20, tx_hash="0x" + "22" * 32, block=7)
        assert log.issue_receipts(cp, anchor if anchored else None) == n
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("anchored", [False, True])
def test_issuing_receipts_holds_a_page_not_the_log(
    tmp_path: Path, keystore: KeyStore, anchored: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: every receipt body (~3 KB) of the checkpoint was built before the first was
    written, ~4.2 KB per leaf at the peak (60+ MB at 20k assets). Now a page at a time (a small
    page here, so that the page itself, whose proofs grow with log n, weighs little)."""
    monkeypatch.setattr(log_module, "RECEIPT_PAGE", 250)
    small, large = 1_500, 4_500
    peaks = {}
    for n in (small, large):
        db = open_workspace_database(f"sqlite:///{tmp_path / f'c{n}-{anchored}.db'}")
        try:
            peaks[n] = _receipts_peak(db, keystore, n, anchored)
        finally:
            db.dispose()
    per_leaf = (peaks[large] - peaks[small]) / (large - small)
    assert per_leaf < 300, f"{per_leaf:.0f} bytes more per leaf at the peak ({peaks})"


def test_a_remix_of_another_organisations_asset_commits_to_that_parent(
    db: Database, keystore: KeyStore
) -> None:
    """A fan's log holds the fan's child, not the brand's parent: the leaf still commits to the
    parent's CID (what UGCRewards.submitFromLog proves), only with ``external_parents``."""
    log = TransparencyLog(db)
    (brand_ad, _), (child, mh) = entries(2)
    with pytest.raises(LogError, match="not in the log"):
        log.append_batch([(child, mh)], parents={child: brand_ad})
    assert log.append_batch([(child, mh)], external_parents={child: brand_ad}) == [0]
    assert log.index_of(brand_ad) is None
    log.issue_receipts(log.checkpoint(keystore.signer(PASSWORD)))
    r = log.receipt(child)
    assert r is not None and r.parent == brand_ad and r.verify()
    assert hash_leaf(leaf_data(child, mh, brand_ad)) == log._tree.leaf_hash(0)
    assert not r.model_copy(update={"parent": None}).verify()
    assert TransparencyLog(db).receipt(child) == r  # survives a reload


@contextmanager
def _leaf_reads(db: Database) -> Iterator[list[tuple[str, tuple[object, ...]]]]:
    """The SELECTs of leaves and receipts ``db`` runs meanwhile, with their parameters."""
    seen: list[tuple[str, tuple[object, ...]]] = []

    def record(_conn: object, _cur: object, statement: str, params: tuple[object, ...], *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and (
            "log_leaves" in statement or "log_receipts" in statement
        ):
            seen.append((" ".join(statement.split()), tuple(params)))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_refresh_reads_only_the_leaves_appended_since(db: Database) -> None:
    """The anchorer of `mintloom serve` refreshes its log before each anchor while renders append
    through another: it reloaded and rehashed the whole log each time (O(log size) a few times a
    minute, under the GIL the renders need). Now only the new leaves are read."""
    writer, anchorer = TransparencyLog(db), TransparencyLog(db)
    writer.append_batch(entries(300))
    anchorer.refresh()
    writer.append_batch(entries(2, 300))
    with _leaf_reads(db) as reads:
        anchorer.refresh()
    assert anchorer.size == 302 and anchorer.root() == writer.root() == TransparencyLog(db).root()
    assert anchorer.index_of(entries(1, 301)[0][0]) == 301
    rows = [(sql, params) for sql, params in reads if "count(" not in sql.lower()]
    assert len(rows) == 1 and 'WHERE log_leaves."index" >=' in rows[0][0], reads
    assert 300 in rows[0][1]


def test_a_refresh_after_a_rolled_back_append_rebuilds_the_tree(db: Database) -> None:
    """A tree longer than the stored log (its append rolled back) is rebuilt from the store."""
    log = TransparencyLog(db)
    log.append_batch(entries(3))
    with pytest.raises(RuntimeError), db.session() as s:
        log.append_batch(entries(2, 3), session=s)
        raise RuntimeError("the batch failed after logging")
    assert log.size == 5
    log.refresh()
    assert log.size == 3 and log.root() == TransparencyLog(db).root()


def test_anchoring_a_checkpoint_reads_only_the_leaves_it_writes_receipts_for(
    db: Database, keystore: KeyStore
) -> None:
    """Each anchor of `mintloom serve`'s anchorer covers a few new leaves, but issuing their
    receipts read every leaf and receipt of the log, a page at a time, holding the log's write
    lock (renders wait for it to commit). Now it starts at the first leaf that needs one."""
    log, signer = TransparencyLog(db), keystore.signer(PASSWORD)
    anchor = Anchor(chain_id=31337, contract="0x" + "11" * 20, tx_hash="0x" + "22" * 32, block=7)
    log.append_batch(entries(2500))
    log.issue_receipts(log.checkpoint(signer, timestamp=int(time.time()) - 60), anchor)
    log.append_batch(entries(4, 2500))
    cp = log.checkpoint(signer)
    with _leaf_reads(db) as reads:
        assert log.issue_receipts(cp, anchor) == 4
    paged = [
        params
        for sql, params in reads
        if "log_receipts.leaf_index >=" in sql or 'log_leaves."index" >=' in sql
    ]
    assert paged and all(2500 in p for p in paged), reads
    r = log.receipt(entries(1, 2503)[0][0])
    assert r is not None and r.anchor == anchor and r.tree_size == 2504 and r.verify()
    assert log.issue_receipts(cp, anchor) == 0


def test_receipts_missing_below_the_last_one_are_still_written(db: Database, keystore: KeyStore) -> None:
    """A gap (a receipt row lost below written ones) is found: every covered leaf gets one."""
    log, signer = TransparencyLog(db), keystore.signer(PASSWORD)
    log.append_batch(entries(30))
    cp = log.checkpoint(signer, timestamp=int(time.time()) - 60)
    log.issue_receipts(cp)
    with db.session() as s:
        s.execute(delete(log_module.ReceiptRow).where(log_module.ReceiptRow.leaf_index.in_([3, 17])))
    assert log.issue_receipts(cp) == 2
    anchor = Anchor(chain_id=31337, contract="0x" + "11" * 20, tx_hash="0x" + "22" * 32, block=7)
    with db.session() as s:
        s.execute(
            update(log_module.ReceiptRow).where(log_module.ReceiptRow.leaf_index < 10).values(anchored=1)
        )
    assert log.issue_receipts(cp, anchor) == 20  # leaves 10-29: those 0-9 say they are anchored
