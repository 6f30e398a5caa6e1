"""A derivative's parent is proven by its log leaf on a real anvil chain: a registrar who omits
the parent (to skip upstream royalties) or names another one is refused by the contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.spec import load_spec
from mintloom.errors import ContractError
from mintloom.governance.publish import publish_campaign
from mintloom.ledger.assets import register_asset, token_id
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.lineage import register_dataset, register_model
from mintloom.ledger.node import NodeInfo
from mintloom.store.catalog import Catalog
from mintloom.store.cid import digest_of
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign
from tests.governance.test_governance import CURATOR, GOVERNED, TRAINER, party

pytestmark = pytest.mark.xdist_group("anvil")


def test_derivative_registration_takes_the_parent_from_the_proven_leaf(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    chain = studio.chain
    deploy_all(chain, studio.settings.governance)
    sheet, weights = tmp_path / "sheet.md", tmp_path / "w.bin"
    sheet.write_text("# brand photos\nlicensed for AI training\n")
    weights.write_bytes(b"w" * 64)
    register_dataset(party(studio, shared_anvil, CURATOR), studio.db, "brand-photos", sheet,
                     license="CC-BY-4.0", ai_training=True)  # fmt: skip
    register_model(party(studio, shared_anvil, TRAINER), studio.db, "layout-model", weights,
                   trained_on=["brand-photos"], license="Apache-2.0")  # fmt: skip
    loaded = load_spec(write_campaign(tmp_path / "c", GOVERNED))
    CampaignRunner(studio.run_parts(), loaded).run()
    studio.anchor()
    publish_campaign(chain, studio.db, loaded.spec)  # images get commercial-remix: derivable

    catalog = Catalog(studio.db)
    images = catalog.assets("tiny", kind="image")
    variant = next(a for a in images if a.format == "leaderboard")
    receipt = studio.log.receipt(variant.cid)
    assert receipt is not None and receipt.anchor is not None
    assert receipt.parent == catalog.parents(variant.cid)[0][0]  # the leaf names the master
    parent = register_asset(chain, studio.log, catalog, receipt.parent, blobs=studio.run_parts().blobs)
    decoy_cid = next(a.cid for a in images if a.format == "square" and a.cid != receipt.parent)
    decoy = register_asset(chain, studio.log, catalog, decoy_cid, blobs=studio.run_parts().blobs)
    assert chain.call("LicenseMarket", "isDerivable", decoy.token_id)  # a parent it could pick

    args = (chain.address, digest_of(variant.cid), bytes.fromhex(receipt.manifest_hash), receipt.leaf_index,
            receipt.tree_size, [bytes.fromhex(p) for p in receipt.inclusion_proof])  # fmt: skip
    for wrong in (0, decoy.token_id):  # omit the parent (no upstream royalties), or swap it
        with pytest.raises(ContractError) as err:
            chain.transact("CreativeAssets", "register", *args, wrong, b"\x01" * 32)
        assert err.value.error_name == "NotInLog"
    assert not chain.call("CreativeAssets", "isRegistered", token_id(variant.cid))

    reg = register_asset(chain, studio.log, catalog, variant.cid, blobs=studio.run_parts().blobs)
    assert reg.parent_token_id == parent.token_id == token_id(receipt.parent)
    assert chain.call("CreativeAssets", "parentOf", reg.token_id) == parent.token_id
