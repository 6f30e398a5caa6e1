"""The demo's model-layer and review step on a real anvil chain: the hero campaign runs on the
labelled tiny stand-in, publishing is refused until a reviewer's signed approvals exist, then
terms reach the approved assets; a rerun generates and signs nothing new."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.cli.demo_hero import REVIEWER, hero_review_step
from mintloom.engines import hero as hero_module
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo
from mintloom.provenance.review import verified_decision
from mintloom.store.reviews import Reviews
from mintloom.studio import Studio
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]


def test_hero_review_step_publishes_only_after_signed_approval(
    studio: Studio,
    shared_anvil: NodeInfo,
    tiny_pipeline: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(hero_module.ENV_TINY_DIR, str(tiny_pipeline))  # the session's build
    deploy_all(studio.chain)
    said: list[str] = []
    hero_review_step(said.append, studio, PASSWORD)
    out = " ".join(capsys.readouterr().out.split())  # rich wraps lines at the console width
    assert "TINY RANDOM-WEIGHT" in said[0]
    assert "publishing refused before review: governance.require_review (6 group(s) unreviewed)" in out
    after = int(out.split("after review: terms attached to ")[1].split()[0])
    assert after > 0
    anchor = studio.keys.trust_anchor_pem()
    groups = Reviews(studio.db).groups("lumen-hero")
    assert groups
    for group in groups:
        who = verified_decision(studio.db, "lumen-hero", group, anchor)
        assert who is not None and who.name == REVIEWER and who.record.decision == "approve"
    leaves = studio.log.size
    decisions = {g: verified_decision(studio.db, "lumen-hero", g, anchor) for g in groups}

    hero_review_step(said.append, studio, PASSWORD)  # rerun: nothing generated or signed again
    again = capsys.readouterr().out
    assert "made nothing new" in again
    studio.log.refresh()
    assert studio.log.size == leaves
    assert {g: verified_decision(studio.db, "lumen-hero", g, anchor) for g in groups} == decisions
