"""Royalty splits on the session's anvil node: a campaign's split follows its spec."""

from __future__ import annotations

import pytest
from web3 import Web3

from mintloom.governance.royalties import Share, ensure_split
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo, dev_key
from mintloom.studio import Studio

pytestmark = pytest.mark.xdist_group("anvil")


def test_a_changed_split_is_the_one_new_leaves_get(studio: Studio, shared_anvil: NodeInfo) -> None:
    """The spec's split changes after the first publish (an artist is added): the split id
    publish assigns to new leaves must pay the new shares, not silently keep the old ones."""
    chain = studio.chain
    deploy_all(chain, studio.settings.governance)
    artist = str(Web3().eth.account.from_key(dev_key(4)).address)
    before = [Share(chain.address, 10_000, "brand")]
    after = [Share(chain.address, 6_000, "brand"), Share(artist, 4_000, "artist")]
    first = ensure_split(chain, studio.db, "tiny", before)
    assert ensure_split(chain, studio.db, "tiny", before) == first  # unchanged: the same split
    second = ensure_split(chain, studio.db, "tiny", after)
    recipients, bps = chain.call("RoyaltyVault", "split", second)
    assert (list(recipients), list(bps)) == ([chain.address, artist], [6_000, 4_000])
    assert ensure_split(chain, studio.db, "tiny", after) == second
    assert ensure_split(chain, studio.db, "tiny", before) == first  # back to the old shares: its split
