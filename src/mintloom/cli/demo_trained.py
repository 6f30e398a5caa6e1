"""The demo's trained-model campaign: a small second campaign writes its copy with the copy
model the training step fine-tuned (its registered lineage named in the spec, so the licence gate
checks the datasets training used and that these are the registered weights), is anchored and
published, and one of its copy assets is verified: model → training run → dataset root →
contributor count, each link checked against the chain.

Runs after :func:`mintloom.cli.demo_training.training_step`; idempotent (a rerun resumes the
finished campaign and verifies again)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mintloom.cli.console import console

if TYPE_CHECKING:
    from mintloom.studio import Studio
    from mintloom.verify.report import VerifyReport

CAMPAIGN = "lumen-trained"
MODEL = "lumen-copy-lora"
"""the name the training step registered the fine-tuned copy model under"""
DATASETS = ("lumen-past-copy",)

_COPY = """lineage:
  model: {model}
  datasets: [{datasets}]
copy:
  engine: transformers-text
  model: {{model_path: "{path}", max_new_tokens: 6}}
  templates:
    note: "light your home"
"""


def trained_campaign_step(say: Callable[[str], None], studio: Studio) -> VerifyReport | None:
    """Run the second campaign with the trained copy model and verify one of its copy assets;
    None (and a note) when the training step did not train one."""
    from mintloom.provenance.training import SIDECAR_NAME

    model = studio.workspace.root / "training" / "copy-model"
    if not (model / SIDECAR_NAME).is_file():
        say("trained-model campaign skipped: the training step trained no copy model")
        return None
    say(f"campaign {CAMPAIGN} writes its copy with the trained model {MODEL} (gate: its training data)")
    _run(studio, model)
    return _verify_copy(say, studio)


def campaign_spec(model: Path) -> str:
    """The second campaign: one locale and format, its copy written by the model at ``model``."""
    from mintloom.campaign.sample import sample_spec

    base = sample_spec(campaign=CAMPAIGN, locales=("en-US",), formats=("square",), copy=False, audio=False)
    copy = _COPY.format(model=MODEL, datasets=", ".join(DATASETS), path=model.resolve().as_posix())
    return base.replace("audio:\n", copy + "audio:\n")


def _run(studio: Studio, model: Path) -> None:
    from mintloom.campaign.sample import sample_audience, write_sample_campaign
    from mintloom.pipeline import Pipeline, PipelineOptions

    spec = write_sample_campaign(model.parent / "campaign", campaign_spec(model), sample_audience(segments=1))
    result = Pipeline(studio).run(spec, PipelineOptions(workers=1))
    made = ", ".join(f"{n} {k}" for k, n in sorted(result.summary.generated.items())) or "nothing new"
    console.print(f"    licence gate passed; made {made}; lineage linked to model {MODEL}")


def _verify_copy(say: Callable[[str], None], studio: Studio) -> VerifyReport:
    """Verify one exported copy asset and print its training lineage, link by link."""
    from mintloom.chain_lookup import verify_context
    from mintloom.verify.verifier import verify_path

    text = sorted((studio.workspace.out_dir / CAMPAIGN).rglob("*.txt"))[0]
    say(f"verifying {text.name}, written by the trained model: model → run → dataset root → contributors")
    report = verify_path(text, verify_context(studio))
    for line in lineage_lines(report):
        console.print(f"    {line}")
    colour = "green" if report.verdict.value == "VERIFIED" else "red"
    console.print(f"    verdict [{colour}]{report.verdict.value}[/]")
    return report


def lineage_lines(report: VerifyReport) -> list[str]:
    """The asset's training lineage as the verify report checked it, one link a line."""
    lic = report.license
    if lic is None or lic.model is None or lic.model.training_run is None:
        return ["no trained model on chain for this asset"]
    m, run = lic.model, lic.model.training_run
    lines = [f"model #{m.id} by {m.trainer} ({m.license})"]
    if run.record_cid is None:
        return [*lines, f"training run {run.run_hash}: {run.failure or 'unchecked'}: {run.error}"]
    trust = {True: ", signer trusted", False: ", signer NOT trusted", None: ""}[run.signer_trusted]
    how = f"{run.method}, seed {run.seed}"
    lines.append(f"training run {run.record_cid}: signature valid{trust}, weights = the model's ({how})")
    for d in run.datasets:
        on_chain = "= on chain" if d.root_on_chain else "≠ on chain"
        manifest = {True: "manifest = chain entry", False: "manifest ≠ chain entry", None: "no manifest"}
        lines.append(f"dataset #{d.id}: root {d.root[:16]}… over {d.file_count} files {on_chain}")
        lines.append(f"  {d.contributors} contributor(s), {manifest[d.manifest_on_chain]}")
    if run.failure is not None:
        lines.append(f"{run.failure}: {run.error}")
    return lines
