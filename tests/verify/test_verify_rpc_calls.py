"""verify DIR reads licences in batches (issue 14): the RPC requests for a folder of N anchored,
published files of one checkpoint are bounded by a constant plus one ``eth_call`` per
``BATCH_CALLS`` reads, counted at a real JSON-RPC proxy in front of anvil, so batching cannot
silently regress to a few requests per file. The batched answers equal the contracts' own."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mintloom.campaign.spec import load_spec
from mintloom.chain_lookup import ReaderLookup, verify_context
from mintloom.governance.licenses import FLAVOURS
from mintloom.ledger.assets import register_asset, token_id
from mintloom.ledger.node import NodeInfo
from mintloom.ledger.reader import BATCH_CALLS, ChainReader, ViewCall
from mintloom.pipeline import Pipeline, PipelineOptions
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from mintloom.verify.report import Verdict, VerifyReport
from mintloom.verify.verifier import media_files, verify_many
from tests.campaign.conftest import SPEC, write_campaign
from tests.ledger.rpc_proxy import range_limited

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]

LICENSED = (
    SPEC
    + """
governance:
  terms: {image: commercial-remix, copy: commercial-use, audio: commercial-use}
  split:
    - {role: brand, bps: 10000}
"""
)
READS_PER_FILE = 4  # termsOfLeaf, isRegistered, ownerOf, lineageOf


def _verify(studio: Studio, url: str, files: list[Path]) -> list[VerifyReport]:
    """``mintloom verify DIR`` over ``files``, its chain read through ``url``."""
    ctx = verify_context(studio, offline=True)
    ctx.chain = ReaderLookup.connect(url, studio.workspace.chain_dir / "deployments.json")
    return list(verify_many(files, ctx, workers=2))


def _terms(report: VerifyReport) -> list[int]:
    return report.license.terms_ids if report.license is not None else []


def test_a_folder_reads_its_licences_in_a_bounded_number_of_requests(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    Pipeline(studio).run(load_spec(write_campaign(tmp_path / "c", LICENSED)), PipelineOptions())
    catalog = Catalog(studio.db)
    variant = next(a for a in catalog.assets("tiny", kind="image") if a.format == "leaderboard")
    register_asset(studio.chain, studio.log, catalog, variant.cid, blobs=studio.run_parts().blobs)
    files = media_files(studio.workspace.out_dir / "tiny")
    head = studio.chain.w3.eth.block_number
    with range_limited(shared_anvil.rpc_url, limit=10**9) as proxy:
        one = _verify(studio, proxy.url, files[:1])
        for_one = list(proxy.methods)
        proxy.methods.clear()
        reports = _verify(studio, proxy.url, files)
        for_all = list(proxy.methods)

    assert len(files) >= 10 and one[0].verdict is Verdict.VERIFIED
    assert all(r.verdict is Verdict.VERIFIED for r in reports), [r.file for r in reports]
    assert all(r.license is not None for r in reports)
    # was 3 to 4 requests per file (plus web3's chain-id checks): now the files past the first
    # cost at most the extra batched eth_calls their reads need, and one read (3 requests with
    # web3's chain-id checks) per licence terms id the first file did not have
    extra = math.ceil(READS_PER_FILE * len(files) / BATCH_CALLS)
    new_terms = {t for r in reports for t in _terms(r)} - set(_terms(one[0]))
    assert len(for_all) - len(for_one) <= extra + 3 * len(new_terms), for_all
    assert "eth_sendRawTransaction" not in for_all and "eth_sendTransaction" not in for_all
    assert studio.chain.w3.eth.block_number == head  # a read path never writes

    # the batched answers are the contracts' own, read one call at a time
    chain = studio.chain
    for report in reports:
        assert report.receipt is not None and report.license is not None
        leaf = report.receipt["leaf_index"]
        cid = report.matched_cid or report.cid or ""
        assert report.license.terms_ids == [int(t) for t in chain.call("LicenseMarket", "termsOfLeaf", leaf)]
        assert report.license.registered == chain.call("CreativeAssets", "isRegistered", token_id(cid))
        assert report.license.token_id == hex(token_id(cid))
    registered = next(r for r in reports if r.cid == variant.cid)
    assert registered.license is not None and registered.license.registered
    assert registered.license.owner == chain.call("CreativeAssets", "ownerOf", token_id(variant.cid))
    assert registered.license.terms_ids == [FLAVOURS["commercial-remix"]]


def test_a_batched_read_answers_none_where_a_single_call_reverts(
    studio: Studio, shared_anvil: NodeInfo
) -> None:
    """A revert (``ownerOf`` of an unminted token) and a call to no code are None, in place;
    every other answer equals :meth:`ChainReader.call`'s."""
    studio.contracts()
    reader = ChainReader.from_deployments(
        shared_anvil.rpc_url, studio.workspace.chain_dir / "deployments.json"
    )
    calls = [
        ViewCall("CreativeAssets", "isRegistered", (7,)),
        ViewCall("CreativeAssets", "ownerOf", (7,)),
        ViewCall("LicenseMarket", "termsOfLeaf", (0,)),
        ViewCall("LineageRegistry", "lineageOf", (3,)),
    ] * (BATCH_CALLS // 2 + 1)  # more than one eth_call
    answers = reader.read_batch(calls)
    assert answers[:4] == [False, None, (), [0, ()]] and answers[4:] == answers[: len(answers) - 4]
    assert reader.call("CreativeAssets", "isRegistered", 7) is False
    assert list(reader.call("LineageRegistry", "lineageOf", 3)) == [0, []]
    nowhere = ChainReader(shared_anvil.rpc_url, {"CreativeAssets": "0x" + "00" * 19 + "99"})  # no code
    assert nowhere.read_batch(calls[:1]) == [None]
