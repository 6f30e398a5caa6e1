"""The fixtures of tests/api: a workspace where the sample campaign ran (one per module), the
read-only studio the API serves it with, the app, and clients with and without a read token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mintloom.api.app import create_app
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.api.access import MANY, bearer
from tests.conftest import sample_studio


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace where the tiny sample campaign (17 assets) was run once for the module."""
    writer = sample_studio(tmp_path_factory.mktemp("api"))
    writer.close()
    yield writer.workspace


@pytest.fixture(scope="module")
def read_header(ran: Workspace) -> dict[str, str]:
    """The ``Authorization`` header of a token with the ``read`` scope (made before the API opens)."""
    with Studio(ran) as s:
        return bearer(s.db, "read")


@pytest.fixture(scope="module")
def api_studio(ran: Workspace, read_header: dict[str, str]) -> Iterator[Studio]:
    s = Studio(ran)  # no key password: the API only reads
    yield s
    s.close()


@pytest.fixture(scope="module")
def app(api_studio: Studio) -> FastAPI:
    return create_app(api_studio, offline=True, verify_rate=MANY)  # one client verifies every asset


@pytest.fixture(scope="module")
def client(app: FastAPI, read_header: dict[str, str]) -> Iterator[TestClient]:
    """A client holding a read token (runs the app's startup)."""
    with TestClient(app, headers=read_header) as c:
        yield c


@pytest.fixture(scope="module")
def anon(app: FastAPI) -> Iterator[TestClient]:
    """A client without credentials, as the public is."""
    with TestClient(app) as c:
        yield c
