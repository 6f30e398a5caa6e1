"""The workspace schema is gathered above the subsystems, so store never imports them.

The checks that matter run in a fresh interpreter: in this one, other tests have already imported
every table module, which would hide a table that only registers by accident of import order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from mintloom.schema import SCHEMA, TABLE_MODULES
from mintloom.store.db import open_database

EVERY_TABLE = {
    "campaigns", "jobs", "assets", "exports", "fingerprints", "lineage",  # store.catalog
    "log_leaves", "log_leaf_parents", "log_checkpoints", "log_receipts",  # provenance.log
    "qa_reports", "asset_tags", "alt_texts",  # store.annotations
    "api_tokens",  # store.tokens
    "review_samples", "review_decisions", "review_rounds",  # store.reviews
    "ledger_journal",  # ledger.journal
    "write_locks",  # store.locks
    "chain_names", "lineage_registrants",  # ledger.lineage
    "dataset_manifests",  # ledger.datasets
    "token_metadata",  # ledger.metadata
    "licence_folders",  # governance.licence_metadata
    "market_orders",  # market.book
    "market_merkle_listings",  # market.catalog
    "thumbnails",  # store.thumbnails
    "public_assets",  # store.visibility
}  # fmt: skip


def _fresh(code: str, cwd: Path) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-c", code]
    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=True)
    result: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_studio_database_has_every_table_before_any_subsystem_is_imported(tmp_path: Path) -> None:
    """Studio.db alone (no ledger import of its own) creates the journal and lineage tables too."""
    code = (
        "import json\n"
        "from pathlib import Path\n"
        "from sqlalchemy import inspect\n"
        "from mintloom.studio import Studio\n"
        "from mintloom.workspace import Workspace\n"
        f"studio = Studio(Workspace.init(Path({str(tmp_path / 'ws')!r})))\n"
        "tables = inspect(studio.db.engine).get_table_names()\n"
        "print(json.dumps({'tables': sorted(tables)}))\n"
    )
    assert set(_fresh(code, tmp_path)["tables"]) == EVERY_TABLE | {"alembic_version"}  # + its revision


def test_store_alone_declares_no_table_of_the_layers_above(tmp_path: Path) -> None:
    """Importing store (db, catalog, blobs, car) registers only the catalog's tables."""
    code = (
        "import json, sys\n"
        "import mintloom.store.db, mintloom.store.catalog, mintloom.store.blobs, mintloom.store.car\n"
        "loaded = [m for m in sys.modules if m.startswith(('mintloom.provenance', 'mintloom.ledger'))]\n"
        "tables = list(mintloom.store.db.Base.metadata.tables)\n"
        "print(json.dumps({'loaded': loaded, 'tables': sorted(tables)}))\n"
    )
    found = _fresh(code, tmp_path)
    assert found["loaded"] == []
    assert set(found["tables"]) == {"campaigns", "jobs", "assets", "exports", "fingerprints", "lineage"}


def test_schema_lists_every_table_module() -> None:
    declared = {table.name for table in SCHEMA.sorted_tables}
    assert declared == EVERY_TABLE
    assert {m.__name__ for m in TABLE_MODULES} == {
        "mintloom.store.catalog",
        "mintloom.store.annotations",
        "mintloom.store.reviews",
        "mintloom.store.tokens",
        "mintloom.store.locks",
        "mintloom.provenance.log",
        "mintloom.ledger.journal",
        "mintloom.ledger.lineage",
        "mintloom.ledger.datasets",
        "mintloom.ledger.metadata",
        "mintloom.governance.licence_metadata",
        "mintloom.market.book",
        "mintloom.market.catalog",
        "mintloom.store.thumbnails",
        "mintloom.store.visibility",
    }


def test_open_database_without_a_schema_creates_nothing(tmp_path: Path) -> None:
    """The doctor's read-only probe (``schema=None``) never writes a table into a database."""
    db = open_database(f"sqlite:///{tmp_path / 'probe.db'}", schema=None)
    try:
        assert inspect(db.engine).get_table_names() == []
    finally:
        db.dispose()


def test_importing_studio_does_not_load_the_ledger(tmp_path: Path) -> None:
    """The schema (and web3 with the ledger's tables) loads when a studio opens its database, not
    when a module merely imports :mod:`mintloom.studio`."""
    code = (
        "import json, sys\n"
        "import mintloom.studio\n"
        "heavy = ('web3', 'mintloom.ledger.journal')\n"
        "print(json.dumps({'loaded': sorted(m for m in heavy if m in sys.modules)}))\n"
    )
    assert _fresh(code, tmp_path)["loaded"] == []
