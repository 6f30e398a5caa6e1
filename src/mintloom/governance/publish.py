"""Attach a campaign's licence terms, royalty split and lineage on chain, in batch.

After a checkpoint is anchored, the campaign's new leaves in it get, per contract, one
``multicall`` transaction whatever the number of assets: ``LicenseMarket.attachTerms`` for each
run of consecutive leaves sharing terms, ``RoyaltyVault
.assignSplit`` for each run of the campaign's leaves, and ``LineageRegistry.linkAssets`` with the
registered model and datasets. Each contract's ranges over the campaign's span are read back and
only the campaign's leaves in none of them are covered, so publishing again (a rerun after a crash)
attaches nothing twice, and a campaign published after a later one fills its gap in the ranges.

The ranges come from the leaves themselves, so any leaf order is published correctly; they stay
few because the runner logs one kind after another (``campaign.run.PHASES``, a documented
property of the run), giving one terms range per kind and run rather than one per asset.

Given the blob store, publishing also writes the ERC-1155 licence metadata folder and names it on
chain when it changed (:mod:`mintloom.governance.licence_metadata`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mintloom.campaign.spec import CampaignSpec
from mintloom.errors import ReviewRequiredError
from mintloom.governance.licence_metadata import PAGE, publish_licence_folder
from mintloom.governance.licenses import resolve_terms
from mintloom.governance.review import approved_assets
from mintloom.governance.royalties import Share, ensure_split, resolve_split
from mintloom.ledger.anchoring import latest_on_chain
from mintloom.ledger.client import ChainClient
from mintloom.ledger.lineage import Names
from mintloom.store.annotations import Annotations
from mintloom.store.blobs import BlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.db import Database


@dataclass
class PublishResult:
    checkpoint_size: int
    terms_ranges: list[tuple[int, int, int]] = field(default_factory=list)
    """(from, to, terms id)"""
    split_id: int | None = None
    split: list[Share] = field(default_factory=list)
    split_ranges: list[tuple[int, int]] = field(default_factory=list)
    lineage_ranges: list[tuple[int, int]] = field(default_factory=list)
    transactions: list[str] = field(default_factory=list)
    gas_used: int = 0
    licence_folder: str | None = None
    """CID of the ERC-1155 licence metadata folder (when published)"""


def runs(leaves: Iterable[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Maximal ranges [from, to) of consecutive leaf indices with the same value, from
    (leaf index, value) pairs sorted by index."""
    out: list[tuple[int, int, int]] = []
    for idx, value in leaves:
        if out and out[-1][1] == idx and out[-1][2] == value:
            out[-1] = (out[-1][0], idx + 1, value)
        else:
            out.append((idx, idx + 1, value))
    return out


def uncovered(leaves: Iterable[tuple[int, int]], covered: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (leaf index, value) pairs, sorted by index, whose index lies in none of the sorted,
    disjoint ranges [from, to) of ``covered``."""
    return list(_uncovered(leaves, covered))


def _uncovered(
    leaves: Iterable[tuple[int, int]], covered: Sequence[tuple[int, int]]
) -> Iterator[tuple[int, int]]:
    pos = 0
    for idx, value in leaves:
        while pos < len(covered) and covered[pos][1] <= idx:
            pos += 1
        if pos == len(covered) or idx < covered[pos][0]:
            yield idx, value


@dataclass(frozen=True)
class _Campaign:
    """The campaign's anchored assets to publish (not held, approved if review is required), read
    from the catalog a page at a time on each pass: publishing 20k assets holds one page of rows."""

    db: Database
    name: str
    size: int
    held: set[str]
    reviewed: set[str] | None

    def leaves(self) -> Iterator[tuple[int, str]]:
        """(leaf index, kind) of each asset to publish, in leaf order."""
        for a in Catalog(self.db).iter_assets(self.name, below=self.size, page=PAGE):
            if a.cid not in self.held and (self.reviewed is None or a.cid in self.reviewed):
                yield a.leaf_index, a.kind


def _to_cover(
    chain: ChainClient, contract: str, leaves: Iterable[tuple[int, int]], end: int
) -> list[tuple[int, int, int]]:
    """Runs of ``leaves`` (sorted, all below ``end``) that no range of ``contract`` covers yet
    (one read of the ranges from the first leaf to ``end``)."""
    it = iter(leaves)
    first = next(it, None)
    if first is None:
        return []
    got = chain.call(contract, "rangesOverlapping", first[0], end)
    covered = [(int(r[0]), int(r[1])) for r in got]
    return runs(_uncovered(itertools.chain([first], it), covered))


def _multicall(
    chain: ChainClient,
    contract: str,
    fn: str,
    calls: list[tuple[Any, ...]],
    *,
    kind: str,
    result: PublishResult,
) -> None:
    if not calls:
        return
    c = chain.contract(contract)
    data = [c.encode_abi(fn, args=list(args)) for args in calls]
    tx = chain.transact(contract, "multicall", data, kind=kind)
    result.transactions.append(tx.tx_hash)
    result.gas_used += tx.gas_used


def publish_campaign(
    chain: ChainClient,
    db: Database,
    spec: CampaignSpec,
    *,
    blobs: BlobStore | None = None,
    progress: Callable[[str], None] | None = None,
    trust_anchor_pem: str | None = None,
) -> PublishResult:
    """Attach terms, split and lineage to the campaign's anchored leaves; with ``blobs``, publish
    the licence metadata folder too. With ``governance.require_review`` only the current assets of
    approved groups, checked against ``trust_anchor_pem`` (else :class:`ReviewRequiredError`)."""
    say = progress or (lambda _m: None)
    reviewed = _reviewed(db, spec, trust_anchor_pem)
    size = latest_on_chain(chain).size
    result = PublishResult(size)
    held = Annotations(db).held(spec.campaign)  # held by the brand QA gate: never published
    assets = _Campaign(db, spec.campaign, size, held, reviewed)
    _attach_terms(chain, spec, assets, result, say=say)
    _assign_split(chain, db, spec, assets, result, say=say)
    _link_lineage(chain, db, spec, assets, result)
    if blobs is not None:
        folder = publish_licence_folder(chain, db, blobs, size)
        result.licence_folder = folder.cid
        if folder.tx_hash is not None:
            result.transactions.append(folder.tx_hash)
    return result


def _reviewed(db: Database, spec: CampaignSpec, trust_anchor_pem: str | None) -> set[str] | None:
    """The CIDs approved by review when the spec requires it (checked before any transaction)."""
    if not spec.governance.require_review:
        return None
    if trust_anchor_pem is None:
        raise ReviewRequiredError("governance.require_review needs the organisation root to check approvals")
    return approved_assets(db, spec.campaign, trust_anchor_pem)


def _attach_terms(
    chain: ChainClient,
    spec: CampaignSpec,
    assets: _Campaign,
    result: PublishResult,
    *,
    say: Callable[[str], None],
) -> None:
    """Licence terms by asset kind, one range per run of equal terms."""
    size = result.checkpoint_size
    kind_terms = {k: resolve_terms(v) for k, v in spec.governance.terms.items()}
    leaves = ((i, kind_terms[kind]) for i, kind in assets.leaves() if kind in kind_terms)
    result.terms_ranges = _to_cover(chain, "LicenseMarket", leaves, size)
    count = sum(t - f for f, t, _ in result.terms_ranges)
    say(f"attaching terms to {count} assets in {len(result.terms_ranges)} range(s)")
    calls: list[tuple[Any, ...]] = [(size, f, t, tid) for f, t, tid in result.terms_ranges]
    kind = f"attach-terms:{spec.campaign}:{size}"
    _multicall(chain, "LicenseMarket", "attachTerms", calls, kind=kind, result=result)


def _assign_split(
    chain: ChainClient,
    db: Database,
    spec: CampaignSpec,
    assets: _Campaign,
    result: PublishResult,
    *,
    say: Callable[[str], None],
) -> None:
    """The campaign's royalty split (created once), assigned to every asset."""
    size = result.checkpoint_size
    result.split = resolve_split(chain, db, spec)
    result.split_id = ensure_split(chain, db, spec.campaign, result.split)
    ranges = _to_cover(chain, "RoyaltyVault", ((i, 0) for i, _ in assets.leaves()), size)
    result.split_ranges = [(f, t) for f, t, _ in ranges]
    say(f"assigning split #{result.split_id} in {len(ranges)} range(s)")
    calls: list[tuple[Any, ...]] = [(size, f, t, result.split_id) for f, t in result.split_ranges]
    kind = f"assign-split:{spec.campaign}:{size}"
    _multicall(chain, "RoyaltyVault", "assignSplit", calls, kind=kind, result=result)


def _link_lineage(
    chain: ChainClient, db: Database, spec: CampaignSpec, assets: _Campaign, result: PublishResult
) -> None:
    """Link every asset to the spec's registered model and datasets (if any)."""
    size = result.checkpoint_size
    names = Names(db, chain.chain_id)
    model = names.get("model", spec.lineage.model) if spec.lineage.model else 0
    datasets = [d for d in (names.get("dataset", n) for n in spec.lineage.datasets) if d is not None]
    if model or datasets:
        ranges = _to_cover(chain, "LineageRegistry", ((i, 0) for i, _ in assets.leaves()), size)
        result.lineage_ranges = [(f, t) for f, t, _ in ranges]
        calls: list[tuple[Any, ...]] = [(size, f, t, model or 0, datasets) for f, t in result.lineage_ranges]
        kind = f"link-lineage:{spec.campaign}:{size}"
        _multicall(chain, "LineageRegistry", "linkAssets", calls, kind=kind, result=result)
