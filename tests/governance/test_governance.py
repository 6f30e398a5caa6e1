"""Governance end to end on anvil: lineage gate, batch attachment, lazy registration, licence
purchase and exact royalty claims by every contributor."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.spec import load_spec
from mintloom.errors import ContractError, GovernanceError, LicenseViolation, MarketError
from mintloom.governance.gate import check_lineage
from mintloom.governance.licenses import FLAVOURS, Terms, register_terms, terms_of
from mintloom.governance.publish import publish_campaign, runs
from mintloom.governance.royalties import claim, claimable
from mintloom.ledger.assets import register_asset, token_id
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.lineage import register_dataset, register_model
from mintloom.ledger.node import NodeInfo, dev_key
from mintloom.ledger.reader import Deployments
from mintloom.market.licensing import buy_license, license_balance
from mintloom.pipeline import Pipeline, PipelineOptions
from mintloom.store.catalog import Catalog
from mintloom.store.cid import digest_of
from mintloom.studio import Studio
from tests.campaign.conftest import SPEC, write_campaign
from tests.ledger.tokens import token_json

pytestmark = pytest.mark.xdist_group("anvil")

CURATOR, TRAINER, ARTIST, BUYER, STRANGER = (dev_key(i) for i in (2, 3, 4, 5, 6))


def address(key: str) -> str:
    return str(Web3().eth.account.from_key(key).address)


def party(studio: Studio, node: NodeInfo, key: str) -> ChainClient:
    return ChainClient(
        node.rpc_url, key, studio.db, Deployments(studio.workspace.chain_dir / "deployments.json")
    )


GOVERNED = (
    SPEC
    + f"""
lineage:
  datasets: ["brand-photos"]
  model: "layout-model"
governance:
  terms: {{image: commercial-remix, copy: commercial-use, audio: commercial-use}}
  split:
    - {{role: brand, bps: 6000}}
    - {{role: artist, account: "{address(ARTIST)}", bps: 2000}}
    - {{role: data, bps: 1000}}
    - {{role: model, bps: 1000}}
"""
)


def test_runs_groups_consecutive_equal_values() -> None:
    assert runs([(0, 3), (1, 3), (2, 2), (4, 2), (5, 2)]) == [(0, 2, 3), (2, 3, 2), (4, 6, 2)]
    assert runs([]) == []


def test_campaign_licence_purchase_pays_every_contributor_exactly(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    chain = studio.chain
    deploy_all(chain, studio.settings.governance)
    datasheet, weights = tmp_path / "datasheet.md", tmp_path / "weights.bin"
    datasheet.write_text("# brand photos\nshot in-house, licensed for AI training\n")
    weights.write_bytes(b"\x00\x01layout-model-weights" * 100)
    register_dataset(party(studio, shared_anvil, CURATOR), studio.db, "brand-photos", datasheet,
                     license="CC-BY-4.0", ai_training=True)  # fmt: skip
    again = register_dataset(party(studio, shared_anvil, CURATOR), studio.db, "brand-photos", datasheet,
                             license="CC-BY-4.0", ai_training=True)  # fmt: skip
    assert not again.created and again.onchain_id == 1  # idempotent
    register_model(party(studio, shared_anvil, TRAINER), studio.db, "layout-model", weights,
                   trained_on=["brand-photos"], license="Apache-2.0")  # fmt: skip

    loaded = load_spec(write_campaign(tmp_path / "c", GOVERNED))
    Pipeline(studio).run(loaded, PipelineOptions(publish=False))  # gate, run, checkpoint, anchor
    published = publish_campaign(chain, studio.db, loaded.spec)
    # images, then copy + audio (both commercial-use): two ranges, one multicall per contract
    assert [t for _, _, t in published.terms_ranges] == [
        FLAVOURS["commercial-remix"],
        FLAVOURS["commercial-use"],
    ]
    assert len(published.transactions) == 3
    assert chain.call("LineageRegistry", "lineageOf", 0) == [1, [1]]
    assert publish_campaign(chain, studio.db, loaded.spec).transactions == []  # nothing new to attach

    catalog = Catalog(studio.db)
    variant = next(a for a in catalog.assets("tiny", kind="image") if a.format == "leaderboard")
    reg = register_asset(chain, studio.log, catalog, variant.cid, blobs=studio.run_parts().blobs)
    assert reg.parent_token_id != 0 and chain.call("CreativeAssets", "isRegistered", reg.parent_token_id)
    meta = token_json(chain, studio.run_parts().blobs, token_id(variant.cid))
    assert meta["image"] == f"ipfs://{variant.cid}"
    receipt = studio.log.receipt(variant.cid)
    assert receipt is not None
    proof = [bytes.fromhex(p) for p in receipt.inclusion_proof]
    args = (
        digest_of(variant.cid),
        bytes.fromhex(receipt.manifest_hash),
        receipt.leaf_index,
        receipt.tree_size,
    )
    with pytest.raises(ContractError) as err:  # double registration, named
        chain.transact(
            "CreativeAssets", "register", chain.address, *args, proof, reg.parent_token_id, b"\x01" * 32
        )
    assert err.value.error_name == "AlreadyRegistered" and err.value.error_args == (token_id(variant.cid),)
    forged = [bytes(32), *proof[1:]]  # another asset with a forged proof: not in the anchored log
    other = next(a for a in catalog.assets("tiny", kind="copy"))
    other_receipt = studio.log.receipt(other.cid)
    assert other_receipt is not None
    with pytest.raises(ContractError) as err:
        chain.transact("CreativeAssets", "register", chain.address, digest_of(other.cid),
                       bytes.fromhex(other_receipt.manifest_hash), other_receipt.leaf_index,
                       other_receipt.tree_size, forged, 0, b"\x01" * 32)  # fmt: skip
    assert err.value.error_name == "NotInLog"
    assert register_asset(chain, studio.log, catalog, variant.cid, blobs=studio.run_parts().blobs).already

    buyer = party(studio, shared_anvil, BUYER)
    fee = terms_of(chain, FLAVOURS["commercial-remix"]).minting_fee
    assert fee == studio.settings.governance.standard_fee_wei
    with pytest.raises(ContractError) as err:  # fee too low, decoded by name
        buyer.transact("LicenseMarket", "buyLicense", token_id(variant.cid), FLAVOURS["commercial-remix"], 1,
                       buyer.address, value=fee - 1)  # fmt: skip
    assert err.value.error_name == "FeeTooLow" and err.value.error_args == (fee, fee - 1)
    with pytest.raises(ContractError) as err:  # terms not attached to this asset
        buyer.transact("LicenseMarket", "buyLicense", token_id(variant.cid), FLAVOURS["commercial-no-ai"], 1,
                       buyer.address, value=fee)  # fmt: skip
    assert err.value.error_name == "TermsNotAttached"
    unregistered = next(a for a in catalog.assets("tiny", kind="copy"))
    with pytest.raises(MarketError, match="not registered"):
        buy_license(buyer, unregistered.cid, "commercial-use")

    purchase = buy_license(buyer, variant.cid, "commercial-remix")
    assert purchase.fee == fee and license_balance(chain, buyer.address, variant.cid, "commercial-remix") == 1

    # verify reads all of it back from the chain: anchor, terms, registration, lineage
    from mintloom.chain_lookup import verify_context
    from mintloom.store.blobs import LocalBlobStore
    from mintloom.verify.report import Verdict
    from mintloom.verify.verifier import verify_bytes

    report = verify_bytes(LocalBlobStore(studio.workspace.blobs_dir).get(variant.cid), "variant.png",
                          verify_context(studio))  # fmt: skip
    assert report.verdict is Verdict.VERIFIED and report.license is not None
    assert [c.status for c in report.checks if c.name == "anchor"] == ["pass"]
    assert report.license.terms_ids == [FLAVOURS["commercial-remix"]] and report.license.registered
    assert report.license.owner == chain.address
    assert report.license.model is not None and report.license.model.trainer == address(TRAINER)
    assert [d.curator for d in report.license.datasets] == [address(CURATOR)]

    expected = {
        chain.address: fee * 6000 // 10_000,
        address(ARTIST): fee * 2000 // 10_000,
        address(CURATOR): fee * 1000 // 10_000,
        address(TRAINER): fee * 1000 // 10_000,
    }
    assert sum(expected.values()) == fee  # parent and child share one split: the upstream cut stays inside
    for key in (None, ARTIST, CURATOR, TRAINER):
        client = chain if key is None else party(studio, shared_anvil, key)
        owed = claimable(chain, client.address)
        assert owed == expected[client.address]
        before = chain.w3.eth.get_balance(client.address)
        got = claim(client)
        receipt = chain.w3.eth.get_transaction_receipt(got.tx_hash)  # type: ignore[arg-type]
        gas_cost = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
        assert chain.w3.eth.get_balance(client.address) == before + owed - gas_cost
        assert claimable(chain, client.address) == 0
    assert chain.w3.eth.get_balance(chain.address_of("RoyaltyVault")) == 0  # no wei lost or created

    stranger = party(studio, shared_anvil, STRANGER)
    with pytest.raises(GovernanceError, match="nothing to claim"):
        claim(stranger)  # nobody can claim someone else's share: the vault pays only msg.sender
    with pytest.raises(ContractError) as err:
        stranger.transact("RoyaltyVault", "claim", "0x" + "00" * 20)
    assert err.value.error_name == "NothingToClaim"


def test_gate_refuses_ingredients_whose_terms_forbid_the_run(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    chain = studio.chain
    deploy_all(chain)
    loaded = load_spec(write_campaign(tmp_path / "c", GOVERNED))
    with pytest.raises(LicenseViolation, match="dataset 'brand-photos' is not registered"):
        check_lineage(chain, studio.db, loaded.spec)

    sheet = tmp_path / "scraped.md"
    sheet.write_text("scraped, no AI training")
    register_dataset(party(studio, shared_anvil, CURATOR), studio.db, "brand-photos", sheet,
                     license="proprietary", ai_training=False)  # fmt: skip
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w" * 64)
    register_model(party(studio, shared_anvil, TRAINER), studio.db, "layout-model", weights,
                   trained_on=["brand-photos"], license="Apache-2.0")  # fmt: skip
    with pytest.raises(LicenseViolation, match=r"dataset 'brand-photos' forbids AI training"):
        Pipeline(studio).run(loaded)
    assert Catalog(studio.db).assets("tiny") == []  # refused before anything was generated

    nc_sheet = tmp_path / "nc.md"
    nc_sheet.write_text("non-commercial photos")
    register_dataset(party(studio, shared_anvil, CURATOR), studio.db, "brand-photos", nc_sheet,
                     license="CC-BY-NC-4.0", ai_training=True)  # fmt: skip
    only_data = load_spec(write_campaign(tmp_path / "d", GOVERNED.replace('  model: "layout-model"\n', "")))
    with pytest.raises(LicenseViolation, match="non-commercial"):
        check_lineage(chain, studio.db, only_data.spec)


def test_licence_paid_in_an_erc20_is_split_in_that_token(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    chain = studio.chain
    deploy_all(chain)
    token = chain.deploy("TestERC20")
    erc20 = chain.w3.eth.contract(
        address=Web3.to_checksum_address(token), abi=chain.artifact("TestERC20").abi
    )
    buyer = party(studio, shared_anvil, BUYER)
    chain.transact_at(token, chain.artifact("TestERC20").abi, "mint", buyer.address, 10**21)
    fee = 5 * 10**18
    terms_id = register_terms(chain, Terms(commercial_use=True, derivatives_allowed=True, minting_fee=fee,
                                           currency=token, uri="mintloom:terms/tst-remix"))  # fmt: skip
    assert (
        register_terms(
            chain,
            Terms(
                commercial_use=True,
                derivatives_allowed=True,
                minting_fee=fee,
                currency=token,
                uri="mintloom:terms/tst-remix",
            ),
        )
        == terms_id
    )  # idempotent
    spec = (
        SPEC
        + f"""governance:
  terms: {{image: {terms_id}, copy: commercial-use, audio: commercial-use}}
  split:
    - {{role: brand, bps: 7000}}
    - {{role: artist, account: "{address(ARTIST)}", bps: 3000}}
"""
    )
    loaded = load_spec(write_campaign(tmp_path / "c", spec))
    CampaignRunner(studio.run_parts(), loaded).run()
    studio.anchor()
    publish_campaign(chain, studio.db, loaded.spec)
    catalog = Catalog(studio.db)
    master = next(
        a for a in catalog.assets("tiny", kind="image") if a.format == "square" and a.locale == "en-US"
    )
    register_asset(chain, studio.log, catalog, master.cid, blobs=studio.run_parts().blobs)

    purchase = buy_license(buyer, master.cid, terms_id, amount=2)
    assert (purchase.fee, purchase.currency.lower()) == (2 * fee, token.lower())
    assert erc20.functions.balanceOf(buyer.address).call() == 10**21 - 2 * fee
    assert claimable(chain, chain.address, token) == 2 * fee * 7000 // 10_000
    assert claimable(chain, address(ARTIST), token) == 2 * fee * 3000 // 10_000
    assert claimable(chain, chain.address) == 0  # nothing in ETH
    artist = party(studio, shared_anvil, ARTIST)
    got = claim(artist, token)
    assert got.amount == 3 * 10**18 and erc20.functions.balanceOf(artist.address).call() == 3 * 10**18
    claim(chain, token)
    assert (
        erc20.functions.balanceOf(chain.address_of("RoyaltyVault")).call() == 0
    )  # no token unit left behind
