"""Shared fixtures: temporary workspaces and the managed anvil node."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mintloom.config import ProvenanceSettings
from mintloom.ledger.node import ANVIL_DEV_KEY, AnvilNode, NodeInfo, find_foundry_tool, rpc_call
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


@pytest.fixture(scope="session")
def _anvil_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeInfo, list[str]]]:
    """One anvil node for every contract-logic test of the session, and its clean snapshot."""
    if find_foundry_tool("anvil", "MINTLOOM_ANVIL") is None:
        pytest.fail("anvil is not installed: run `make setup` (npm ci)")
    node = AnvilNode(tmp_path_factory.mktemp("shared-anvil"))
    info = node.start()
    try:
        yield info, [rpc_call(info.rpc_url, "evm_snapshot")]
    finally:
        node.stop()


@pytest.fixture
def shared_anvil(
    _anvil_session: tuple[NodeInfo, list[str]], workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> NodeInfo:
    """The session's anvil node reverted to its fresh state (``evm_revert``), and the test's
    workspace configured to use it: for tests of contract logic, which need a real chain but not
    a node of their own. Tests that kill, restart or wipe a node use :func:`anvil`."""
    info, snapshot = _anvil_session
    if rpc_call(info.rpc_url, "evm_revert", [snapshot[0]]) is not True:
        pytest.fail("the shared anvil node could not revert to its snapshot")
    # a revert rewinds the node's clock too: blocks would predate the checkpoints they anchor
    rpc_call(info.rpc_url, "evm_setTime", [int(time.time())])
    snapshot[0] = rpc_call(info.rpc_url, "evm_snapshot")  # a snapshot is used up by its revert
    monkeypatch.setenv("MINTLOOM_CHAIN__RPC_URL", info.rpc_url)
    monkeypatch.setenv("MINTLOOM_CHAIN__PRIVATE_KEY", ANVIL_DEV_KEY)
    return info


@pytest.fixture(scope="session")
def _org_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    """The default organisation's keys, made once: creating them costs three scrypt (N=2^17)
    encryptions, seconds per test that opens a studio."""
    p = ProvenanceSettings()
    ks = KeyStore(tmp_path_factory.mktemp("org-keys") / "keys")
    ks.init(p.organisation, "ed25519" if p.signing_alg == "ed25519" else "es256", PASSWORD)
    return ks


@pytest.fixture
def studio(workspace: Workspace, request: pytest.FixtureRequest, _org_keys: KeyStore) -> Iterator[Studio]:
    """The workspace as a Studio with its organisation keys (a copy of the session's when the
    workspace keeps the default organisation and algorithm; on the session's anvil node when the
    test also asks for ``shared_anvil``)."""
    if "shared_anvil" in request.fixturenames:
        request.getfixturevalue("shared_anvil")  # its settings must be in place before it reads them
    s = Studio(workspace, password=PASSWORD)
    if s.settings.provenance == ProvenanceSettings() and not s.keys.exists():
        shutil.copytree(_org_keys.dir, s.keys.dir, dirs_exist_ok=True)
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


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight diffusers pipeline saved with save_pretrained (built once, no download)."""
    pytest.importorskip("diffusers")
    import torch

    from mintloom.engines.tiny_diffusion import build_tiny_pipeline

    torch.set_num_threads(1)  # 2 shared cores: more threads make the tiny model ~10x slower

    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd") / "pipeline")
