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
import sys
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


S3_ENV = {"AWS_ACCESS_KEY_ID": "mintloom-test", "AWS_SECRET_ACCESS_KEY": "mintloom-test-secret",
          "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Endpoint URL of a local S3-compatible server (moto's S3 in server mode, its own process on
    loopback, so memory measured in the tests is the client's), stopped at the end of the session.
    Its credentials are set in the environment, where the S3 blob store reads them."""
    import urllib.request

    port = _free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(S3_ENV)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"the moto S3 server exited with {server.returncode}")
                time.sleep(0.1)
        else:
            pytest.fail("the moto S3 server did not start within 30 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A fresh, empty bucket on the local S3 server."""
    import boto3

    name = f"mintloom-{next(_databases)}-{os.getpid()}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return name
