"""Many writers, one chain: writers sharing an account (processes on one catalog, or hosts) never
collide on nonces, anchor in order, and respect the EIP-1559 fee cap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, func, select, text

from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.errors import FeeCapError
from mintloom.ledger.anchoring import anchor_checkpoint, latest_on_chain
from mintloom.ledger.client import ChainClient
from mintloom.ledger.journal import CONFIRMED, REPLACED, Journal
from mintloom.ledger.node import ANVIL_DEV_KEY, NodeInfo
from mintloom.ledger.reader import Deployments
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import ReceiptRow, TransparencyLog
from mintloom.schema import SCHEMA, open_workspace_database
from mintloom.store.catalog import AssetRow
from mintloom.store.db import Database
from mintloom.store.migrate import alembic_config
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD
from tests.engines.chat_stub import running
from tests.store.conftest import postgres_server  # noqa: F401  (the catalog suite's PostgreSQL)

from .test_anchoring import client, deployed, entries

pytestmark = pytest.mark.xdist_group("anvil")

AUDIENCE = sample_audience(2)


def test_a_checkpoint_a_later_anchor_covers_sends_nothing(
    workspace: Workspace, shared_anvil: NodeInfo, db: Database, keystore: KeyStore
) -> None:
    """Two campaigns' runs on one catalog: the run whose checkpoint is older anchors second. It
    proves nothing backwards (the contract would refuse) and sends nothing: the later anchor
    covers its leaves, and their receipts name that anchor."""
    chain, signer = deployed(workspace, shared_anvil, db), keystore.signer(PASSWORD)
    first_run, second_run = TransparencyLog(db), TransparencyLog(db)
    first_leaves = entries(3, tag="a")
    first_run.append_batch(first_leaves)
    early = first_run.checkpoint(signer)
    second_run.append_batch(entries(4, tag="b"))
    late = second_run.checkpoint(signer)
    assert (early.size, late.size) == (3, 7)
    sent = anchor_checkpoint(client(workspace, shared_anvil, db), second_run, late)
    covered = anchor_checkpoint(chain, first_run, early)
    assert covered.already_anchored and covered.size == 7 and covered.tx_hash == sent.tx_hash
    assert len(chain.journal.entries(chain.chain_id, "anchor:7")) == 1
    assert not chain.journal.entries(chain.chain_id, "anchor:3")  # nothing sent for the older one
    assert latest_on_chain(chain).size == 7
    receipt = first_run.receipt(first_leaves[0][0])
    assert receipt is not None and receipt.anchor is not None and receipt.anchor.tx_hash == sent.tx_hash


def test_fee_above_the_cap_is_refused_by_name_and_nothing_is_signed(
    workspace: Workspace, shared_anvil: NodeInfo, db: Database
) -> None:
    chain = client(workspace, shared_anvil, db, max_fee_wei=1)
    before = chain.w3.eth.get_transaction_count(chain.address)
    with pytest.raises(FeeCapError, match=r"deploy:ProvenanceLog not sent: the chain asks .* above the cap"):
        chain.deploy("ProvenanceLog", chain.address, chain.address)
    assert chain.w3.eth.get_transaction_count(chain.address) == before
    assert not chain.journal.entries(chain.chain_id)


def test_fee_cap_bounds_max_fee_per_gas(workspace: Workspace, shared_anvil: NodeInfo, db: Database) -> None:
    probe = client(workspace, shared_anvil, db)
    base = int(probe.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
    tip = int(probe.w3.eth.max_priority_fee)
    cap = base + tip + max(1, base // 4)  # enough for now, less than the usual 2 × base + tip
    chain = client(workspace, shared_anvil, db, max_fee_wei=cap)
    chain.deploy("ProvenanceLog", chain.address, chain.address)
    (entry,) = chain.journal.entries(chain.chain_id)
    assert entry.status == CONFIRMED
    assert int(chain.w3.eth.get_transaction(entry.tx_hash)["maxFeePerGas"]) <= cap


class LaggingNode:
    """A real JSON-RPC proxy in front of anvil whose ``pending`` transaction count lags one behind,
    as a load-balanced provider's replica does: a second host trusting it signs at a taken nonce."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream

    def handler(self) -> type[BaseHTTPRequestHandler]:
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                data = node.forward(body)
                request = json.loads(body)
                if request.get("method") == "eth_getTransactionCount" and request["params"][1] == "pending":
                    answer = json.loads(data)
                    answer["result"] = hex(max(0, int(answer["result"], 16) - 1))
                    data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                return None

        return Handler

    def forward(self, body: bytes) -> bytes:
        req = urllib.request.Request(self.upstream, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            data: bytes = resp.read()
        return data


@contextmanager
def lagging(upstream: str) -> Iterator[str]:
    with running(ThreadingHTTPServer(("127.0.0.1", 0), LaggingNode(upstream).handler())) as httpd:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"


def test_nonce_taken_by_another_host_is_signed_again_once(
    workspace: Workspace, shared_anvil: NodeInfo, db: Database, tmp_path: Path
) -> None:
    """Host A sends with the account; host B (its own catalog, a lagging provider) signs its write
    at A's nonce. The node answers ``nonce too low``: B marks that entry replaced and sends the
    write once, at the next nonce."""
    host_a = client(workspace, shared_anvil, db)
    host_a.deploy("ProvenanceLog", host_a.address, host_a.address)
    other_db = open_workspace_database(f"sqlite:///{tmp_path / 'host-b.db'}")
    with lagging(shared_anvil.rpc_url) as url:
        host_b = ChainClient(url, ANVIL_DEV_KEY, other_db, Deployments(tmp_path / "d.json"))
        address = host_b.deploy("ProvenanceLog", host_b.address, host_b.address)
    replaced, confirmed = host_b.journal.entries(host_b.chain_id)
    assert (replaced.status, confirmed.status) == (REPLACED, CONFIRMED)
    assert confirmed.nonce == replaced.nonce + 1
    assert "nonce too low" in (replaced.error or "")
    assert host_a.w3.eth.get_code(address)  # the write happened, once
    assert host_a.w3.eth.get_transaction_count(host_a.address) == confirmed.nonce + 1


def test_a_one_time_write_two_clients_raced_for_is_sent_once(
    workspace: Workspace, shared_anvil: NodeInfo, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clients of one catalog (two runs) both look for an earlier write of the same intent
    before either journaled it, then both send: the second finds the first's entry under the
    nonce lock, signs nothing and reports the first's outcome (CI once saw such a write twice)."""
    first, second = client(workspace, shared_anvil, db), client(workspace, shared_anvil, db)
    real = ChainClient._earlier
    raced = {"second": False}

    def looked_too_early(self: ChainClient, intent: str | None) -> object:
        if self is second and not raced["second"]:
            raced["second"] = True
            return None  # the check happened before `first` journaled its write
        return real(self, intent)

    monkeypatch.setattr(ChainClient, "_earlier", looked_too_early)
    before = first.w3.eth.get_transaction_count(first.address)
    address = first.deploy("ProvenanceLog", first.address, first.address)
    assert second.deploy("ProvenanceLog", first.address, first.address) == address
    assert raced["second"]
    assert len(first.journal.entries(first.chain_id, "deploy:ProvenanceLog")) == 1
    assert first.w3.eth.get_transaction_count(first.address) == before + 1


@pytest.fixture
def pg_catalog(
    postgres_server: str,  # noqa: F811  (the fixture imported above)
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """A fresh database on the session's throwaway PostgreSQL server, as the workspace's catalog."""
    name = f"writers_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{postgres_server}/{name}"
    monkeypatch.setenv("MINTLOOM_DATABASE_URL", url)
    yield url
    admin.dispose()


def _run(ws: Workspace, spec: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "MINTLOOM_WORKSPACE": str(ws.root),
        "MINTLOOM_KEY_PASSWORD": PASSWORD,
        "COLUMNS": "300",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "mintloom.cli.main", "run", str(spec), "--publish"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip


def test_two_runs_publish_with_one_account_on_one_catalog(
    pg_catalog: str, shared_anvil: NodeInfo, studio: Studio, tmp_path: Path
) -> None:
    """Two `mintloom run` processes (two campaigns) generate, anchor and publish at once with the
    same account against one anvil and one PostgreSQL catalog: both finish, every transaction is
    mined once at its own nonce, the checkpoints are anchored in order and cover both campaigns."""
    studio.contracts()  # deployed once per chain (`mintloom deploy`), before the runs
    specs = [
        write_sample_campaign(tmp_path / name, sample_spec(campaign=name, copy=False, audio=False), AUDIENCE)
        for name in ("north", "south")
    ]
    runs = [_run(studio.workspace, spec) for spec in specs]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    chain, journal = studio.chain, Journal(studio.db)
    sent = journal.entries(chain.chain_id)
    assert {e.status for e in sent} == {CONFIRMED}  # all mined, none replaced or failed
    nonces = sorted(e.nonce for e in sent)
    assert nonces == list(range(len(sent)))  # no nonce reused, none skipped
    assert chain.w3.eth.get_transaction_count(chain.address) == len(sent)  # nothing sent outside it
    intents = Counter(e.intent for e in sent if e.intent is not None)
    assert [i for i, n in intents.items() if n > 1] == []  # no write sent twice
    anchored = chain.contract("ProvenanceLog").events.CheckpointAnchored.get_logs(from_block=0)
    sizes = [int(e["args"]["size"]) for e in anchored]
    tlog = TransparencyLog(studio.db)
    assert sizes == sorted(set(sizes)) and sizes[-1] == tlog.size  # in order, the last is the head
    with studio.db.session() as s:
        campaigns = set(s.scalars(select(AssetRow.campaign)))
        unanchored = s.scalar(select(func.count()).select_from(ReceiptRow).where(ReceiptRow.anchored == 0))
        receipts = s.scalar(select(func.count()).select_from(ReceiptRow))
    assert campaigns == {"north", "south"}
    assert receipts == tlog.size and unanchored == 0  # every asset of both runs anchored


def test_a_journal_of_64_character_kinds_is_widened_on_postgresql(pg_catalog: str) -> None:
    """A licence folder's kind (``licence-folder:<CID>``, 74 characters) overflowed the journal's
    VARCHAR(64) on PostgreSQL, so publishing failed there; migration 0003 widens an older catalog's
    column when it is opened to write."""
    engine = create_engine(pg_catalog)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn, SCHEMA), "0002")  # the schema before the widening
    engine.dispose()
    db = open_workspace_database(pg_catalog)
    journal = Journal(db)
    kind = "licence-folder:" + "b" * 59
    journal.record_intent(
        chain_id=1, kind=kind, payload={}, sender="0x" + "1" * 40, nonce=0, tx_hash="0x" + "2" * 64, raw=b"x"
    )
    assert [e.kind for e in journal.entries(1)] == [kind]
    db.dispose()


def _deploy(ws: Workspace) -> subprocess.Popen[str]:
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(ws.root), "COLUMNS": "300"}
    return subprocess.Popen(
        [sys.executable, "-m", "mintloom.cli.main", "deploy"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip


def test_two_deploys_at_once_make_one_set_of_contracts(
    pg_catalog: str, shared_anvil: NodeInfo, studio: Studio
) -> None:
    """Two `mintloom deploy` processes against one anvil and one PostgreSQL catalog: one set of
    contracts (each deployed and wired once), every transaction at its own nonce."""
    runs = [_deploy(studio.workspace) for _ in range(2)]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    chain, journal = studio.chain, Journal(studio.db)
    sent = journal.entries(chain.chain_id)
    assert {e.status for e in sent} == {CONFIRMED}, [(e.kind, e.status, e.error) for e in sent]
    kinds = Counter(e.kind for e in sent)
    assert [k for k, n in kinds.items() if n > 1] == []  # each contract deployed once, each wire once
    assert sum(k.startswith("deploy:") for k in kinds) == 8  # deploy_all: 7 core + ContributorRoyalties
    assert sorted(e.nonce for e in sent) == list(range(len(sent)))  # no nonce reused, none skipped
    assert chain.w3.eth.get_transaction_count(chain.address) == len(sent)  # nothing sent outside it
    recorded = Deployments(studio.workspace.chain_dir / "deployments.json")
    addresses = recorded.get(chain.chain_id)
    assert len(addresses) == 8 and all(chain.w3.eth.get_code(a) for a in addresses.values())
    deployed_at = {
        e.kind.removeprefix("deploy:"): e.contract_address for e in sent if e.kind.startswith("deploy:")
    }
    assert {n: a.lower() for n, a in addresses.items()} == {n: str(a).lower() for n, a in deployed_at.items()}
