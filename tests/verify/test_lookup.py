"""Verify is handed its chain through the ChainLookup Protocol: a real reader on anvil, none
(offline), or another implementation whose answers decide the anchor check."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

import mintloom.verify
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.spec import load_spec
from mintloom.chain_lookup import ReaderLookup, verify_context
from mintloom.errors import LedgerError, NodeError
from mintloom.ledger.node import NodeInfo
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from mintloom.verify.lookup import ChainLookup
from mintloom.verify.report import LicenseInfo, Verdict, VerifyReport
from mintloom.verify.verifier import VerifyContext, verify_bytes
from mintloom.workspace import Workspace
from tests.campaign.conftest import write_campaign
from tests.conftest import PASSWORD

VERIFY_DIR = Path(mintloom.verify.__file__).parent


def _status(report: VerifyReport, name: str) -> tuple[str, str]:
    (check,) = [c for c in report.checks if c.name == name]
    return check.status, check.detail


class ForkedRoot:
    """A chain that anchors another root at every size (a forked or rewritten log contract):
    every answer but the root comes from the real chain."""

    def __init__(self, real: ChainLookup) -> None:
        self.real = real

    @property
    def chain_id(self) -> int:
        return self.real.chain_id

    @property
    def pins_log(self) -> bool:
        return self.real.pins_log

    def anchored_root(self, size: int, log_address: str | None) -> str | None:
        root = self.real.anchored_root(size, log_address)
        assert root is not None
        return bytes(b ^ 0xFF for b in bytes.fromhex(root)).hex()

    def anchored_at(
        self, size: int, log_address: str | None, block_hint: int | None = None
    ) -> dt.datetime | None:
        return self.real.anchored_at(size, log_address, block_hint)

    def licenses(
        self, assets: Sequence[tuple[int, str]], *, detail: bool = False
    ) -> list[LicenseInfo | None]:
        return self.real.licenses(assets, detail=detail)


class Unreadable(ForkedRoot):
    """A chain whose ProvenanceLog cannot be read."""

    def anchored_root(self, size: int, log_address: str | None) -> str | None:
        raise LedgerError("ProvenanceLog.rootAt failed: connection refused")


@pytest.mark.chain
@pytest.mark.xdist_group("anvil")
def test_verify_context_takes_any_chain_lookup(workspace: Workspace, anvil: NodeInfo, tmp_path: Path) -> None:
    studio = Studio(workspace, password=PASSWORD)
    studio.ensure_keys()
    try:
        CampaignRunner(
            studio.run_parts(), load_spec(write_campaign(tmp_path / "campaign")), batch_size=5
        ).run()
        early = verify_context(studio)  # opened before the contracts are deployed, like a server
        assert early.chain is not None and not early.chain.pins_log
        studio.contracts()  # the explicit deploy step: anchoring never deploys
        anchored = studio.anchor()
        row = Catalog(studio.db).assets("tiny", kind="image")[0]
        data = LocalBlobStore(workspace.blobs_dir).get(row.cid)
        receipt = studio.log.receipt(row.cid)
        assert receipt is not None and receipt.anchor is not None
        anchors = studio.keys.trust_anchor_pem()

        def verify(chain: ChainLookup | None) -> VerifyReport:
            return verify_bytes(data, row.path, VerifyContext(anchors, chain=chain), receipt=receipt)

        # a third party: any JSON-RPC URL, the contract address taken from the receipt
        third = ReaderLookup.connect(anvil.rpc_url)
        assert not third.pins_log and third.chain_id == receipt.anchor.chain_id
        report = verify(third)
        assert report.verdict is Verdict.VERIFIED, report.checks
        status, detail = _status(report, "anchor")
        assert status == "pass" and anchored.tx_hash in detail and "taken from the receipt" in detail
        assert isinstance(report.license, LicenseInfo)
        # the same with the workspace's deployments pinning the address
        pinned = ReaderLookup.connect(anvil.rpc_url, workspace.chain_dir / "deployments.json")
        assert pinned.pins_log
        status, detail = _status(verify(pinned), "anchor")
        assert status == "pass" and "taken from the receipt" not in detail

        # the workspace's recorded deployments are read at each lookup: the contract it deployed
        # after the context was opened is pinned, not taken from the receipt
        status, detail = _status(verify_bytes(data, row.path, early, receipt=receipt), "anchor")
        assert status == "pass" and "taken from the receipt" not in detail

        offline = verify(None)
        assert offline.verdict is Verdict.VERIFIED and _status(offline, "anchor") == ("skip", "offline")

        forked = verify(ForkedRoot(pinned))
        assert forked.verdict is Verdict.UNTRUSTED
        assert _status(forked, "anchor") == ("fail", "the chain anchors a different root for this size")
        assert forked.license is None  # no licence is read for an anchor that failed

        unreadable = verify(Unreadable(pinned))
        status, detail = _status(unreadable, "anchor")
        assert status == "skip" and "cannot read the chain" in detail and "connection refused" in detail
    finally:
        studio.close()


def _files(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))}  # fmt: skip


def test_studio_chain_reader_never_starts_the_embedded_node(workspace: Workspace) -> None:
    """A read path never writes: with the embedded node down the reader is refused by name and
    the verification context reports why, nothing started and no file written."""
    studio = Studio(workspace)
    studio.db  # noqa: B018 - the catalog exists before the snapshot (a workspace that has run)
    before = _files(workspace.root)
    try:
        with pytest.raises(NodeError, match="embedded chain node is not running"):
            studio.chain_reader()
        ctx = verify_context(studio)
        assert ctx.chain is None and ctx.chain_error is not None
        assert "not running" in ctx.chain_error and "mintloom node start" in ctx.chain_error
        assert _files(workspace.root) == before
    finally:
        studio.close()


def test_verify_imports_no_ledger_governance_campaign_or_studio() -> None:
    """verify sits below them: what it needs from a chain comes through ChainLookup."""
    banned = (
        "mintloom.ledger",
        "mintloom.governance",
        "mintloom.campaign",
        "mintloom.studio",
        "mintloom.market",
    )
    found = []
    for path in sorted(VERIFY_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}: {n}" for n in names if n.startswith(banned)]
    assert found == []
