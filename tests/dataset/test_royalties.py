"""Contributor royalties by Merkle claim on a real anvil chain: the Python tree is the contract's,
every contributor claims once, a double claim, a stranger's claim and a non-curator's post fail,
and the rounding dust goes back to the curator."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mintloom.errors import ContractError, GovernanceError
from mintloom.governance import contributor_royalties as cr
from mintloom.ledger.datasets import ingest_and_register
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo
from mintloom.provenance.ingest import IngestOptions, load_contributors
from mintloom.studio import Studio
from tests.governance.test_governance import ARTIST, BUYER, STRANGER, address, party


@given(st.dictionaries(st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
                       st.integers(0, 10**6), min_size=1, max_size=30),
       st.integers(0, 10**24))  # fmt: skip
def test_split_pays_floor_shares_and_accounts_the_dust(weights: dict[str, int], total: int) -> None:
    if not any(weights.values()):
        with pytest.raises(GovernanceError):
            cr.split(weights, total)
        return
    allocations = cr.split(weights, total)
    paid = sum(a.amount for a in allocations)
    assert paid <= total and total - paid < max(len(allocations), 1)
    assert [a.index for a in allocations] == list(range(len(allocations)))
    assert all(a.amount == total * weights[a.account.lower()] // sum(weights.values()) for a in allocations)


@pytest.mark.chain
@pytest.mark.xdist_group("anvil")
def test_contributors_claim_their_data_share_with_proofs(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    chain = studio.chain
    deploy_all(chain)
    folder = tmp_path / "ds"
    folder.mkdir()
    for i in range(4):
        (folder / f"{i}.jpg").write_bytes(b"img %d" % i)
    ann, bob = address(ARTIST), address(BUYER)
    csv = tmp_path / "contributors.csv"
    csv.write_text(f"0.jpg,{ann},2\n1.jpg,{ann}\n2.jpg,{bob},3\n")  # 3.jpg: the curator, weight 1
    opts = IngestOptions("CC-BY-4.0", chain.address, contributors=load_contributors(csv))
    r = ingest_and_register(chain, studio.db, studio.blobs, folder, name="brand", options=opts)
    dataset_id = r.registered.onchain_id
    d, cid, _tx = cr.post(
        chain, studio.blobs, dataset_id=dataset_id, epoch=1, weights=r.done.weights, total=1000
    )
    assert d.dust == 1000 - (1000 * 3 // 7 + 1000 * 3 // 7 + 1000 // 7) == 2
    onchain = chain.call("ContributorRoyalties", "distribution", dataset_id, 1)
    assert bytes(onchain[0]) == d.tree().root() and onchain[2] == d.allocated and onchain[4] == d.dust
    stored = cr.parse(studio.blobs.get(cid))
    assert stored == d
    w3 = chain.w3
    before = w3.eth.get_balance(ann)
    cr.claim(chain, stored, ann)  # the curator submits it; the money goes to Ann
    assert w3.eth.get_balance(ann) - before == 1000 * 3 // 7
    with pytest.raises(GovernanceError, match="already claimed"):
        cr.claim(chain, stored, ann)
    bob_client = party(studio, shared_anvil, BUYER)
    cr.claim(bob_client, stored, bob)
    with pytest.raises(GovernanceError, match="no share"):
        cr.claim(chain, stored, address(STRANGER))
    mine = next(a for a in d.allocations if a.account.lower() == ann.lower())
    forged = cr.Allocation(mine.index, address(STRANGER), mine.amount)
    with pytest.raises(ContractError) as err:
        chain.transact("ContributorRoyalties", "claim", dataset_id, 1, forged.index, forged.account,
                       forged.amount, d.tree().inclusion_proof(mine.index))  # fmt: skip
    assert err.value.error_name in {"AlreadyClaimed", "InvalidProof"}
    mallory = party(studio, shared_anvil, STRANGER)
    with pytest.raises(ContractError) as err:
        cr.post(
            mallory, studio.blobs, dataset_id=dataset_id, epoch=2, weights={address(STRANGER): 1}, total=5
        )
    assert err.value.error_name == "NotCurator"
