"""A throwaway PostgreSQL server for the catalog conformance suite, started by the tests.

Uses the machine's PostgreSQL binaries (initdb, pg_ctl); as root the server runs as the
``postgres`` user (PostgreSQL refuses to run as root). Stopped at the end of the session.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _pg_bin(tool: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    return found[-1] if found else shutil.which(tool)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a fresh PostgreSQL server (database ``postgres``, user ``mintloom``, trust auth)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    base = Path(tempfile.mkdtemp(prefix="mintloom-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = base / "data"
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "mintloom", "-E", "UTF8"],
                   check=True, capture_output=True, cwd=base)  # fmt: skip
    opts = f"-k {base} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"],
                   check=True, capture_output=True, cwd=base)  # fmt: skip
    try:
        yield f"postgresql+psycopg://mintloom@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True,
                       check=False, cwd=base)  # fmt: skip
        time.sleep(0.2)
        shutil.rmtree(base, ignore_errors=True)


_databases = itertools.count()


@pytest.fixture
def new_pg_database(postgres_server: str) -> Callable[[], str]:
    """Creates a fresh, empty database on the throwaway server and returns its URL."""
    from sqlalchemy import create_engine, text

    def create() -> str:
        name = f"mintloom_mig_{next(_databases)}_{os.getpid()}"
        admin = create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return f"{postgres_server}/{name}"

    return create
