"""A dataset's data share paid to its contributors by Merkle claim (``ContributorRoyalties``).

Per dataset and revenue epoch the curator posts one RFC 9162 root over ``(index, contributor,
amount)`` leaves and the revenue; each contributor claims with an inclusion proof. Amounts are
``floor(total * weight / sum of weights)`` over the manifest's contributor weights (file counts,
or the weights of contributors.csv), in address order; what floor division leaves is the dust,
returned to the curator on chain. The distribution (every leaf) is stored content-addressed so any
contributor can rebuild their proof. The leaf layout is the contract's ``leafData``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from web3 import Web3

from mintloom.errors import GovernanceError
from mintloom.ledger.client import ChainClient, TxResult
from mintloom.provenance.merkle import MerkleTree
from mintloom.store.blobs import BlobStore
from mintloom.types import CID

CONTRACT = "ContributorRoyalties"
FORMAT = "mintloom-data-distribution/1"


@dataclass(frozen=True)
class Allocation:
    index: int
    account: str
    amount: int


@dataclass(frozen=True)
class Distribution:
    contract: str
    dataset_id: int
    epoch: int
    total: int
    allocations: tuple[Allocation, ...]

    @property
    def allocated(self) -> int:
        return sum(a.amount for a in self.allocations)

    @property
    def dust(self) -> int:
        return self.total - self.allocated

    def leaf(self, a: Allocation) -> bytes:
        return leaf_data(self.contract, self.dataset_id, self.epoch, a)

    def tree(self) -> MerkleTree:
        tree = MerkleTree()
        tree.extend(self.leaf(a) for a in self.allocations)
        return tree

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "contract": self.contract,
            "dataset_id": self.dataset_id,
            "epoch": self.epoch,
            "total": str(self.total),
            "root": self.tree().root().hex(),
            "allocations": [[a.account, str(a.amount)] for a in self.allocations],
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def leaf_data(contract: str, dataset_id: int, epoch: int, a: Allocation) -> bytes:
    """``abi.encodePacked(contract, datasetId, epoch, index, account, amount)``: 120 bytes."""
    return (
        bytes.fromhex(contract[2:]) + dataset_id.to_bytes(32, "big") + epoch.to_bytes(8, "big")
        + a.index.to_bytes(8, "big") + bytes.fromhex(a.account[2:]) + a.amount.to_bytes(32, "big")
    )  # fmt: skip


def split(weights: dict[str, int], total: int) -> tuple[Allocation, ...]:
    """Pro-rata floor amounts by weight, one leaf per contributor with a positive weight."""
    live = sorted((Web3.to_checksum_address(k), w) for k, w in weights.items() if w > 0)
    whole = sum(w for _, w in live)
    if whole == 0 or total < 0:
        raise GovernanceError("a distribution needs contributors with a positive weight and a total >= 0")
    return tuple(Allocation(i, who, total * w // whole) for i, (who, w) in enumerate(live))


def parse(raw: bytes) -> Distribution:
    try:
        doc = json.loads(raw)
        allocations = tuple(Allocation(i, str(a), int(n)) for i, (a, n) in enumerate(doc["allocations"]))
        ids = int(doc["dataset_id"]), int(doc["epoch"]), int(doc["total"])
        return Distribution(str(doc["contract"]), *ids, allocations)
    except (ValueError, KeyError, TypeError) as exc:
        raise GovernanceError(f"not a mintloom data distribution: {exc}") from exc


def post(
    chain: ChainClient, blobs: BlobStore, *, dataset_id: int, epoch: int, weights: dict[str, int], total: int
) -> tuple[Distribution, CID, TxResult]:
    """Store the distribution and post its root with ``total`` wei (the sender must be the curator)."""
    d = Distribution(chain.address_of(CONTRACT), dataset_id, epoch, total, split(weights, total))
    cid = blobs.put(d.to_json())
    tree = d.tree()
    tx = chain.transact(CONTRACT, "distribute", dataset_id, epoch, tree.root(), tree.size, d.allocated,
                        value=total, kind=f"data-distribution:{dataset_id}:{epoch}")  # fmt: skip
    return d, cid, tx


def claim(chain: ChainClient, d: Distribution, account: str) -> TxResult:
    """Claim ``account``'s leaf of ``d`` with its inclusion proof (anyone may send it)."""
    mine = [a for a in d.allocations if a.account.lower() == account.lower()]
    if not mine:
        raise GovernanceError(f"{account} has no share in epoch {d.epoch} of dataset #{d.dataset_id}")
    a = mine[0]
    if chain.call(CONTRACT, "isClaimed", d.dataset_id, d.epoch, a.index):
        raise GovernanceError(f"{account} already claimed epoch {d.epoch} of dataset #{d.dataset_id}")
    proof = d.tree().inclusion_proof(a.index)
    return chain.transact(CONTRACT, "claim", d.dataset_id, d.epoch, a.index, a.account, a.amount, proof,
                          kind=f"data-claim:{d.dataset_id}:{d.epoch}:{a.index}")  # fmt: skip
