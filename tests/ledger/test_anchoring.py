"""ProvenanceLog from Python: anchoring, rejected forks, named errors, crash recovery."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import event, func, select

from mintloom.errors import ContractError, LedgerError, NotDeployedError
from mintloom.ledger.anchoring import anchor_log, ensure_provenance_log, latest_on_chain
from mintloom.ledger.client import ChainClient
from mintloom.ledger.journal import CONFIRMED, REPLACED
from mintloom.ledger.node import ANVIL_DEV_KEY, NodeInfo, dev_key
from mintloom.ledger.reader import Deployments
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import LogCheckpoint, ReceiptRow, TransparencyLog
from mintloom.provenance.merkle import MerkleTree, hash_leaf, leaf_data
from mintloom.schema import open_workspace_database
from mintloom.store.cid import cid_for
from mintloom.store.db import Database
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("anvil")

# anvil's second development account: funded, but holds no role
OTHER_DEV_KEY = dev_key(1)


def entries(n: int, offset: int = 0, tag: str = "asset") -> list[tuple[str, bytes]]:
    return [(cid_for(f"{tag} {i}".encode()), hashlib.sha256(f"m{tag}{i}".encode()).digest())
            for i in range(offset, offset + n)]  # fmt: skip


def client(ws: Workspace, node: NodeInfo, db: Database, key: str = ANVIL_DEV_KEY, **kw: Any) -> ChainClient:
    return ChainClient(node.rpc_url, key, db, Deployments(ws.chain_dir / "deployments.json"), **kw)


def deployed(ws: Workspace, node: NodeInfo, db: Database) -> ChainClient:
    """A client of a chain where ``ProvenanceLog`` was deployed explicitly (anchoring never deploys)."""
    chain = client(ws, node, db)
    ensure_provenance_log(chain)
    return chain


def anchor_lost_in_transit(
    chain: ChainClient, tlog: TransparencyLog, signer: Any, monkeypatch: pytest.MonkeyPatch, *, grow: int
) -> Any:
    """Anchor 2 leaves, grow the log by ``grow`` and try to anchor again while the connection
    drops the transaction: it is journaled, never reached the node. Returns its journal entry."""
    tlog.append_batch(entries(2))
    anchor_log(chain, tlog, signer)
    tlog.append_batch(entries(grow, 2))

    def unreachable(*_: Any, **__: Any) -> Any:
        raise ConnectionError("connection reset")

    monkeypatch.setattr(chain.w3.eth, "send_raw_transaction", unreachable)
    with pytest.raises(LedgerError, match=f"sending anchor:{2 + grow} failed"):
        anchor_log(chain, tlog, signer)
    monkeypatch.undo()
    (entry,) = chain.journal.pending(chain.chain_id, chain.address)
    return entry


def test_two_checkpoints_anchor_and_receipts_carry_the_transaction(
    workspace: Workspace, shared_anvil: NodeInfo, db: Database, keystore: KeyStore
) -> None:
    chain, tlog, signer = (
        deployed(workspace, shared_anvil, db),
        TransparencyLog(db),
        keystore.signer(PASSWORD),
    )
    tlog.append_batch(entries(3))
    first = anchor_log(chain, tlog, signer)
    assert (first.size, first.previous_size, first.already_anchored) == (3, 0, False)
    tlog.append_batch(entries(5, 3))
    second = anchor_log(chain, tlog, signer)
    assert (second.size, second.previous_size) == (8, 3)
    assert second.gas_used is not None and second.gas_used > 21_000

    on_chain = latest_on_chain(chain)
    assert (on_chain.size, on_chain.root) == (8, tlog.root())
    assert chain.call("ProvenanceLog", "rootAt", 3) == tlog.root(3)
    # every receipt names the transaction that anchored its checkpoint and verifies on chain too;
    # receipts of the first checkpoint stay valid against it (anchored roots are never replaced)
    for i, (cid, _) in enumerate(entries(8)):
        r = tlog.receipt(cid)
        assert r is not None and r.verify() and r.anchor is not None
        expected = (first.tx_hash, 3) if i < 3 else (second.tx_hash, 8)
        assert (r.anchor.tx_hash, r.tree_size) == expected
        proof = [bytes.fromhex(p) for p in r.inclusion_proof]
        assert chain.call("ProvenanceLog", "verifyInclusion", r.leaf_hash(), r.leaf_index, r.tree_size, proof)
    # anchoring again is a no-op that sends nothing
    again = anchor_log(chain, tlog, signer)
    assert again.already_anchored and again.tx_hash == second.tx_hash
    assert len(chain.journal.entries(chain.chain_id, "anchor:8")) == 1


def test_forked_stale_and_unauthorized_checkpoints_are_rejected_by_name(
    workspace: Workspace, shared_anvil: NodeInfo, db: Database, keystore: KeyStore
) -> None:
    chain, tlog = deployed(workspace, shared_anvil, db), TransparencyLog(db)
    tlog.append_batch(entries(4))
    anchor_log(chain, tlog, keystore.signer(PASSWORD))

    # a fork: same first three leaves, a different fourth, then growth; its proof from 4 cannot verify
    fork = MerkleTree()
    for cid, mh in [*entries(3), *entries(3, 100, "forged")]:
        fork.append(hash_leaf(leaf_data(cid, mh)))
    proof = fork.consistency_proof(4, 6)
    with pytest.raises(ContractError) as err:
        chain.transact("ProvenanceLog", "anchor", 6, fork.root(), proof)
    assert err.value.error_name == "InconsistentCheckpoint"
    assert err.value.error_args == (4, 6)

    with pytest.raises(ContractError) as err:
        chain.transact("ProvenanceLog", "anchor", 4, tlog.root(), [])
    assert err.value.error_name == "CheckpointNotNewer"

    intruder = client(workspace, shared_anvil, db, key=OTHER_DEV_KEY)
    tlog.append_batch(entries(2, 4))
    with pytest.raises(ContractError) as err:
        intruder.transact("ProvenanceLog", "anchor", 6, tlog.root(), tlog.consistency_proof(4, 6))
    assert err.value.error_name == "AccessControlUnauthorizedAccount"
    assert latest_on_chain(chain).size == 4  # nothing changed on chain


def test_local_log_that_diverged_from_the_anchored_one_is_refused(
    workspace: Workspace, shared_anvil: NodeInfo, db: Database, tmp_path: Any, keystore: KeyStore
) -> None:
    chain = deployed(workspace, shared_anvil, db)
    tlog = TransparencyLog(db)
    tlog.append_batch(entries(3))
    anchor_log(chain, tlog, keystore.signer(PASSWORD))
    from mintloom.schema import open_workspace_database

    other_db = open_workspace_database(f"sqlite:///{tmp_path / 'other.db'}")
    other = TransparencyLog(other_db)
    other.append_batch(entries(5, 0, "other"))
    with pytest.raises(LedgerError, match="not the anchored history"):
        anchor_log(client(workspace, shared_anvil, other_db), other, keystore.signer(PASSWORD))


def test_anchor_sent_but_not_confirmed_is_reconciled_not_resent(
    workspace: Workspace, anvil: NodeInfo, db: Database, keystore: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, tlog, signer = deployed(workspace, anvil, db), TransparencyLog(db), keystore.signer(PASSWORD)
    tlog.append_batch(entries(2))
    anchor_log(chain, tlog, signer)  # deploys, anchors 2
    tlog.append_batch(entries(3, 2))

    class Crash(BaseException):
        pass

    def crash(*_: Any, **__: Any) -> Any:
        raise Crash

    monkeypatch.setattr(ChainClient, "_await", crash)  # the process dies right after broadcasting
    with pytest.raises(Crash):
        anchor_log(chain, tlog, signer)
    monkeypatch.undo()
    pending = chain.journal.pending(chain.chain_id, chain.address)
    assert [e.kind for e in pending] == ["anchor:5"]

    restarted = client(workspace, anvil, db)  # opening a client reconciles the journal
    assert chain.journal.get(pending[0].tx_hash).status == CONFIRMED  # type: ignore[union-attr]
    result = anchor_log(restarted, tlog, signer)
    assert result.already_anchored and result.tx_hash == pending[0].tx_hash
    assert len(restarted.journal.entries(restarted.chain_id, "anchor:5")) == 1
    receipt = tlog.receipt(entries(1, 4)[0][0])
    assert receipt is not None and receipt.anchor is not None and receipt.anchor.tx_hash == result.tx_hash


def test_anchor_that_never_left_is_rebroadcast_on_reconcile(
    workspace: Workspace, anvil: NodeInfo, db: Database, keystore: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, tlog, signer = deployed(workspace, anvil, db), TransparencyLog(db), keystore.signer(PASSWORD)
    lost = anchor_lost_in_transit(chain, tlog, signer, monkeypatch, grow=1)
    assert lost.kind == "anchor:3"
    assert latest_on_chain(chain).size == 2  # the transaction never reached the node

    restarted = client(workspace, anvil, db)
    assert latest_on_chain(restarted).size == 3  # rebroadcast from the journal, exactly once
    assert [e.status for e in restarted.journal.entries(restarted.chain_id, "anchor:3")] == [CONFIRMED]


def test_restarted_node_keeps_deployments_and_journal(
    workspace: Workspace, anvil: NodeInfo, db: Database, keystore: KeyStore
) -> None:
    from mintloom.ledger.node import AnvilNode

    chain, tlog = deployed(workspace, anvil, db), TransparencyLog(db)
    tlog.append_batch(entries(3))
    first = anchor_log(chain, tlog, keystore.signer(PASSWORD))
    node = AnvilNode(workspace.chain_dir)
    for _ in range(3):  # stop and start: state reloads, nothing is taken for a reset
        node.stop()
        info = node.start()
        again = ChainClient(
            info.rpc_url, ANVIL_DEV_KEY, db, Deployments(workspace.chain_dir / "deployments.json")
        )
        assert again.deployments.get(again.chain_id)["ProvenanceLog"] == chain.address_of("ProvenanceLog")
        assert latest_on_chain(again).size == 3
        assert all(e.status == CONFIRMED for e in again.journal.entries(again.chain_id))
        same = anchor_log(again, tlog, keystore.signer(PASSWORD))  # finds its transaction again
        assert same.already_anchored and same.tx_hash == first.tx_hash


def test_journaled_transaction_whose_nonce_was_taken_is_marked_replaced(
    workspace: Workspace, anvil: NodeInfo, db: Database, keystore: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, tlog, signer = deployed(workspace, anvil, db), TransparencyLog(db), keystore.signer(PASSWORD)
    lost_entry = anchor_lost_in_transit(chain, tlog, signer, monkeypatch, grow=2)

    # another process with the same key (and its own journal) uses that nonce first
    other_db = open_workspace_database(f"sqlite:///{workspace.state_dir / 'other.db'}")
    other = ChainClient(anvil.rpc_url, ANVIL_DEV_KEY, other_db, chain.deployments)
    tlog.append_batch(entries(1, 4))
    anchor_log(other, tlog, signer)  # anchors size 5 with a different transaction at that nonce
    assert chain.reconcile() == [(lost_entry.tx_hash, REPLACED)]
    assert chain.journal.pending(chain.chain_id, chain.address) == []
    assert latest_on_chain(chain).size == 5  # never sent twice: the lost anchor can no longer land


def test_anchoring_never_deploys_a_contract(
    workspace: Workspace, anvil: NodeInfo, db: Database, keystore: KeyStore
) -> None:
    """Deploying is its own step: a chain without ProvenanceLog is refused by name, untouched."""
    chain, tlog = client(workspace, anvil, db), TransparencyLog(db)
    tlog.append_batch(entries(2))
    with pytest.raises(NotDeployedError, match="ProvenanceLog is not deployed"):
        anchor_log(chain, tlog, keystore.signer(PASSWORD))
    assert chain.addresses() == {}
    assert chain.journal.entries(chain.chain_id) == []


def receipt_writes(db: Database) -> list[str]:
    """Records every INSERT/UPDATE statement on the receipts table from now on."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        head = statement.lstrip().upper()
        table = ReceiptRow.__tablename__.upper()
        if head.startswith((f"INSERT INTO {table} ", f"UPDATE {table} ")):
            seen.append(head.split()[0])

    event.listen(db.engine, "before_cursor_execute", record)
    return seen


def test_anchoring_writes_each_receipt_once_and_an_anchored_log_not_at_all(
    workspace: Workspace, anvil: NodeInfo, db: Database, keystore: KeyStore
) -> None:
    chain, tlog, signer = deployed(workspace, anvil, db), TransparencyLog(db), keystore.signer(PASSWORD)
    tlog.append_batch(entries(3))
    writes = receipt_writes(db)
    first = anchor_log(chain, tlog, signer)  # signs checkpoint 3: its receipts are born anchored
    assert (first.size, first.receipts_updated, writes) == (3, 3, ["INSERT"])
    receipt = tlog.receipt(entries(1)[0][0])
    assert receipt is not None and receipt.anchor is not None and receipt.anchor.tx_hash == first.tx_hash

    writes.clear()
    again = anchor_log(chain, tlog, signer)  # covered and anchored: no checkpoint, no receipt, no tx
    assert again.already_anchored and again.receipts_updated == 0 and writes == []
    assert len(chain.journal.entries(chain.chain_id, "anchor:3")) == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LogCheckpoint)) == 1
