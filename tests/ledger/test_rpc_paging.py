"""Public RPCs limit ``eth_getLogs`` ranges: anchoring, verify and `chain status` work through a
real proxy in front of anvil that refuses wide ranges the way Infura, Alchemy, QuickNode and
others do, on a chain mined past several pages; an endpoint of another chain is refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner
from web3.exceptions import Web3RPCError

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.spec import load_spec
from mintloom.chain_lookup import ReaderLookup
from mintloom.cli.console import console
from mintloom.cli.main import app
from mintloom.errors import ChainMismatchError, RangeRefusedError
from mintloom.ledger.anchoring import AnchorResult, anchor_log, ensure_provenance_log
from mintloom.ledger.client import ChainClient
from mintloom.ledger.logpages import DEFAULT_PAGE_BLOCKS, is_range_refusal
from mintloom.ledger.node import ANVIL_DEV_KEY, NodeInfo, rpc_call
from mintloom.ledger.reader import ChainReader, Deployments
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import Receipt, TransparencyLog
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_for
from mintloom.store.db import Database
from mintloom.studio import Studio
from mintloom.verify.report import Verdict, VerifyReport
from mintloom.verify.verifier import VerifyContext, verify_bytes
from mintloom.workspace import Workspace
from tests.campaign.conftest import write_campaign
from tests.conftest import PASSWORD
from tests.ledger.rpc_proxy import REFUSALS, range_limited

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]

GAP = 600  # blocks mined before and after the anchor (anvil mines ~500 blocks/s: the limits scale down)
PAGE = 100  # the workspace's configured page (chain.log_page_blocks): GAP spans several
LIMIT = 40  # the provider's limit: below the page, which must shrink


@dataclass
class Anchored:
    """A campaign anchored through a range-limited proxy on a chain 2 × GAP blocks long."""

    studio: Studio
    node: NodeInfo
    proxy_url: str
    first: AnchorResult
    data: bytes
    name: str
    receipt: Receipt


def _mine(node: NodeInfo, blocks: int) -> None:
    rpc_call(node.rpc_url, "anvil_mine", [hex(blocks)], timeout=60)


@pytest.fixture
def anchored(
    workspace: Workspace,
    shared_anvil: NodeInfo,
    _org_keys: KeyStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Anchored]:
    """The workspace talks to anvil only through a proxy that refuses getLogs over LIMIT blocks
    (as Alchemy does over 2,000), so the configured page must shrink."""
    with range_limited(shared_anvil.rpc_url, limit=LIMIT, style="alchemy") as proxy:
        monkeypatch.setenv("MINTLOOM_CHAIN__RPC_URL", proxy.url)
        monkeypatch.setenv("MINTLOOM_CHAIN__LOG_PAGE_BLOCKS", str(PAGE))
        monkeypatch.setenv("MINTLOOM_CHAIN__PRIVATE_KEY", ANVIL_DEV_KEY)
        studio = Studio(workspace, password=PASSWORD)
        shutil.copytree(_org_keys.dir, studio.keys.dir, dirs_exist_ok=True)
        studio.ensure_keys()
        try:
            spec = load_spec(write_campaign(tmp_path / "campaign"))
            CampaignRunner(studio.run_parts(), spec, batch_size=8).run()
            studio.contracts()
            _mine(shared_anvil, GAP)
            first = studio.anchor()
            _mine(shared_anvil, GAP)
            row = Catalog(studio.db).assets("tiny", kind="image")[0]
            receipt = studio.log.receipt(row.cid)
            assert receipt is not None and receipt.anchor is not None
            data = LocalBlobStore(workspace.blobs_dir).get(row.cid)
            yield Anchored(studio, shared_anvil, proxy.url, first, data, row.path, receipt)
        finally:
            studio.close()


def _check(report: VerifyReport, name: str) -> tuple[str, str]:
    (check,) = [c for c in report.checks if c.name == name]
    return check.status, check.detail


def _verify(a: Anchored, lookup: ReaderLookup, receipt: Receipt | None = None) -> VerifyReport:
    ctx = VerifyContext(a.studio.keys.trust_anchor_pem(), chain=lookup)
    return verify_bytes(a.data, a.name, ctx, receipt=receipt or a.receipt)


def test_anchor_verify_and_chain_status_page_through_a_range_limited_provider(
    anchored: Anchored, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = anchored
    deployments = Deployments(a.studio.workspace.chain_dir / "deployments.json")
    deployed_at = deployments.block_of(a.studio.chain.chain_id, "ProvenanceLog")
    assert deployed_at is not None and 0 < deployed_at < GAP  # recorded at deployment
    assert a.first.block is not None and a.first.block > GAP
    assert a.studio.chain.log_page == PAGE  # configured

    # anchoring again finds the anchoring transaction from its event: paged, the page shrunk
    again = a.studio.anchor()
    assert again.already_anchored and (again.tx_hash, again.block) == (a.first.tx_hash, a.first.block)

    # a third party with only the receipt and the URL: the deployment block is found by binary
    # search over eth_getCode, the receipt's anchor block is asked first
    third = ReaderLookup.connect(a.proxy_url)
    report = _verify(a, third)
    assert report.verdict is Verdict.VERIFIED, report.checks
    assert _check(report, "anchor time")[0] == "pass"
    assert third.reader.deployment_block("ProvenanceLog") == deployed_at

    # a receipt naming a wrong anchor block: the chain's own event decides, found by paging
    assert a.receipt.anchor is not None
    lying = a.receipt.model_copy(update={"anchor": a.receipt.anchor.model_copy(update={"block": 3})})
    report = _verify(a, ReaderLookup.connect(a.proxy_url), lying)
    assert _check(report, "anchor time")[0] == "pass", report.checks
    pinned = ReaderLookup.connect(a.proxy_url, a.studio.workspace.chain_dir / "deployments.json")
    direct = ChainReader(a.node.rpc_url, {"ProvenanceLog": a.studio.chain.address_of("ProvenanceLog")})
    assert pinned.reader.anchored_at(a.first.size) == direct.anchored_at(a.first.size) is not None

    # the receipt's chain is not the endpoint's: said so, not "no address known"
    with range_limited(a.node.rpc_url, limit=10_000, chain_id=1) as mainnet:
        status, detail = _check(_verify(a, ReaderLookup.connect(mainnet.url)), "anchor")
        assert status == "skip" and "anchored on chain 31337" in detail and "serves chain 1:" in detail

    monkeypatch.setattr(console, "width", 200)
    status = CliRunner().invoke(app, ["chain", "status"])
    assert status.exit_code == 0, status.output
    assert f"anchored checkpoint: size {a.first.size}" in status.output


@dataclass
class Logged:
    """ProvenanceLog deployed, then GAP blocks, a checkpoint anchored, then GAP blocks more."""

    node: NodeInfo
    address: str
    size: int
    block: int


@pytest.fixture
def logged(workspace: Workspace, shared_anvil: NodeInfo, db: Database, keystore: KeyStore) -> Logged:
    chain = ChainClient(shared_anvil.rpc_url, ANVIL_DEV_KEY, db, Deployments(workspace.chain_dir / "d.json"))
    address = ensure_provenance_log(chain)
    tlog = TransparencyLog(db)
    tlog.append_batch([(cid_for(f"asset {i}".encode()), bytes(32)) for i in range(3)])
    _mine(shared_anvil, GAP)
    result = anchor_log(chain, tlog, keystore.signer(PASSWORD))
    _mine(shared_anvil, GAP)
    assert result.block is not None
    return Logged(shared_anvil, address, result.size, result.block)


def test_every_providers_refusal_shrinks_the_page(logged: Logged) -> None:
    """The refusal formats of public providers are recognised; the page halves until served."""
    for style in sorted(REFUSALS):
        limit = 10 if style == "alchemy-free" else 150
        page = 16 if style == "alchemy-free" else DEFAULT_PAGE_BLOCKS  # a 10-block provider: small pages
        with range_limited(logged.node.rpc_url, limit=limit, style=style) as proxy:
            reader = ChainReader(proxy.url, {"ProvenanceLog": logged.address}, log_page=page)
            entry = reader.anchoring_log(logged.size)
            assert entry is not None and int(entry["blockNumber"]) == logged.block, style
            assert proxy.refused >= 1 and proxy.served_logs >= 1, style
            assert reader.deployment_block("ProvenanceLog") < GAP  # found by binary search


def test_a_provider_refusing_every_range_is_named(logged: Logged) -> None:
    with range_limited(logged.node.rpc_url, limit=0, style="infura") as proxy:
        reader = ChainReader(proxy.url, {"ProvenanceLog": logged.address})
        with pytest.raises(RangeRefusedError, match="even over block"):
            reader.anchoring_log(logged.size)


def test_unpaged_reads_are_refused_by_the_proxy(logged: Logged) -> None:
    """The proxy really refuses what mintloom used to ask (one request from block 0)."""
    with range_limited(logged.node.rpc_url, limit=LIMIT, style="infura") as proxy:
        reader = ChainReader(proxy.url, {"ProvenanceLog": logged.address})
        event = reader.contract("ProvenanceLog").events.CheckpointAnchored
        with pytest.raises(Web3RPCError, match="more than 10000 results") as refused:
            event.get_logs(argument_filters={"size": logged.size}, from_block=0)
        assert is_range_refusal(refused.value) and proxy.refused == 1


def test_an_rpc_url_of_another_chain_is_refused_by_name(logged: Logged, workspace: Workspace) -> None:
    """Contracts pinned for chain 31337, an endpoint claiming chain 1 (the proxy rewrites
    eth_chainId): refused before anything is read from it."""
    pinned = workspace.chain_dir / "d.json"
    with (
        range_limited(logged.node.rpc_url, limit=10_000, chain_id=1) as mainnet,
        pytest.raises(ChainMismatchError, match=r"serves chain 1, but .* only on chain 31337"),
    ):
        ReaderLookup.connect(mainnet.url, pinned)
