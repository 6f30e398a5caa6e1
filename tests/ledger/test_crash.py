"""Crash-safety of the chain phases: a real `mintloom run` is SIGKILLed at a crash point (node
start-up, an anchor journaled or sent, after each publish transaction), or the anvil node is
SIGKILLed mid-publish before persisting its blocks; the rerun must finish with exit 0, nothing
sent twice, the anchored root equal to the log's, the same deployments and VERIFIED files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.chain_lookup import verify_context
from mintloom.ledger.journal import CONFIRMED, Journal
from mintloom.ledger.node import AnvilNode, _anvils_on
from mintloom.ledger.reader import ChainReader
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.studio import Studio
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import media_files, verify_path
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD

pytestmark = pytest.mark.chain

SPEC = sample_spec(locales=("en-US",), formats=("square", "leaderboard"), copy=False, audio=False)
ME = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # address of ANVIL_DEV_KEY


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose campaign is generated and logged and whose contracts are deployed (node
    stopped, state persisted); each test runs the chain phases on a copy of it."""
    from mintloom.campaign.run import CampaignRunner
    from mintloom.campaign.spec import load_spec

    root = tmp_path_factory.mktemp("template")
    spec = write_sample_campaign(root / "campaign", SPEC, sample_audience(1))
    with Studio(Workspace.init(root / "ws"), password=PASSWORD) as studio:
        studio.ensure_keys()
        CampaignRunner(studio.run_parts(), load_spec(spec)).run()
        studio.contracts()
    return root


def mintloom(ws: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "MINTLOOM_WORKSPACE": str(ws), "MINTLOOM_KEY_PASSWORD": PASSWORD, "COLUMNS": "400"}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], capture_output=True,
                          text=True, env=full, timeout=300, check=False)  # fmt: skip


@pytest.fixture
def copy(template: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the template; any node left running on it is stopped afterwards."""
    shutil.copytree(template, tmp_path / "t")
    ws = tmp_path / "t" / "ws"
    yield ws
    AnvilNode(Workspace(ws).chain_dir).stop()


def deployments(ws: Path) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(
        (ws / ".mintloom" / "chain" / "deployments.json").read_text()
    )
    return data


def assert_recovered(ws: Path, deployed: dict[str, dict[str, str]]) -> None:
    """Exit 0 already checked: now nothing twice on chain, the log anchored, files VERIFIED."""
    workspace = Workspace(ws)
    assert deployments(ws) == deployed  # the same contracts at the same addresses
    db = open_workspace_database(workspace.database_url())
    info = AnvilNode(workspace.chain_dir).start()
    chain = ChainReader.from_deployments(info.rpc_url, workspace.chain_dir / "deployments.json")
    sent = Journal(db).entries(chain.chain_id)
    assert [e.status for e in sent] == [CONFIRMED] * len(sent)
    assert [k for k, n in Counter(e.kind for e in sent).items() if n > 1] == []  # one tx per purpose
    assert chain.w3.eth.get_transaction_count(ME) == len(sent)  # every tx on chain is journaled once
    assert int(chain.call("RoyaltyVault", "splitCount")) == 1
    anchored = chain.contract("ProvenanceLog").events.CheckpointAnchored.get_logs(from_block=0)
    tlog = TransparencyLog(db)
    assert [int(e["args"]["size"]) for e in anchored] == [tlog.size]  # one anchor per checkpoint
    size, _ts, _block, root = chain.call("ProvenanceLog", "latest")
    assert (int(size), bytes(root)) == (tlog.size, tlog.root())  # the latest anchor is the log's head
    assert len(_anvils_on(str(AnvilNode(workspace.chain_dir).state_file.absolute())) or []) == 1
    db.dispose()
    with Studio(workspace, password=PASSWORD) as studio:
        ctx = verify_context(studio)
        reports = [verify_path(p, ctx) for p in media_files(ws / "out")]
    assert len(reports) == 2
    for r in reports:
        assert r.verdict == Verdict.VERIFIED, r.checks
        assert any(c.name == "anchor" and c.status == "pass" for c in r.checks), r.checks


@pytest.mark.parametrize(
    ("first", "then"),
    [
        # killed while its anvil starts (the orphan is adopted, not doubled), then after the
        # first publish transaction, before its bookkeeping
        ("node-spawned", "tx-confirmed-attach-terms"),
        ("tx-journaled-anchor", "tx-confirmed-split"),  # anchor signed and journaled, never sent
        ("tx-sent-anchor", "tx-confirmed-assign-split"),  # anchor sent, not confirmed
    ],
)
def test_run_killed_at_a_chain_phase_resumes_without_sending_twice(copy: Path, first: str, then: str) -> None:
    """Each crash point is killed once. The run that recovers from an anchor-phase kill is itself
    killed in the publish phase (so it must have got that far), and the checks after the last
    run are cumulative: nothing sent twice by any of the three runs, one node, one anchor."""
    spec = str(copy.parent / "campaign" / "campaign.yaml")
    deployed = deployments(copy)
    for point in (first, then):
        crashed = mintloom(copy, "run", spec, env={"MINTLOOM_CRASH_AT": point})
        assert crashed.returncode == -signal.SIGKILL, (point, crashed.stdout + crashed.stderr)
    rerun = mintloom(copy, "run", spec)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_recovered(copy, deployed)


@pytest.mark.parametrize("point", ["tx-sent-attach-terms", "tx-confirmed-split"])
def test_node_killed_mid_publish_before_persisting_is_replayed(copy: Path, point: str) -> None:
    spec = str(copy.parent / "campaign" / "campaign.yaml")
    deployed = deployments(copy)
    # the node persists only when stopped: everything since the template is in its memory only
    never = {"MINTLOOM_CHAIN__STATE_INTERVAL": "3600", "MINTLOOM_CRASH_AT": point}
    crashed = mintloom(copy, "run", spec, env=never)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    node = AnvilNode(Workspace(copy).chain_dir)
    info = node.running()
    assert info is not None
    os.kill(info.pid, signal.SIGKILL)  # the node dies too, its anchor and publish blocks unsaved
    rerun = mintloom(copy, "run", spec)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_recovered(copy, deployed)


def test_deleted_node_state_is_restored_from_the_journal(copy: Path) -> None:
    spec = str(copy.parent / "campaign" / "campaign.yaml")
    deployed = deployments(copy)
    (copy / ".mintloom" / "chain" / "anvil-state.json").unlink()  # a fresh chain, same id
    rerun = mintloom(copy, "run", spec)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_recovered(copy, deployed)  # every deployment replayed from its signed bytes


def test_wiped_chain_the_journal_cannot_restore_is_refused_by_name_until_reset(copy: Path) -> None:
    spec = str(copy.parent / "campaign" / "campaign.yaml")
    deployed = deployments(copy)
    # the chain lost its state and the journal cannot replay it (orphaned, as if deployed from
    # another catalog): no silent redeploy, a named error and the command that starts over
    db = open_workspace_database(Workspace(copy).database_url())
    Journal(db).orphan(31337)
    db.dispose()
    (copy / ".mintloom" / "chain" / "anvil-state.json").unlink()
    refused = mintloom(copy, "run", spec)
    assert refused.returncode == 6, refused.stdout + refused.stderr
    assert "has no code" in refused.stderr and "mintloom chain reset" in refused.stderr
    assert deployments(copy) == deployed
    assert mintloom(copy, "chain", "reset").returncode == 6  # needs --yes
    reset = mintloom(copy, "deploy", "--reset")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert "chain reset" in reset.stdout and "journal entries orphaned" in reset.stdout
    rerun = mintloom(copy, "run", spec)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_recovered(copy, deployments(copy))
