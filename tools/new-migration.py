"""Write the next catalog migration by comparing the models with the migrations' head.

    PYTHONPATH=src .venv/bin/python tools/new-migration.py "add nonce table"

Upgrades a throwaway SQLite database through every packaged migration, lets Alembic autogenerate
the difference to ``mintloom.schema.SCHEMA`` and writes
``src/mintloom/store/migrations/versions/v<NNNN>_<slug>.py`` (revision NNNN = head + 1). Read the
file before committing: autogenerate misses renames and server-side details (see docs/migrations.md).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from mintloom.schema import SCHEMA
from mintloom.store import migrate


def main(message: str) -> None:
    scripts = migrate._scripts()
    current = scripts.get_current_head()
    rev_id = f"{int(current or '0') + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'head.db'}")
        with engine.begin() as conn:
            cfg = migrate.alembic_config(conn, SCHEMA)
            if current is not None:
                command.upgrade(cfg, "head")
            script = command.revision(cfg, message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    written = script[0] if isinstance(script, list) else script
    print(
        f"wrote {written.path if written else '?'}: review it, then run pytest tests/store/test_migrations.py"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
