from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mintloom.errors import NodeError
from mintloom.ledger.node import AnvilNode, rpc_call
from mintloom.workspace import Workspace

pytestmark = pytest.mark.chain


def _send_value(url: str) -> str:
    """Send a value transfer and wait until it is mined."""
    accounts = rpc_call(url, "eth_accounts")
    tx = str(
        rpc_call(url, "eth_sendTransaction", [{"from": accounts[0], "to": accounts[1], "value": hex(12345)}])
    )
    deadline = time.monotonic() + 10
    while rpc_call(url, "eth_getTransactionReceipt", [tx]) is None:
        assert time.monotonic() < deadline, "transaction was not mined"
        time.sleep(0.05)
    return tx


def test_state_survives_stop_and_start(workspace: Workspace) -> None:
    node = AnvilNode(workspace.chain_dir)
    try:
        info = node.start()
        tx = _send_value(info.rpc_url)
        height = int(rpc_call(info.rpc_url, "eth_blockNumber"), 16)
        assert height >= 1
        assert node.stop() is True
        assert node.running() is None
        assert node.state_file.is_file()

        info2 = node.start()
        assert info2.pid != info.pid
        assert int(rpc_call(info2.rpc_url, "eth_blockNumber"), 16) == height
        receipt = rpc_call(info2.rpc_url, "eth_getTransactionReceipt", [tx])
        assert receipt is not None and int(receipt["status"], 16) == 1
    finally:
        node.stop()


def test_running_node_is_reused(workspace: Workspace) -> None:
    node = AnvilNode(workspace.chain_dir)
    first = node.start()
    try:
        second = AnvilNode(workspace.chain_dir).start()
        assert second.pid == first.pid and second.rpc_url == first.rpc_url
    finally:
        node.stop()
    assert node.stop() is False


def test_listens_on_loopback_only(workspace: Workspace) -> None:
    node = AnvilNode(workspace.chain_dir)
    info = node.start()
    try:
        assert info.rpc_url.startswith("http://127.0.0.1:")
        cmd = Path(f"/proc/{info.pid}/cmdline").read_bytes().split(b"\0")
        assert b"127.0.0.1" in cmd[cmd.index(b"--host") + 1]
    finally:
        node.stop()


def test_missing_anvil_is_a_clear_error(workspace: Workspace, tmp_path: Path) -> None:
    node = AnvilNode(workspace.chain_dir, binary=None)
    os.environ["MINTLOOM_ANVIL"] = str(tmp_path / "nope" / "anvil")
    try:
        with pytest.raises(NodeError, match="anvil not found"):
            node.start()
    finally:
        del os.environ["MINTLOOM_ANVIL"]


def test_corrupt_state_is_kept_aside_not_discarded(workspace: Workspace) -> None:
    node = AnvilNode(workspace.chain_dir)
    node.state_file.write_text('{"block": ')
    with pytest.raises(NodeError, match="not valid JSON"):
        node.start()
    kept = list(workspace.chain_dir.glob("anvil-state.corrupt-*.json"))
    assert len(kept) == 1 and kept[0].read_text() == '{"block": '
    assert not node.state_file.exists()


def test_node_info_file_is_written_atomically(workspace: Workspace) -> None:
    node = AnvilNode(workspace.chain_dir)
    info = node.start()
    try:
        data = json.loads(node.info_file.read_text())
        assert data["pid"] == info.pid and data["chain_id"] == 31337
    finally:
        node.stop()
    assert not node.info_file.exists()
