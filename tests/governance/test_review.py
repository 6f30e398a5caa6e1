"""Human-on-the-loop review, attacked: forged, altered and replayed approvals, approvals of changed
assets, a SIGKILL mid-decision, audience values in what the reviewer sees, and the publish gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_spec
from mintloom.campaign.spec import LoadedSpec, load_spec
from mintloom.errors import ForgedReviewError, ReviewRequiredError, StaleReviewError
from mintloom.governance.publish import publish_campaign
from mintloom.governance.review import approved_assets, contact_sheet, decide, draw
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo
from mintloom.provenance.keys import LocalSigner, issue_signer, make_ca
from mintloom.provenance.review import REVIEWER_UNIT, ReviewRecord, fingerprint, save_reviewer, sign_review
from mintloom.store.catalog import Catalog
from mintloom.store.reviews import ReviewDecisionRow, Reviews, ReviewSampleRow, members_digest
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign
from tests.conftest import PASSWORD

CANARIES = ("Zorblatt", "Quuxville", "canaryseg", "Mbwenyi", "Xyloport", "secretseg")
AUDIENCE = (
    "segment,name,city,offer,currency,price,deadline\n"
    "canaryseg,Zorblatt,Quuxville,15,EUR,3.90,2026-12-31\n"
    "secretseg,Mbwenyi,Xyloport,18,EUR,4.20,2027-01-05\n"
)
SQUARE = "rv/image/en-US/square"
BANNER = "rv/image/en-US/leaderboard"


def _spec(tmp: Path, *, headline: str | None = None, review: bool = True, campaign: str = "rv") -> LoadedSpec:
    text = sample_spec(campaign=campaign, locales=("en-US",), formats=("square", "leaderboard"), audio=False)
    if headline is not None:
        text = text.replace("{{ name }}, {{ offer }}% off", headline)
    if review:
        text += "governance:\n  require_review: true\n"
    return load_spec(write_campaign(tmp / f"{campaign}-campaign", text, AUDIENCE))


def _run(studio: Studio, loaded: LoadedSpec) -> None:
    CampaignRunner(studio.run_parts(), loaded).run()


def _reviewer(studio: Studio, name: str = "alice") -> LocalSigner:
    key, chain = studio.keys.issue_person(name, REVIEWER_UNIT, PASSWORD)
    return LocalSigner(key, chain)


@pytest.fixture
def ran(studio: Studio, tmp_path: Path) -> Studio:
    """Campaign "rv" (two segments, one locale, square + leaderboard, a copy template) run once."""
    _run(studio, _spec(tmp_path))
    return studio


def test_the_sample_is_stratified_bounded_and_the_same_for_the_same_seed(ran: Studio) -> None:
    groups = Reviews(ran.db).groups("rv")
    assert set(groups) == {SQUARE, BANNER, "rv/copy.note/en-US/text"}
    first = draw(ran.db, "rv", size=1, seed=5)
    assert [g.group for g in first] == sorted(groups) and all(len(g.sample) == 1 for g in first)
    assert all(g.sample[0] in groups[g.group] for g in first)
    assert draw(ran.db, "rv", size=1, seed=5) == first
    seeds = {tuple(g.sample[0] for g in draw(ran.db, "rv", size=1, seed=s)) for s in range(12)}
    assert len(seeds) > 1, "the seed never changes which asset is drawn"
    assert all(len(g.sample) == 2 for g in draw(ran.db, "rv", size=5, seed=0))


def test_an_approval_is_signed_by_the_reviewer_and_opens_the_publish_gate(ran: Studio) -> None:
    anchor = ran.keys.trust_anchor_pem()
    draw(ran.db, "rv", size=2, seed=0)
    with pytest.raises(ReviewRequiredError, match="3 group"):
        approved_assets(ran.db, "rv", anchor)
    alice = _reviewer(ran)
    for group in Reviews(ran.db).groups("rv"):
        who = decide(ran.db, group, "approve", alice, anchor)
        assert who.name == "alice" and who.record.reviewer == fingerprint(alice.certificate_chain_pem)
    current = {c for cids in Reviews(ran.db).groups("rv").values() for c in cids}
    assert approved_assets(ran.db, "rv", anchor) == current


def _insert(studio: Studio, payload: bytes, signature: bytes, chain: bytes, *, group: str = SQUARE) -> None:
    campaign = group.split("/", maxsplit=1)[0]
    with studio.db.session() as s:
        row = ReviewDecisionRow(campaign=campaign, group_id=group, decision="approve",
                                payload=payload.decode(), signature=signature,
                                certificate=chain.decode())  # fmt: skip
        s.add(row)


def _record(studio: Studio, signer: LocalSigner, group: str = SQUARE) -> ReviewRecord:
    drawn = Reviews(studio.db).sample("rv", group)
    assert drawn is not None
    return ReviewRecord(campaign="rv", group=group, round=drawn.round, decision="approve",
                        sample=tuple(json.loads(drawn.sample)), members=drawn.members,
                        reviewer=fingerprint(signer.certificate_chain_pem),
                        at="2026-11-29T10:00:00+00:00")  # fmt: skip


def test_an_approval_by_a_key_of_another_ca_is_refused_by_name(ran: Studio) -> None:
    anchor = ran.keys.trust_anchor_pem()
    draw(ran.db, "rv", size=2, seed=0)
    evil_key, evil_ca = make_ca("Lumen")  # same organisation name, not the organisation's root
    key, cert = issue_signer(evil_key, evil_ca, "Lumen", "es256", person="alice", unit=REVIEWER_UNIT)
    from cryptography.hazmat.primitives.serialization import Encoding

    mallory = LocalSigner(key, cert.public_bytes(Encoding.PEM) + evil_ca.public_bytes(Encoding.PEM))
    with pytest.raises(ForgedReviewError, match="not trusted"):
        decide(ran.db, SQUARE, "approve", mallory, anchor)
    assert Reviews(ran.db).latest("rv", SQUARE) is None  # nothing recorded
    signed = sign_review(_record(ran, mallory), mallory)  # written straight into the catalog
    _insert(ran, signed.payload, signed.signature, signed.certificate_pem)
    with pytest.raises(ForgedReviewError, match="not trusted"):
        approved_assets(ran.db, "rv", anchor)


def test_the_pipeline_signer_is_not_a_reviewer(ran: Studio) -> None:
    draw(ran.db, "rv", size=2, seed=0)
    with pytest.raises(ForgedReviewError, match="not a reviewer"):
        decide(ran.db, SQUARE, "approve", ran.signer, ran.keys.trust_anchor_pem())


def test_altered_cids_in_a_genuine_approval_break_its_signature(ran: Studio) -> None:
    anchor = ran.keys.trust_anchor_pem()
    draw(ran.db, "rv", size=1, seed=0)
    decide(ran.db, SQUARE, "approve", _reviewer(ran), anchor)
    other = next(c for c in Reviews(ran.db).groups("rv")[SQUARE] if c not in _record(ran, ran.signer).sample)
    with ran.db.session() as s:
        row = s.scalars(select(ReviewDecisionRow)).one()
        body = json.loads(row.payload)
        body["sample"] = [other]
        row.payload = json.dumps(body, sort_keys=True, separators=(",", ":"))
        drawn = s.get(ReviewSampleRow, ("rv", SQUARE))
        assert drawn is not None
        drawn.sample = json.dumps([other])  # the attacker rewrites the drawn sample to match
    with pytest.raises(ForgedReviewError, match="signature"):
        approved_assets(ran.db, "rv", anchor)


def test_an_approval_replayed_for_another_group_or_campaign_is_refused(ran: Studio, tmp_path: Path) -> None:
    anchor = ran.keys.trust_anchor_pem()
    _run(ran, _spec(tmp_path, campaign="rw"))
    draw(ran.db, "rv", size=2, seed=0)
    draw(ran.db, "rw", size=2, seed=0)
    decide(ran.db, SQUARE, "approve", _reviewer(ran), anchor)
    genuine = Reviews(ran.db).latest("rv", SQUARE)
    assert genuine is not None
    for target in (BANNER, "rw/image/en-US/square"):
        _insert(ran, genuine.payload.encode(), genuine.signature, genuine.certificate.encode(), group=target)
        with pytest.raises(ForgedReviewError, match="the record is for rv/rv/image/en-US/square"):
            approved_assets(ran.db, target.split("/")[0], anchor)


def test_approving_a_group_whose_assets_changed_is_refused_and_a_changed_approved_group_is_not_published(
    ran: Studio, tmp_path: Path
) -> None:
    anchor = ran.keys.trust_anchor_pem()
    alice = _reviewer(ran)
    draw(ran.db, "rv", size=2, seed=0)
    for group in (BANNER, "rv/copy.note/en-US/text"):
        decide(ran.db, group, "approve", alice, anchor)
    _run(ran, _spec(tmp_path / "edited", headline="{{ name }}: {{ offer }}% today"))  # a spec edit
    with pytest.raises(StaleReviewError, match="changed after its sample was drawn"):
        decide(ran.db, SQUARE, "approve", alice, anchor)
    with pytest.raises(ReviewRequiredError, match=f"{BANNER} \\(changed after approval\\)"):
        approved_assets(ran.db, "rv", anchor)


def test_a_rejected_design_is_regenerated_with_a_new_seed_and_needs_a_new_review(
    ran: Studio, tmp_path: Path
) -> None:
    anchor = ran.keys.trust_anchor_pem()
    alice = _reviewer(ran)
    draw(ran.db, "rv", size=2, seed=0)
    before = Reviews(ran.db).groups("rv")
    for group in before:
        decide(ran.db, group, "reject" if group == SQUARE else "approve", alice, anchor)
    assert Reviews(ran.db).rounds("rv") == {"image/en-US": 1}
    _run(ran, _spec(tmp_path))
    after = Reviews(ran.db).groups("rv")
    for group in (SQUARE, BANNER):  # one design per locale: every family of it is redrawn
        assert not set(before[group]) & set(after[group]), group
    assert after["rv/copy.note/en-US/text"] == before["rv/copy.note/en-US/text"]
    with pytest.raises(ReviewRequiredError, match="changed after approval") as refused:
        approved_assets(ran.db, "rv", anchor)
    assert "copy.note" not in str(refused.value)
    redrawn = {g.group: g for g in draw(ran.db, "rv", size=2, seed=0)}
    assert redrawn[SQUARE].round == 1 and set(redrawn[SQUARE].sample) <= set(after[SQUARE])
    for group in (SQUARE, BANNER):
        decide(ran.db, group, "approve", alice, anchor)
    assert approved_assets(ran.db, "rv", anchor) == {c for cids in after.values() for c in cids}


def test_no_audience_value_reaches_the_review_record_groups_or_contact_sheet_labels(
    ran: Studio, tmp_path: Path
) -> None:
    samples = draw(ran.db, "rv", size=2, seed=0)
    sheet = tmp_path / "sheet.png"
    labels = contact_sheet(ran.db, ran.blobs, samples, sheet)
    with Image.open(sheet) as img:
        assert img.format == "PNG" and img.width >= 2 * 200 and img.height >= 3 * 200
    decide(ran.db, SQUARE, "approve", _reviewer(ran), ran.keys.trust_anchor_pem())
    decision = Reviews(ran.db).latest("rv", SQUARE)
    assert decision is not None and len(labels) == 6
    with ran.db.session() as s:
        drawn = [f"{r.group_id} {r.sample}" for r in s.scalars(select(ReviewSampleRow))]
    seen = "\n".join([*labels, *drawn, decision.payload, decision.group_id])
    for canary in CANARIES:
        assert canary.lower() not in seen.lower(), canary


def test_verify_names_the_reviewer_of_an_approved_asset(ran: Studio) -> None:
    from mintloom.chain_lookup import verify_context
    from mintloom.verify.verifier import verify_path

    draw(ran.db, "rv", size=2, seed=0)
    decide(ran.db, SQUARE, "approve", _reviewer(ran, "bob"), ran.keys.trust_anchor_pem())
    out = ran.workspace.out_dir / "rv" / "en-US" / "canaryseg" / "square.png"
    report = verify_path(out, verify_context(ran, offline=True))
    check = next(c for c in report.checks if c.name == "review")
    assert check.status == "pass" and check.detail.startswith("approved: reviewed by bob on 20")
    assert report.review is not None and report.review["reviewer"] == "bob"
    banner = verify_path(out.with_name("leaderboard.png"), verify_context(ran, offline=True))
    assert banner.review is None and all(c.name != "review" for c in banner.checks)


def test_a_decision_killed_before_commit_leaves_the_group_undecided(ran: Studio, tmp_path: Path) -> None:
    draw(ran.db, "rv", size=2, seed=0)
    key, chain = ran.keys.issue_person("carol", REVIEWER_UNIT, PASSWORD)
    path = save_reviewer(tmp_path / "keys", "carol", key, chain, "reviewer-password")
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(ran.workspace.root), "MINTLOOM_KEY_PASSWORD": PASSWORD,
           "MINTLOOM_REVIEWER_PASSWORD": "reviewer-password",
           "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
    args = [sys.executable, "-m", "mintloom.cli.main", "review", "reject", SQUARE, "--reviewer", str(path)]
    killed = subprocess.run(args, env={**env, "MINTLOOM_CRASH_AT": "review.decide"},
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert Reviews(ran.db).latest("rv", SQUARE) is None and Reviews(ran.db).rounds("rv") == {}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "rejected" in done.stdout, done.stdout + done.stderr
    assert Reviews(ran.db).rounds("rv") == {"image/en-US": 1}


def test_members_digest_changes_with_any_cid() -> None:
    assert members_digest(["b", "a"]) == members_digest(["a", "b", "a"]) != members_digest(["a", "c"])


@pytest.mark.xdist_group("anvil")
def test_publishing_refuses_unreviewed_groups_and_licenses_only_approved_assets(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    """On anvil: nothing is attached while a group is unreviewed; after a rejection, regeneration
    and approval of every group, only the current (approved) assets get terms, not the rejected ones."""
    chain, anchor = studio.chain, studio.keys.trust_anchor_pem()
    deploy_all(chain, studio.settings.governance)
    loaded = _spec(tmp_path)
    _run(studio, loaded)
    studio.anchor()
    draw(studio.db, "rv", size=2, seed=0)
    with pytest.raises(ReviewRequiredError, match="organisation root"):
        publish_campaign(chain, studio.db, loaded.spec)
    with pytest.raises(ReviewRequiredError, match="unreviewed"):
        publish_campaign(chain, studio.db, loaded.spec, trust_anchor_pem=anchor)
    first = {a.cid: a.leaf_index for a in Catalog(studio.db).assets("rv")}
    assert all(chain.call("LicenseMarket", "termsOfLeaf", i) == [] for i in first.values())
    alice = _reviewer(studio)
    decide(studio.db, SQUARE, "reject", alice, anchor)
    _run(studio, loaded)
    studio.anchor()
    for g in draw(studio.db, "rv", size=2, seed=0):
        decide(studio.db, g.group, "approve", alice, anchor)
    publish_campaign(chain, studio.db, loaded.spec, trust_anchor_pem=anchor)
    current = {c for cids in Reviews(studio.db).groups("rv").values() for c in cids}
    for asset in Catalog(studio.db).assets("rv"):
        licensed = chain.call("LicenseMarket", "termsOfLeaf", asset.leaf_index) != []
        assert licensed == (asset.cid in current), (asset.path, asset.cid in current)
