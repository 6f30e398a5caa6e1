"""A chain-write lock on a PostgreSQL catalog (`Journal.locked`: a row lock hosts sharing the
catalog take) waits a bounded time for another holder, then is a LedgerError naming it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from mintloom.errors import LedgerError
from mintloom.ledger.journal import Journal
from mintloom.schema import open_workspace_database


def test_a_catalog_lock_another_host_keeps_is_refused_after_the_wait(
    new_pg_database: Callable[[], str],
) -> None:
    """On PostgreSQL the lock is also a catalog row lock, which hosts sharing the catalog take; a
    holder stuck there hung every waiter (the file lock's wait did not bound it)."""
    url = new_pg_database()
    holder_db, waiter_db = open_workspace_database(url), open_workspace_database(url)
    try:
        with Journal(holder_db).locked("deploy:1"):
            t0 = time.monotonic()
            with (
                pytest.raises(LedgerError, match=r"held the catalog lock 'deploy:1' for over 0\.3 s"),
                Journal(waiter_db).locked("deploy:1", wait=0.3),
            ):
                pytest.fail("entered a lock another holder has")
            assert time.monotonic() - t0 < 10
        with Journal(waiter_db).locked("deploy:1", wait=0.3):  # let go: taken at once
            pass
    finally:
        holder_db.dispose()
        waiter_db.dispose()
