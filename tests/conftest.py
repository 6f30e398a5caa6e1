"""Shared fixtures: temporary workspaces and the managed anvil node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mintloom.ledger.node import AnvilNode, NodeInfo, find_foundry_tool
from mintloom.workspace import Workspace


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
