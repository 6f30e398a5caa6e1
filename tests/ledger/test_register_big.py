"""Lazy registration of assets over 256 KiB: the token names the asset's IPFS (dag-pb) CID; an
asset an older workspace logged under a raw CID registers under that one."""

from __future__ import annotations

import hashlib
import random

import pytest

from mintloom.errors import ContractError
from mintloom.ledger.assets import register_asset, token_id
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo
from mintloom.store.catalog import Catalog
from mintloom.store.cid import CHUNK_SIZE, DAG_PB_CODEC, cid_for, codec_of, digest_of, raw_cid
from mintloom.studio import Studio
from tests.ledger.tokens import token_json

pytestmark = pytest.mark.xdist_group("anvil")


def test_big_assets_register_under_the_cid_they_were_logged_with(
    studio: Studio, shared_anvil: NodeInfo
) -> None:
    chain = studio.chain
    deploy_all(chain)
    rng = random.Random(5)
    big, old = rng.randbytes(CHUNK_SIZE + 1), rng.randbytes(3 * CHUNK_SIZE)
    new_cid, legacy = cid_for(big), raw_cid(old)
    assert codec_of(new_cid) == DAG_PB_CODEC
    studio.log.append_batch(
        [(new_cid, hashlib.sha256(b"m1").digest()), (legacy, hashlib.sha256(b"m2").digest())]
    )
    studio.anchor()
    catalog = Catalog(studio.db)

    for cid in (new_cid, legacy):
        reg = register_asset(chain, studio.log, catalog, cid, blobs=studio.run_parts().blobs)
        assert not reg.already and reg.token_id == token_id(cid) == int.from_bytes(digest_of(cid), "big")
        assert chain.call("CreativeAssets", "cidOf", reg.token_id) == cid
        # not in the catalog (logged directly): the metadata still names the asset by its IPFS CID
        assert token_json(chain, studio.run_parts().blobs, reg.token_id)["properties"]["asset"]["cid"] == cid
        assert register_asset(chain, studio.log, catalog, cid, blobs=studio.run_parts().blobs).already

    # the codec is bound by the log leaf: the raw entry point refuses a dag-pb asset's proof
    third = rng.randbytes(CHUNK_SIZE + 2)
    studio.log.append_batch([(cid_for(third), hashlib.sha256(b"m3").digest())])
    studio.anchor()
    receipt = studio.log.receipt(cid_for(third))
    assert receipt is not None
    with pytest.raises(ContractError) as err:
        chain.transact("CreativeAssets", "register", chain.address, digest_of(cid_for(third)),
                       bytes.fromhex(receipt.manifest_hash), receipt.leaf_index, receipt.tree_size,
                       [bytes.fromhex(p) for p in receipt.inclusion_proof], 0, b"\x01" * 32)  # fmt: skip
    assert err.value.error_name == "NotInLog"
