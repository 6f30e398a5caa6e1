"""Shared fixtures: temporary workspaces and the managed anvil node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mintloom.ledger.node import AnvilNode, NodeInfo, find_foundry_tool
from mintloom.provenance.keys import KeyStore
from mintloom.schema import open_workspace_database
from mintloom.store.db import Database
from mintloom.studio import Studio
from mintloom.workspace import Workspace

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    """An organisation key store (ES256), shared by the session."""
    ks = KeyStore(tmp_path_factory.mktemp("keys") / "keys")
    ks.init("Test Org", "es256", password=PASSWORD)
    return ks


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return open_workspace_database(f"sqlite:///{tmp_path / 'catalog.db'}")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A fresh workspace; MINTLOOM_WORKSPACE points at it so CLI calls find it."""
    ws = Workspace.init(tmp_path / "ws")
    monkeypatch.setenv("MINTLOOM_WORKSPACE", str(ws.root))
    return ws


@pytest.fixture
def anvil(workspace: Workspace) -> Iterator[NodeInfo]:
    """A running anvil node for the test's workspace, stopped afterwards."""
    if find_foundry_tool("anvil", "MINTLOOM_ANVIL") is None:
        pytest.fail("anvil is not installed: run `make setup` (npm ci)")
    node = AnvilNode(workspace.chain_dir)
    info = node.start()
    try:
        yield info
    finally:
        node.stop()


@pytest.fixture
def studio(workspace: Workspace) -> Iterator[Studio]:
    """The workspace as a Studio with its organisation keys created."""
    s = Studio(workspace, password=PASSWORD)
    s.ensure_keys()
    yield s
    s.close()


def sample_studio(root: Path) -> Studio:
    """A new workspace under ``root`` where the sample campaign (17 assets, campaign "tiny") has
    run; the caller closes the returned studio."""
    from mintloom.campaign.run import CampaignRunner
    from mintloom.campaign.sample import write_sample_campaign
    from mintloom.campaign.spec import load_spec

    studio = Studio(Workspace.init(root / "ws"), password=PASSWORD)
    studio.ensure_keys()
    spec = load_spec(write_sample_campaign(root / "campaign"))
    CampaignRunner(studio.run_parts(), spec, batch_size=5).run()
    return studio
