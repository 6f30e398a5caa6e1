"""What the catalog records about a chunk of a folder's files, read in a few queries.

Verifying one file asks the catalog seven to nine small questions (its receipt, lineage, QA
report, tags, review group and decision), each costing more than the c2pa read of a small ad.
``verify DIR`` asks them for a chunk of files at once (:func:`read_facts`). The facts are a
snapshot taken for that chunk and dropped with it: a long-lived context (the API's) never keeps
them, so it never answers from a stale catalog.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mintloom.errors import ForgedReviewError
from mintloom.provenance.review import Reviewer, verified_decision
from mintloom.store.annotations import Annotations, QARow
from mintloom.store.reviews import Reviews

if TYPE_CHECKING:
    from mintloom.provenance.log import Receipt, TransparencyLog
    from mintloom.store.catalog import Catalog
    from mintloom.store.db import Database


@dataclass
class CatalogFacts:
    """A chunk's catalog facts by CID. A CID missing from a table was not read: ask the catalog."""

    receipts: dict[str, Receipt]
    """stored receipts only: the log computes one for a checkpointed leaf that has none yet"""
    parents: dict[str, list[tuple[str, str]]]
    """the chunk's lineage, up to the depth the verifier walks"""
    places: dict[str, str | None]
    """an ancestor's ``locale/segment/format`` (None: not an asset here)"""
    qa: dict[str, QARow | None]
    tags: dict[str, dict[str, list[str]]]
    groups: dict[str, tuple[str, str] | None]
    """(campaign, review group) of an exported asset"""
    _decisions: dict[tuple[str, str], Reviewer | ForgedReviewError | None] = field(default_factory=dict)
    _members: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def decision(self, db: Database, campaign: str, group: str, anchors: str) -> Reviewer | None:
        """:func:`verified_decision` of a review group, checked once per chunk (its files share it)."""
        key = (campaign, group)
        with self._lock:
            if key not in self._decisions:
                try:
                    self._decisions[key] = verified_decision(db, campaign, group, anchors)
                except ForgedReviewError as exc:
                    self._decisions[key] = exc
            found = self._decisions[key]
        if isinstance(found, ForgedReviewError):
            raise found
        return found

    def members(self, db: Database, campaign: str) -> dict[str, list[str]]:
        """:meth:`Reviews.groups` of a campaign, read once per chunk (not once per file)."""
        with self._lock:
            if campaign not in self._members:
                self._members[campaign] = Reviews(db).groups(campaign)
            return self._members[campaign]


def read_facts(
    catalog: Catalog, log: TransparencyLog | None, cids: Collection[str], depth: int
) -> CatalogFacts:
    """The facts about ``cids`` (and their ancestors, ``depth`` generations) in a few queries.
    Raises the catalog's :class:`~mintloom.errors.MintloomError` if it cannot be read."""
    wanted = set(cids)
    notes, reviews = Annotations(catalog.db), Reviews(catalog.db)
    parents: dict[str, list[tuple[str, str]]] = {}
    frontier = set(wanted)
    for _ in range(depth):
        found = catalog.parents_of(frontier)
        parents |= found
        frontier = {p for edges in found.values() for p, _ in edges} - parents.keys()
        if not frontier:
            break
    ancestors = {p for edges in parents.values() for p, _ in edges}
    rows = catalog.assets_of(ancestors)
    qa = notes.qa_of(wanted)
    groups = reviews.groups_of(wanted)
    return CatalogFacts(
        receipts=log.stored_receipts(wanted) if log is not None else {},
        parents=parents,
        places={c: f"{r.locale}/{r.segment}/{r.format}" if (r := rows.get(c)) else None for c in ancestors},
        qa={c: qa.get(c) for c in wanted},
        tags=notes.tags_of(wanted),
        groups={c: groups.get(c) for c in wanted},
    )
