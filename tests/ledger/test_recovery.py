"""Recovery on a real anvil: a node that lost its last blocks is replayed from the journal, a chain
that is not ours any more is refused by name, every write is sent at most once, and an anvil left
on the workspace's state file is adopted or killed, never doubled."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from mintloom.errors import ChainResetError, ContractsOutdatedError, LedgerError
from mintloom.governance.royalties import Share, ensure_split
from mintloom.ledger import client as client_module
from mintloom.ledger.anchoring import anchor_log, latest_on_chain
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import deploy_all, reset_chain
from mintloom.ledger.journal import CONFIRMED, ORPHANED, Journal
from mintloom.ledger.lineage import Names
from mintloom.ledger.node import ANVIL_DEV_KEY, AnvilNode, _anvils_on, dev_key, rpc_call
from mintloom.ledger.reader import Deployments
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.store.cid import cid_for
from mintloom.store.db import Database
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("anvil")

NEVER = 3600  # a state interval no test outlives: anvil persists only when stopped


def entries(n: int, offset: int = 0) -> list[tuple[str, bytes]]:
    return [(cid_for(f"asset {i}".encode()), hashlib.sha256(f"m{i}".encode()).digest())
            for i in range(offset, offset + n)]  # fmt: skip


@pytest.fixture
def node(workspace: Workspace) -> Iterator[AnvilNode]:
    """A node that persists its state only when stopped, so a SIGKILL loses every block since."""
    n = AnvilNode(workspace.chain_dir, state_interval=NEVER)
    yield n
    n.stop()


def open_client(ws: Workspace, node: AnvilNode, db: Database, key: str = ANVIL_DEV_KEY) -> ChainClient:
    return ChainClient(node.start().rpc_url, key, db, Deployments(ws.chain_dir / "deployments.json"))


def kill_node(node: AnvilNode) -> None:
    """SIGKILL: anvil dies without writing its state."""
    info = node.running()
    assert info is not None
    os.kill(info.pid, signal.SIGKILL)
    os.waitpid(info.pid, 0)


def nonce(chain: ChainClient) -> int:
    return int(chain.w3.eth.get_transaction_count(chain.address, "latest"))


@pytest.mark.parametrize("persisted_before", [True, False], ids=["lost-last-blocks", "lost-everything"])
def test_node_killed_before_persisting_is_replayed_from_the_journal(
    workspace: Workspace, node: AnvilNode, db: Database, keystore: KeyStore, persisted_before: bool
) -> None:
    chain, tlog, signer = open_client(workspace, node, db), TransparencyLog(db), keystore.signer(PASSWORD)
    deployed = deploy_all(chain)
    tlog.append_batch(entries(3))
    anchor_log(chain, tlog, signer)
    if persisted_before:
        node.stop()  # the state file now holds the deployments and the first anchor
        chain = open_client(workspace, node, db)
    tlog.append_batch(entries(2, 3))
    second = anchor_log(chain, tlog, signer)
    split = ensure_split(chain, db, "camp", [Share(chain.address, 10_000, "brand")])
    sent = nonce(chain)
    kill_node(node)

    again = open_client(workspace, node, db)  # replays what the node lost, in order
    assert nonce(again) == sent == len(again.journal.entries(again.chain_id))
    assert all(e.status == CONFIRMED for e in again.journal.entries(again.chain_id))
    assert again.deployments.get(again.chain_id) == deployed  # same addresses, nothing redeployed
    assert (latest_on_chain(again).size, latest_on_chain(again).root) == (5, tlog.root())
    assert int(again.call("RoyaltyVault", "splitCount")) == split == 1
    same = anchor_log(again, tlog, signer)  # nothing left to send
    assert same.already_anchored and same.tx_hash == second.tx_hash
    assert nonce(again) == sent


def test_a_chain_with_another_history_is_refused_by_name_until_reset(
    workspace: Workspace, node: AnvilNode, db: Database, keystore: KeyStore
) -> None:
    chain = open_client(workspace, node, db)
    deploy_all(chain)
    Names(db, chain.chain_id).set("split", "camp", 1)
    # the journal says nonce 40 was confirmed on this chain id; the chain never saw nonces 12..39
    chain.journal.record_intent(chain_id=chain.chain_id, kind="anchor:9", payload={}, sender=chain.address,
                                nonce=40, tx_hash="0x" + "33" * 32, raw=b"\x02")  # fmt: skip
    chain.journal.finish("0x" + "33" * 32, CONFIRMED, block=50, gas_used=1)
    recorded = chain.deployments.get(chain.chain_id)

    with pytest.raises(ChainResetError, match="journal cannot replay") as err:
        open_client(workspace, node, db)
    assert err.value.exit_code == 6 and "mintloom chain reset" in str(err.value.hint)
    assert chain.deployments.get(chain.chain_id) == recorded  # nothing forgotten silently

    raw = ChainClient(node.start().rpc_url, ANVIL_DEV_KEY, db, chain.deployments, reconcile=False)
    assert reset_chain(raw, db) == 14  # 8 deployments, 5 wiring calls, the forged entry
    assert chain.deployments.get(chain.chain_id) == {}
    assert chain.journal.get("0x" + "33" * 32).status == ORPHANED  # type: ignore[union-attr]
    assert Names(db, chain.chain_id).get("split", "camp") is None
    fresh = open_client(workspace, node, db)
    assert deploy_all(fresh)["ProvenanceLog"] != recorded["ProvenanceLog"]  # deployed anew, explicitly


def test_a_recorded_contract_without_code_is_refused_not_redeployed(
    workspace: Workspace, node: AnvilNode, db: Database
) -> None:
    chain = open_client(workspace, node, db)
    chain.deployments.set(chain.chain_id, "ProvenanceLog", "0x" + "22" * 20)
    with pytest.raises(ChainResetError, match="has no code"):
        open_client(workspace, node, db)
    with pytest.raises(ChainResetError, match="has no code"):
        deploy_all(chain)  # a client opened before: ensure_deployed refuses too
    assert nonce(chain) == 0  # nothing was sent


@pytest.mark.parametrize("record", ["other code", "not recorded"])
def test_contracts_deployed_from_other_code_are_refused_until_reset(
    workspace: Workspace, node: AnvilNode, db: Database, record: str
) -> None:
    """An upgrade that changed the contracts must not drive the old ones with the new ABI (a
    revert deep in publish); deployments by an earlier mintloom recorded no code at all."""
    chain = open_client(workspace, node, db)
    before = deploy_all(chain)
    codes = workspace.chain_dir / "deployments-code.json"
    if record == "other code":
        chain.deployments.set_code(chain.chain_id, "CreativeAssets", "00" * 32)
    else:
        codes.unlink()
    sent = nonce(chain)
    with pytest.raises(ContractsOutdatedError, match="deployed from other code") as err:
        deploy_all(open_client(workspace, node, db))
    assert "deploy --reset" in str(err.value.hint) and nonce(chain) == sent  # nothing was sent
    reset_chain(chain, db)
    after = deploy_all(open_client(workspace, node, db))
    assert after["CreativeAssets"] != before["CreativeAssets"]
    assert deploy_all(open_client(workspace, node, db)) == after  # recorded with its code now


def test_a_confirmed_write_is_read_back_not_sent_again(
    workspace: Workspace, node: AnvilNode, db: Database
) -> None:
    chain = open_client(workspace, node, db)
    deploy_all(chain)
    args = ([chain.address], [10_000])
    first = chain.transact("RoyaltyVault", "createSplit", *args, kind="split:x")
    again = open_client(workspace, node, db).transact("RoyaltyVault", "createSplit", *args, kind="split:x")
    assert again.tx_hash == first.tx_hash
    assert int(chain.call("RoyaltyVault", "splitCount")) == 1
    repeated = chain.transact("RoyaltyVault", "createSplit", *args, kind="split:x", once=False)
    assert repeated.tx_hash != first.tx_hash
    assert int(chain.call("RoyaltyVault", "splitCount")) == 2


class Crash(BaseException):
    """Stands for the SIGKILL of a crash point (the subprocess suite uses the real one)."""


def crash_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    def maybe(name: str) -> None:
        if name == point:
            raise Crash

    monkeypatch.setattr(client_module, "crash_point", maybe)


@pytest.mark.parametrize("point", ["tx-journaled-split", "tx-sent-split", "tx-confirmed-split"])
def test_split_created_before_a_crash_is_not_created_twice(
    workspace: Workspace, node: AnvilNode, db: Database, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    chain = open_client(workspace, node, db)
    deploy_all(chain)
    shares = [Share(chain.address, 10_000, "brand")]
    crash_at(monkeypatch, point)
    with pytest.raises(Crash):
        ensure_split(chain, db, "camp", shares)
    monkeypatch.undo()
    rerun = open_client(workspace, node, db)
    assert ensure_split(rerun, db, "camp", shares) == 1
    assert int(rerun.call("RoyaltyVault", "splitCount")) == 1


def test_node_killed_under_a_running_publish_is_a_ledger_error_then_replayed(
    workspace: Workspace, node: AnvilNode, db: Database, keystore: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, tlog = open_client(workspace, node, db), TransparencyLog(db)
    deployed = deploy_all(chain)
    tlog.append_batch(entries(2))
    anchor_log(chain, tlog, keystore.signer(PASSWORD))

    def node_dies(name: str) -> None:
        if name == "tx-sent-split":  # the node dies with the split sent, nothing persisted
            kill_node(node)

    monkeypatch.setattr(client_module, "crash_point", node_dies)
    with pytest.raises(LedgerError, match="lost the chain"):
        ensure_split(chain, db, "camp", [Share(chain.address, 10_000, "brand")])
    monkeypatch.undo()
    again = open_client(workspace, node, db)
    assert again.deployments.get(again.chain_id) == deployed
    assert latest_on_chain(again).size == 2
    assert ensure_split(again, db, "camp", [Share(again.address, 10_000, "brand")]) == 1
    assert int(again.call("RoyaltyVault", "splitCount")) == 1
    assert nonce(again) == len(again.journal.entries(again.chain_id))


def test_deploy_killed_between_its_two_wiring_calls_completes_both(
    workspace: Workspace, node: AnvilNode, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_at(monkeypatch, "tx-confirmed-wire")  # right after setDerivativeGuard
    with pytest.raises(Crash):
        deploy_all(open_client(workspace, node, db))
    monkeypatch.undo()
    again = open_client(workspace, node, db)
    out = deploy_all(again)
    receiver, bps = again.call("CreativeAssets", "royaltyInfo", 0, 10_000)
    assert receiver == out["RoyaltyVault"] and bps == 500


def test_split_id_is_taken_from_its_event_when_another_sender_interleaves(
    workspace: Workspace, node: AnvilNode, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = open_client(workspace, node, db)
    deploy_all(chain)
    other = open_client(
        workspace, node, open_workspace_database(f"sqlite:///{workspace.state_dir / 'o.db'}"), dev_key(1)
    )
    stranger = [other.address, chain.address]
    real = ChainClient.transact

    def then_another_sender(self: ChainClient, *args: Any, **kw: Any) -> Any:
        result = real(self, *args, **kw)
        if self is chain:  # someone else's split lands right after ours, before we read anything
            real(other, "RoyaltyVault", "createSplit", stranger, [5_000, 5_000])
        return result

    monkeypatch.setattr(ChainClient, "transact", then_another_sender)
    split = ensure_split(chain, db, "camp", [Share(chain.address, 10_000, "brand")])
    assert int(chain.call("RoyaltyVault", "splitCount")) == 2
    assert split == 1
    assert Names(db, chain.chain_id).get("split", "camp") == 1


def spawn_stray(node: AnvilNode, port: int) -> subprocess.Popen[bytes]:
    """An anvil on the workspace's state file that no node.json names (its starter was killed)."""
    node.chain_dir.mkdir(parents=True, exist_ok=True)
    args = [str(node.binary()), "--host", "127.0.0.1", "--port", str(port), "--chain-id", "31337",
            "--state", str(node.state_file.absolute()), "--state-interval", "1"]  # fmt: skip
    return subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _left_on(node: AnvilNode, until: list[int], seconds: float = 30) -> list[int]:
    """The anvils on the node's state file, once they are ``until`` or after ``seconds``: a
    SIGKILLed process is listed until the kernel has run its exit, which a loaded machine delays."""
    deadline = time.monotonic() + seconds
    while True:
        pids = [pid for pid, _ in _anvils_on(str(node.state_file.absolute())) or []]
        if pids == until or time.monotonic() > deadline:
            return pids
        time.sleep(0.2)


def test_anvil_left_on_the_state_file_is_adopted_and_a_second_one_killed(workspace: Workspace) -> None:
    from mintloom.ledger.node import free_port

    node = AnvilNode(workspace.chain_dir)
    strays = [spawn_stray(node, free_port()), spawn_stray(node, free_port())]
    try:
        info = node.start()
        assert info.pid in {p.pid for p in strays}  # adopted, not a third node
        assert _left_on(node, until=[info.pid]) == [info.pid]  # the other was killed
        assert int(rpc_call(info.rpc_url, "eth_chainId"), 16) == 31337
        assert node.running() == info
    finally:
        node.stop()
        for p in strays:
            p.kill()
            p.wait()
    assert _anvils_on(str(node.state_file.absolute())) == []


def test_catalog_from_before_intents_gets_the_column(tmp_path: Path) -> None:
    db = open_workspace_database(f"sqlite:///{tmp_path / 'old.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_ledger_journal_intent"))
        conn.execute(text("ALTER TABLE ledger_journal DROP COLUMN intent"))
    journal = Journal(db)
    journal.record_intent(chain_id=1, kind="k", payload={}, sender="0x" + "11" * 20, nonce=0,
                          tx_hash="0x" + "44" * 32, raw=b"\x01", intent="i")  # fmt: skip
    assert journal.by_intent(1, "0x" + "11" * 20, "i") is not None


def test_unreachable_chain_is_a_ledger_error(workspace: Workspace, db: Database) -> None:
    from mintloom.ledger.node import free_port

    with pytest.raises(LedgerError, match="cannot reach"):
        ChainClient(
            f"http://127.0.0.1:{free_port()}", ANVIL_DEV_KEY, db, Deployments(workspace.chain_dir / "d.json")
        )


def test_two_clients_of_one_workspace_sending_in_turn_both_succeed(
    workspace: Workspace, node: AnvilNode, db: Database
) -> None:
    """`mintloom serve` and a CLI command of the same workspace send from the same account in
    turn: a client's cached nonce must not collide with the other's journaled transaction."""
    first = open_client(workspace, node, db)
    deploy_all(first)
    second = open_client(workspace, node, db)
    split = ("RoyaltyVault", "createSplit", [first.address], [10_000])
    first.transact(*split, once=False)  # caches its next nonce
    second.transact(*split, once=False)  # takes that nonce
    first.transact(*split, once=False)
    assert int(first.call("RoyaltyVault", "splitCount")) == 3
    assert nonce(first) == len(first.journal.entries(first.chain_id))


def test_a_replay_that_hands_out_another_split_id_is_refused_by_name(
    workspace: Workspace, node: AnvilNode, db: Database
) -> None:
    """The node lost our createSplit and another account's split landed first on the restarted
    node: the replay succeeds but gets split id 2, not the journaled 1, so payments meant for
    our split would go to the stranger's. Refused, at this open and every later one."""
    chain = open_client(workspace, node, db)
    deploy_all(chain)
    node.stop()  # the state file holds the deployments
    chain = open_client(workspace, node, db)
    ours = chain.transact("RoyaltyVault", "createSplit", [chain.address], [10_000], kind="split:camp")
    assert chain.events("RoyaltyVault", "SplitCreated", ours.tx_hash)[0]["args"]["splitId"] == 1
    kill_node(node)  # our split is lost
    stranger_db = open_workspace_database(f"sqlite:///{workspace.state_dir / 'stranger.db'}")
    stranger = open_client(workspace, node, stranger_db, dev_key(1))  # its journal is empty
    stranger.transact("RoyaltyVault", "createSplit", [stranger.address], [10_000], once=False)

    with pytest.raises(ChainResetError, match=f"split:camp {ours.tx_hash} .*other events") as err:
        open_client(workspace, node, db)
    assert "mintloom chain reset" in str(err.value.hint)
    assert int(stranger.call("RoyaltyVault", "splitCount")) == 2  # ours came back as split 2
    with pytest.raises(ChainResetError, match="other events"):
        open_client(workspace, node, db)  # the mined replay is still refused, not forgotten


def test_a_journal_without_kept_outcomes_falls_back_to_the_status(
    workspace: Workspace, node: AnvilNode, db: Database
) -> None:
    """Entries confirmed before outcomes were kept (outcome NULL) are replayed as before: the
    status alone decides, and the normal lost-blocks replay passes."""
    chain = open_client(workspace, node, db)
    deploy_all(chain)
    node.stop()
    chain = open_client(workspace, node, db)
    ours = chain.transact("RoyaltyVault", "createSplit", [chain.address], [10_000], kind="split:camp")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_journal SET outcome = NULL"))
    kill_node(node)
    again = open_client(workspace, node, db)
    assert int(again.call("RoyaltyVault", "splitCount")) == 1
    assert again.journal.get(ours.tx_hash).outcome is not None  # type: ignore[union-attr]


def test_two_clients_journaling_at_one_nonce_send_at_distinct_nonces(
    workspace: Workspace, node: AnvilNode, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first client has journaled its transaction at nonce N but not sent it when the
    second reads the node's pending nonce (still N) and journals: the second takes N+1 from
    the journal, both confirm, and the journal holds no second entry at N."""
    first = open_client(workspace, node, db)
    deploy_all(first)
    second = open_client(workspace, node, db)
    n = nonce(first)
    split = ("RoyaltyVault", "createSplit", [first.address], [10_000])
    other_split = ("RoyaltyVault", "createSplit", [first.address, "0x" + "11" * 20], [5_000, 5_000])
    pool = ThreadPoolExecutor(max_workers=1)
    later: list[Future[Any]] = []

    def second_journals_meanwhile(name: str) -> None:
        if name == "tx-journaled-first" and not later:
            later.append(pool.submit(second.transact, *other_split, kind="second:x"))
            deadline = time.monotonic() + 10
            while not later[0].done() and len(first.journal.pending(first.chain_id, first.address)) < 2:
                assert time.monotonic() < deadline, "the second client never journaled"
                time.sleep(0.02)

    monkeypatch.setattr(client_module, "crash_point", second_journals_meanwhile)
    try:
        one = first.transact(*split, kind="first:x")
        two = later[0].result(timeout=20)
    finally:
        pool.shutdown(wait=True)
    rows = {e.tx_hash: e for e in first.journal.entries(first.chain_id)}
    assert (rows[one.tx_hash].nonce, rows[two.tx_hash].nonce) == (n, n + 1)
    assert all(e.status == CONFIRMED for e in rows.values())  # no orphan, nothing pending
    assert int(first.call("RoyaltyVault", "splitCount")) == 2
    assert nonce(first) == len(rows) == n + 2


def test_a_client_journaling_while_another_signs_waits_for_the_nonce_lock(
    workspace: Workspace, node: AnvilNode, db: Database
) -> None:
    """Another client of the catalog journals while this one signs: it waits on the sender's
    nonce lock (issue 20; before, it took the very nonce and this one had to sign again), then
    journals at the next nonce."""
    chain = open_client(workspace, node, db)
    other = Journal(open_workspace_database(f"sqlite:///{db.engine.url.database}"))
    with ThreadPoolExecutor(1) as pool:
        rival: list[Future[Any]] = []

        def sign(at: int) -> tuple[str, bytes]:
            rival.append(pool.submit(other.record_signed, chain_id=chain.chain_id, kind="other",
                                     payload={}, sender=chain.address, least_nonce=0,
                                     sign=lambda n: ("0x" + "55" * 31 + f"{n:02x}", b"\x02")))  # fmt: skip
            time.sleep(1.0)
            assert not rival[0].done()  # blocked while this client holds the lock
            return "0x" + f"{at:064x}", bytes([at])

        entry = chain.journal.record_signed(chain_id=chain.chain_id, kind="mine", payload={},
                                            sender=chain.address, least_nonce=0, sign=sign)  # fmt: skip
        theirs = rival[0].result(timeout=60)
    assert (entry.nonce, theirs.nonce) == (0, 1)
    assert [(e.kind, e.nonce) for e in chain.journal.entries(chain.chain_id)] == [("mine", 0), ("other", 1)]
