"""Catalog conformance: the same suite against SQLite and PostgreSQL.

A campaign run, the transparency log, receipts, the transaction journal and the name registry
behave identically on both databases; a failed batch leaves nothing behind on either.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.spec import load_spec
from mintloom.errors import CatalogError
from mintloom.ledger.journal import CONFIRMED, Journal
from mintloom.ledger.lineage import Names
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.store.catalog import AssetRow, Catalog, FingerprintRow
from mintloom.store.cid import cid_for
from mintloom.store.db import Database, open_database
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.campaign.conftest import write_campaign
from tests.conftest import PASSWORD

_counter = itertools.count()


class CatalogConformance:
    """Subclassed once per database backend; ``database_url`` names a fresh, empty database."""

    @pytest.fixture
    def database_url(self, tmp_path: Path) -> str:
        raise NotImplementedError

    @pytest.fixture
    def database(self, database_url: str) -> Iterator[Database]:
        db = open_workspace_database(database_url)
        yield db
        db.dispose()

    def test_log_receipts_and_checkpoints_round_trip(self, database: Database, keystore: KeyStore) -> None:
        log = TransparencyLog(database)
        entries = [(cid_for(f"a{i}".encode()), hashlib.sha256(f"m{i}".encode()).digest()) for i in range(50)]
        assert log.append_batch(entries) == list(range(50))
        cp = log.checkpoint(keystore.signer(PASSWORD))
        assert log.issue_receipts(cp) == 50
        again = TransparencyLog(database)  # everything read back from the database
        assert again.root() == log.root() and again.latest_checkpoint() == cp
        receipt = again.receipt(entries[17][0])
        assert receipt is not None and receipt.verify() and receipt.checkpoint.verify_signature()
        stale = TransparencyLog(database)
        log.append_batch([*entries[:1], (cid_for(b"new"), bytes(32))])
        # a writer behind (another run on the catalog) reads the new leaf, then appends after it
        assert stale.append_batch([(cid_for(b"other"), bytes(32))]) == [51]
        log.refresh()
        assert stale.root() == log.root() == TransparencyLog(database).root()

    def test_journal_and_names(self, database: Database) -> None:
        j = Journal(database)
        j.record_intent(chain_id=1, kind="anchor:3", payload={"size": 3}, sender="0xabc", nonce=0,
                        tx_hash="0x" + "11" * 32, raw=b"\x02raw")  # fmt: skip
        with pytest.raises(CatalogError):  # the same nonce twice is refused, nothing written
            j.record_intent(chain_id=1, kind="anchor:4", payload={}, sender="0xabc", nonce=0,
                            tx_hash="0x" + "22" * 32, raw=b"\x02")  # fmt: skip
        assert [e.kind for e in j.pending(1, "0xabc")] == ["anchor:3"]
        j.finish("0x" + "11" * 32, CONFIRMED, block=5, gas_used=90_000)
        assert j.pending(1, "0xabc") == [] and j.entries(1)[0].gas_used == 90_000
        names = Names(database, 31337)
        names.set("dataset", "photos", 7)
        names.set("dataset", "photos", 8)
        assert names.get("dataset", "photos") == 8 and names.get("model", "photos") is None

    def test_campaign_runs_identically(self, database_url: str, tmp_path: Path, keystore: KeyStore) -> None:
        ws = Workspace.init(tmp_path / "ws")
        ws.config_file.write_text(f'database_url = "{database_url}"\n')
        studio = Studio(ws, password=PASSWORD)
        studio.ensure_keys()
        try:
            spec = load_spec(write_campaign(tmp_path / "c"))
            summary = CampaignRunner(studio.run_parts(), spec, batch_size=4).run()
            assert summary.generated == {"image": 12, "copy": 4, "audio": 1}
            assert studio.db.engine.url.render_as_string() == database_url
            catalog = Catalog(studio.db)
            rows = catalog.fingerprints()
            assert len(rows) == 12 * 11 and all(0 <= p < 1 << 64 and 0 <= d < 1 << 64 for _, p, d in rows)
            assert any(p >= 1 << 63 for _, p, _ in rows)  # unsigned hashes above 2**63 survive BIGINT
            with studio.db.session() as s:
                assert s.scalar(select(func.count()).select_from(AssetRow)) == 17
                assert s.scalar(select(func.count()).select_from(FingerprintRow)) == 132
            resumed = CampaignRunner(studio.run_parts(), load_spec(write_campaign(tmp_path / "c"))).run()
            assert resumed.skipped == 17 and resumed.new_assets == 0
        finally:
            studio.close()


class TestSQLite(CatalogConformance):
    @pytest.fixture
    def database_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'catalog.db'}"


class TestPostgreSQL(CatalogConformance):
    @pytest.fixture
    def database_url(self, postgres_server: str) -> str:
        name = f"mintloom_test_{next(_counter)}_{hashlib.sha256(str(Path.cwd()).encode()).hexdigest()[:6]}"
        admin = open_database(f"{postgres_server}/postgres", schema=None)
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return f"{postgres_server}/{name}"
