"""The workspace's chain-write lock (deploys, share allowances): a second process waits for it,
and one stuck holding it is a LedgerError naming the lock after the wait, not a command that hangs."""

from __future__ import annotations

import fcntl
import threading
import time

import pytest

from mintloom.errors import LedgerError
from mintloom.ledger.client import workspace_lock
from mintloom.studio import Studio


def test_a_lock_held_past_the_wait_is_refused_by_name(studio: Studio, shared_anvil: object) -> None:
    chain = studio.chain
    path = chain.deployments.path.with_name("deploy.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as holder:  # another process's flock on the file (an fd of its own)
        fcntl.flock(holder, fcntl.LOCK_EX)
        t0 = time.monotonic()
        with (
            pytest.raises(LedgerError, match=r"has held deploy\.lock for over 0\.3 s"),
            workspace_lock(chain, "deploy:test", "deploy.lock", wait=0.3),
        ):
            pytest.fail("entered a lock another holder has")
        assert 0.3 <= time.monotonic() - t0 < 5


def test_a_waiter_enters_once_the_holder_lets_go(studio: Studio, shared_anvil: object) -> None:
    chain = studio.chain
    path = chain.deployments.path.with_name("deploy.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    entered: list[float] = []
    with path.open("a") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)

        def wait_for_it() -> None:
            with workspace_lock(chain, "deploy:test", "deploy.lock", wait=30):
                entered.append(time.monotonic())

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.5)
        assert entered == []  # held: it waits
        released = time.monotonic()
        fcntl.flock(holder, fcntl.LOCK_UN)
        waiter.join(10)
    assert len(entered) == 1 and entered[0] >= released
