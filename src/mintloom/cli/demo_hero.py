"""The demo's model-layer and review step: the ``lumen-hero`` example (a text-to-image hero per
segment × locale under the brand's copy, logo and CTA) runs with ``governance.require_review``.
Without a ``model_path`` its heroes come from mintloom's tiny random-weight stand-in pipeline,
and the step says so. Publishing is refused until every group is approved: a stratified sample is
drawn (with a contact sheet), a reviewer enrolled by the organisation CA signs the approvals, and
only then does the campaign publish. A rerun finds every stage done."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mintloom.cli.console import console
from mintloom.errors import ReviewRequiredError

if TYPE_CHECKING:
    from mintloom.campaign.spec import LoadedSpec
    from mintloom.governance.publish import PublishResult
    from mintloom.provenance.keys import LocalSigner
    from mintloom.studio import Studio

REVIEWER = "demo-reviewer"
SAMPLE_SIZE = 2
SAMPLE_SEED = 2026


def hero_review_step(say: Callable[[str], None], studio: Studio, password: str) -> None:
    """Run the model-layer variant, hold its publication for review, approve, publish."""
    if importlib.util.find_spec("diffusers") is None or importlib.util.find_spec("torch") is None:
        say("model-layer step skipped: it needs the diffusion extra (pip install 'mintloom[diffusion]')")
        return
    from mintloom.pipeline import Pipeline

    root = studio.workspace.root / "hero"
    loaded = _hero_spec(root)
    say(
        "running the model-layer variant lumen-hero: its heroes come from the TINY RANDOM-WEIGHT "
        "stand-in pipeline (noise-like 64×64 pictures: the data flow, not image quality)"
    )
    pipeline = Pipeline(studio)
    logged = pipeline.generate(pipeline.plan(pipeline.gate(loaded)), workers=1)
    made = ", ".join(f"{v} {k}" for k, v in sorted(logged.summary.generated.items())) or "nothing new"
    console.print(f"    {logged.summary.planned} assets planned, made {made}")
    anchored = pipeline.anchor(pipeline.checkpoint(logged, receipts=False))
    try:
        pipeline.publish(anchored)
    except ReviewRequiredError as exc:
        why = exc.message.split(":")[0]
        console.print(f"    publishing refused before review: {why} ({_count(exc)} group(s) unreviewed)")
    groups = _review(say, studio, loaded, root, password)
    reviewed = pipeline.publish(anchored)
    console.print(
        f"    after review: terms attached to {_covered(reviewed)} assets of {groups} approved group(s)"
    )


def _hero_spec(root: Path) -> LoadedSpec:
    """The packaged lumen-hero example, one audience row, with ``governance.require_review``."""
    import yaml

    from mintloom.campaign.examples import write_example
    from mintloom.campaign.spec import load_spec

    path = write_example("lumen-hero", root, segments=1)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not doc.get("governance", {}).get("require_review"):
        doc.setdefault("governance", {})["require_review"] = True
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_spec(path)


def _count(exc: ReviewRequiredError) -> int:
    return exc.message.count("(unreviewed)")


def _covered(result: PublishResult) -> int:
    return sum(t - f for f, t, _ in result.terms_ranges)


def _review(say: Callable[[str], None], studio: Studio, loaded: LoadedSpec, root: Path, password: str) -> int:
    """Draw a sample per group, save its contact sheet, approve every group (signed)."""
    from mintloom.governance.review import contact_sheet, decide, draw
    from mintloom.provenance.review import verified_decision

    campaign = loaded.spec.campaign
    samples = draw(studio.db, campaign, size=SAMPLE_SIZE, seed=SAMPLE_SEED)
    sheet = root / "review-sheet.png"
    contact_sheet(studio.db, studio.blobs, samples, sheet)
    say(f"human-on-the-loop review: {len(samples)} group(s) sampled, contact sheet {sheet}")
    anchor = studio.keys.trust_anchor_pem()
    signer = _reviewer(studio, root, password)
    for sample in samples:
        done = verified_decision(studio.db, campaign, sample.group, anchor)
        if done is None or done.record.decision != "approve":
            decide(studio.db, sample.group, "approve", signer, anchor)
    who = [verified_decision(studio.db, campaign, s.group, anchor) for s in samples]
    signed = sorted({f"{w.name} on {w.at:%Y-%m-%d}" for w in who if w is not None})
    console.print(f"    approved {len(samples)} group(s), signed by {', '.join(signed)}")
    return len(samples)


def _reviewer(studio: Studio, root: Path, password: str) -> LocalSigner:
    """The demo reviewer's key, issued by the organisation CA once and kept in the workspace."""
    from mintloom.provenance.review import REVIEWER_UNIT, load_reviewer, save_reviewer

    folder = root / "reviewer"
    path = folder / f"{REVIEWER}.key.pem"
    if not path.exists():
        key, chain = studio.keys.issue_person(REVIEWER, REVIEWER_UNIT, password)
        path = save_reviewer(folder, REVIEWER, key, chain, password)
    return load_reviewer(path, password)
