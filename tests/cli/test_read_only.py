"""Read commands read: `license terms|show`, `royalties show` and `chain status` go through the
read-only chain reader, so they need no key password and never open the writing client (which
reconciles and replays the journal)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mintloom.cli.console import console
from mintloom.cli.main import app
from mintloom.ledger.node import ANVIL_DEV_KEY, NodeInfo
from mintloom.store.cid import cid_for
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]


def test_read_commands_need_no_key_password(
    workspace: Workspace, anvil: NodeInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINTLOOM_CHAIN__RPC_URL", anvil.rpc_url)  # any endpoint: the workspace account
    monkeypatch.setenv("MINTLOOM_CHAIN__PRIVATE_KEY", ANVIL_DEV_KEY)
    with Studio(workspace, password=PASSWORD) as studio:
        studio.ensure_keys()
        studio.contracts()  # deployed by a funded account
        account = studio.keys.info().eth_address
    monkeypatch.delenv("MINTLOOM_CHAIN__PRIVATE_KEY")
    monkeypatch.delenv("MINTLOOM_KEY_PASSWORD", raising=False)
    monkeypatch.setattr(console, "width", 200)  # the console was made at import, whatever COLUMNS says now
    runner = CliRunner()

    terms = runner.invoke(app, ["license", "terms"])
    assert terms.exit_code == 0, terms.output
    assert "commercial-remix" in terms.output and terms.output.count("never") >= 4
    mine = runner.invoke(app, ["royalties", "show"])
    assert mine.exit_code == 0, mine.output
    assert f"{account}: 0.000000 ETH claimable" in mine.output
    unknown = runner.invoke(app, ["license", "show", cid_for(b"never made")])
    assert unknown.exit_code == 2 and "is not in this workspace's log" in unknown.output, unknown.output
    status = runner.invoke(app, ["chain", "status"])
    assert status.exit_code == 0, status.output
    assert f"sender {account}" in status.output and "pending journal entries: 0" in status.output
    assert "anchored checkpoint: size 0" in status.output
    # a command that sends still needs the key, and says so
    claim = runner.invoke(app, ["royalties", "claim"])
    assert claim.exit_code != 0 and "key password" in str(claim.exception or claim.output)
