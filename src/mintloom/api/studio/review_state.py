"""Where each review group of a campaign stands, with its signature checked (a read path)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mintloom.errors import ForgedReviewError, StaleReviewError
from mintloom.governance.review import split_group
from mintloom.provenance.review import check_fresh, verified_decision
from mintloom.store.db import Database
from mintloom.store.gallery import ReviewState
from mintloom.store.reviews import Reviews, members_digest


@dataclass(frozen=True)
class GroupState:
    group: str
    cids: list[str]
    state: ReviewState
    sample: list[str]
    """The drawn sample (empty until `mintloom review CAMPAIGN` or the studio drew one)."""
    reviewer: str | None = None
    at: str | None = None


def group_states(db: Database, campaign: str, trust_anchor_pem: str) -> list[GroupState]:
    """Every group of ``campaign`` with its verified state: a record that fails its signature
    check is ``forged``, an approval of assets that changed since is ``stale``."""
    reviews = Reviews(db)
    out: list[GroupState] = []
    for group, cids in reviews.groups(campaign).items():
        drawn = reviews.sample(campaign, group)
        sample = [] if drawn is None else reviews.sample_cids(drawn)
        out.append(_state(db, GroupState(group, cids, "unreviewed", sample), trust_anchor_pem))
    return out


def _state(db: Database, g: GroupState, anchor: str) -> GroupState:
    """``g`` (unreviewed) with the state its latest decision gives it."""
    try:
        reviewer = verified_decision(db, split_group(g.group), g.group, anchor)
    except ForgedReviewError:
        return replace(g, state="forged")
    if reviewer is None:
        return g
    rec = reviewer.record
    state: ReviewState = "approved" if rec.decision == "approve" else "rejected"
    try:
        check_fresh(reviewer, members_digest(g.cids))
    except StaleReviewError:
        state = "stale"
    return replace(g, state=state, reviewer=reviewer.name, at=rec.at)


def cids_in_state(groups: list[GroupState], state: ReviewState) -> set[str]:
    return {c for g in groups if g.state == state for c in g.cids}
