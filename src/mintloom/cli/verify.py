"""`mintloom verify PATH`: origin, licence, history and chain proof of a file or a folder of files."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mintloom.cli.console import console, progress
from mintloom.config import load_settings
from mintloom.errors import VerifyError, VerifyInputError, WorkspaceError
from mintloom.store.files import MAX_SMALL_TEXT_BYTES, read_regular
from mintloom.verify.report import (
    VERDICT_MEANING,
    CredentialSummary,
    LicenseInfo,
    TrainingRunLineage,
    Verdict,
    VerifyReport,
)

if TYPE_CHECKING:
    from mintloom.verify.verifier import VerifyContext

#: Verdicts from most to least severe: a folder's exit code is its worst file's.
SEVERITY: tuple[Verdict, ...] = (
    Verdict.TAMPERED,
    Verdict.UNTRUSTED,
    Verdict.MISSING,
    Verdict.UNKNOWN,
    Verdict.VERIFIED,
)
COLOURS: dict[Verdict, str] = {
    Verdict.VERIFIED: "bold green",
    Verdict.TAMPERED: "bold red",
    Verdict.UNTRUSTED: "bold yellow",
    Verdict.UNKNOWN: "bold magenta",
    Verdict.MISSING: "bold red",
}
_STATUS = {
    "pass": "[green]pass[/]",
    "fail": "[red]fail[/]",
    "skip": "[dim]skip[/]",
    "info": "[cyan]info[/]",
    "warn": "[yellow]warn[/]",
}
_MEANING = VERDICT_MEANING  # the verify page shows the same words


def worst(verdicts: list[Verdict]) -> Verdict:
    """The most severe verdict (VERIFIED for none)."""
    for v in SEVERITY:
        if v in verdicts:
            return v
    return Verdict.VERIFIED


def verify(
    path: Annotated[Path, typer.Argument(help="A file, or a folder whose media files are all verified.")],
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Do not consult the chain.")] = False,
    receipt: Annotated[
        Path | None, typer.Option("--receipt", help="Log receipt (JSON) of the file, if not beside it.")
    ] = None,
    trust: Annotated[
        Path | None, typer.Option("--trust", help="Trust anchors (PEM) instead of the workspace's root.")
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Processes verifying a folder (default: one per core)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, help="Threads per process (they overlap chain requests).")
    ] = 4,
    rpc: Annotated[
        str | None,
        typer.Option("--rpc", help="JSON-RPC URL to check anchors on (no workspace or key needed)."),
    ] = None,
    contracts: Annotated[
        Path | None, typer.Option("--contracts", help="deployments.json pinning the contract addresses.")
    ] = None,
    tsa_roots: Annotated[
        Path | None,
        typer.Option(
            "--tsa-roots", help="Roots (PEM) of the time-stamping authorities to trust for signing times."
        ),
    ] = None,
    dataset_proof: Annotated[
        Path | None,
        typer.Option("--dataset-proof", help="Check this dataset inclusion proof (JSON) of the file."),
    ] = None,
) -> None:
    """Verify files: Content Credential, ingredients, log receipt, chain anchor and licence.

    Exit code 0 VERIFIED, 20 TAMPERED, 21 UNTRUSTED, 22 UNKNOWN (a folder: its worst file);
    23 MISSING: a folder in the workspace's out/ lacks a file its campaign exported there.
    """
    from mintloom.verify.verifier import report_json, verify_path

    if not path.exists():
        raise VerifyError(f"no such file or folder: {path}")
    if dataset_proof is not None:
        from mintloom.cli.dataset import verify_proof

        verify_proof(path, dataset_proof, rpc=rpc, contracts=contracts)
        sys.exit(0)
    if receipt is not None and path.is_dir():
        raise VerifyError(
            "--receipt applies to one file, not a folder",
            hint="receipts beside files (NAME.receipt.json) are picked up automatically",
        )
    options = ContextOptions(offline=offline, trust=trust, rpc=rpc, contracts=contracts, tsa_roots=tsa_roots)
    ctx, where = options.build()
    if path.is_dir():
        jobs = jobs or os.cpu_count() or 1
        verdict = _verify_folder(path, ctx, options, jobs=jobs, workers=workers, as_json=as_json, where=where)
    else:
        report = verify_path(path, ctx, receipt_file=receipt, strict=True)
        verdict = report.verdict
        if as_json:
            typer.echo(report_json(report))
        else:
            _print_file(report, where)
    # sys.exit, not typer.Exit: the entry point runs click with standalone_mode=False, which turns
    # typer.Exit into a return value and would lose the verdict's exit code.
    sys.exit(verdict.exit_code)


@dataclass(frozen=True)
class ContextOptions:
    """The options that make a verification context: picklable, so that each process verifying
    a folder opens its own (catalog connection, chain reader) the same way."""

    offline: bool = False
    trust: Path | None = None
    rpc: str | None = None
    contracts: Path | None = None
    tsa_roots: Path | None = None

    def build(self) -> tuple[VerifyContext, str]:
        """The context and a line saying what it could consult."""
        ctx, where = _context(offline=self.offline, trust=self.trust, rpc=self.rpc, contracts=self.contracts)
        if self.tsa_roots is not None:
            ctx.tsa_anchors_pem = read_trust(self.tsa_roots)[0]
            where += f"; TSA roots from {self.tsa_roots}"
        return ctx, where

    def context(self) -> VerifyContext:
        return self.build()[0]


def _verify_folder(
    folder: Path,
    ctx: VerifyContext,
    options: ContextOptions,
    *,
    jobs: int,
    workers: int,
    as_json: bool,
    where: str,
) -> Verdict:
    """Verify every media file under ``folder`` (and its missing exports) on ``jobs`` processes;
    print; the worst verdict."""
    from mintloom.verify.parallel import verify_files
    from mintloom.verify.verifier import media_files, missing_exports

    files = media_files(folder)
    with progress() as bar:
        task = bar.add_task("verify", total=len(files))
        done = verify_files(
            files, ctx, options.context, jobs=jobs, threads=workers, on_done=lambda _r: bar.advance(task)
        )
        reports = list(done)
    reports += missing_exports(folder, ctx, reports)
    verdict = worst([r.verdict for r in reports])
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in reports], indent=2, ensure_ascii=False))
    else:
        _print_folder(folder, reports, verdict, where)
    return verdict


def read_trust(trust: Path) -> tuple[str, dict[int, dt.datetime]]:
    """The certificates and signer retirements of a ``--trust`` PEM file."""
    from mintloom.provenance.keys import split_trust_bundle

    raw = read_regular(trust, limit=MAX_SMALL_TEXT_BYTES, what="trust anchors", error=VerifyInputError)
    try:
        anchors = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerifyError(f"cannot read trust anchors {trust}: not UTF-8 text") from exc
    if "-----BEGIN CERTIFICATE-----" not in anchors:
        raise VerifyError(f"{trust} holds no PEM certificate")
    return split_trust_bundle(anchors)


def trust_in(ctx: VerifyContext, anchors: str, retired: dict[int, dt.datetime]) -> None:
    """Verify against ``anchors`` and their ``retired`` signers (from :func:`read_trust`) only."""
    ctx.trust_anchors_pem, ctx.retired = anchors, retired


def _context(
    *, offline: bool, trust: Path | None, rpc: str | None = None, contracts: Path | None = None
) -> tuple[VerifyContext, str]:
    """The verification context and a line saying what it could consult."""
    from mintloom.chain_lookup import verify_context
    from mintloom.cli.console import studio
    from mintloom.verify.verifier import VerifyContext

    anchors, retired = read_trust(trust) if trust is not None else (None, None)
    try:
        s = studio(read_only=True)  # verifying never migrates the catalog
        ctx = verify_context(s, offline=offline)
        where = f"workspace {s.workspace.root}"
        page = s.settings.chain.log_page_blocks
    except WorkspaceError:
        ctx = VerifyContext(chain_error=None if offline else "not in a mintloom workspace")
        where = "no workspace: only the file's own credential is checked"
        page = load_settings(None).chain.log_page_blocks  # MINTLOOM_CHAIN__LOG_PAGE_BLOCKS
    if rpc is not None and not offline:
        from mintloom.chain_lookup import ReaderLookup

        ctx.chain = ReaderLookup.connect(rpc, contracts, log_page=page)
        ctx.chain_error = None
        where += f"; chain {ctx.chain.chain_id} at {rpc}"
    elif contracts is not None:
        raise VerifyError("--contracts needs --rpc")
    if anchors is not None:
        trust_in(ctx, anchors, retired or {})
        where += f"; trust anchors from {trust}"
        where += f" ({len(ctx.retired)} retired signer(s))" if ctx.retired else ""
    elif ctx.trust_anchors_pem is None:
        where += "; no trust anchors (pass --trust PEM, e.g. a workspace's .mintloom/keys/ca.pem)"
    return ctx, where


def _verdict_line(report: VerifyReport) -> Text:
    v = report.verdict
    return Text.assemble((f" {v.value} ", f"{COLOURS[v]} reverse"), "  ", (_MEANING[v], COLOURS[v]))


def _binding(report: VerifyReport) -> str:
    if report.binding == "hard":
        return "hard (the file's own embedded or sidecar Content Credential)"
    if report.binding == "fingerprint":
        return (
            f"matched by fingerprint to CID {report.matched_cid} "
            f"(pHash distance {report.fingerprint_distance}): metadata stripped or re-encoded"
        )
    return "none"


def _print_file(report: VerifyReport, where: str) -> None:
    console.print(Panel(_verdict_line(report), title=report.file, expand=False))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    facts.add_row("media type", report.media_type or "-")
    facts.add_row("cid", report.cid or "-")
    facts.add_row("binding", _binding(report))
    if report.signed_at is not None:
        facts.add_row("signed at", f"{report.signed_at:%Y-%m-%d %H:%M:%S}Z (trusted RFC 3161 time-stamp)")
    if report.credential is not None:
        _credential_rows(facts, report.credential)
    _origin_rows(facts, report.origin)
    _history_rows(facts, report)
    if report.license is not None:
        _license_rows(facts, report.license, report.origin)
    console.print(facts)
    checks = Table("check", "result", "detail", title="checks", title_justify="left")
    for c in report.checks:
        checks.add_row(c.name, _STATUS.get(c.status, c.status), c.detail)
    console.print(checks)
    console.print(f"[dim]{where}[/]")


_CREDENTIAL_STATUS = {
    "trusted": "[green]valid, trusted signer[/]",
    "valid-untrusted": "[yellow]valid but untrusted signer[/]",
    "invalid": "[red]invalid[/]",
    "tampered": "[red]tampered: content or claim altered after signing[/]",
    "unreadable": "[red]unreadable[/]",
}


def _credential_rows(facts: Table, c: CredentialSummary) -> None:
    """Any signer's credential: its state, claim generator, signer, signing time and actions."""
    facts.add_row("credential", _CREDENTIAL_STATUS[c.status])
    facts.add_row("claim generator", c.signer.claim_generator or "-")
    facts.add_row("signer", c.signer.subject or "-")
    facts.add_row("issued by", c.signer.issuer or "-")
    facts.add_row("signed at", c.signer.signed_at or "- (no signing time in the credential)")
    for a in c.actions:
        extra = ", ".join(x for x in (a.source_type, a.software_agent and f"by {a.software_agent}") if x)
        facts.add_row("action", a.action + (f" ({extra})" if extra else ""))


def _origin_rows(facts: Table, o: dict[str, Any]) -> None:
    """What the generation record says: engine, model, datasets, campaign."""
    if o:
        facts.add_row("engine", f"{o.get('engine')} ({o.get('source_type')})")
        facts.add_row(
            "model", f"{o.get('model') or '-'}" + (f" {o['model_hash']}" if o.get("model_hash") else "")
        )
        if o.get("recipe"):
            facts.add_row("recipe", f"{o['recipe']} (procedural: no trained model ran)")
        facts.add_row("datasets", ", ".join(o.get("datasets") or []) or "-")
        facts.add_row(
            "campaign", f"{o.get('campaign')}  locale {o.get('locale')}  format {o.get('format') or '-'}"
        )
        facts.add_row("template", str(o.get("template_hash") or "-"))
        facts.add_row("seed commitment", str(o.get("seed_commitment") or "-"))
        facts.add_row("ai training", str(o.get("ai_training")))


def _history_rows(facts: Table, report: VerifyReport) -> None:
    """Actions, ingredients, lineage steps and the log receipt."""
    actions = [h["action"] for h in report.history if "action" in h]
    ingredients = [h for h in report.history if "ingredient" in h]
    if actions and report.credential is None:
        facts.add_row("actions", " → ".join(actions))
    for ing in ingredients:
        ok = "[green]valid[/]" if ing.get("valid") else "[red]invalid[/]"
        by = f" signed by {ing['signer']}" if ing.get("signer") else ""
        facts.add_row("ingredient", f"{ing['ingredient']} ({ing['relationship']}){by} {ok}")
    for step in (h for h in report.history if "derived_from" in h):
        facts.add_row("lineage", f"{step['relation']} from {step['asset'] or ''} {step['derived_from']}")
    if report.receipt:
        r = report.receipt
        anchor = r.get("anchor")
        tx = f"tx {anchor['tx_hash']} (chain {anchor['chain_id']})" if anchor else "not anchored"
        facts.add_row("receipt", f"leaf {r['leaf_index']} of {r['tree_size']}, root {r['root'][:16]}…, {tx}")


def _model_role(origin: dict[str, Any]) -> str:
    """What the model registered on chain was for this asset: a procedural asset names no model,
    so its lineage entry is the recipe it ran."""
    return "recipe" if origin.get("source_type") == "algorithmicMedia" else "model"


def _license_rows(facts: Table, lic: LicenseInfo, origin: dict[str, Any]) -> None:
    """Registration, licence terms and the on-chain model and dataset lineage."""
    facts.add_row("registered", f"yes, token {lic.token_id} owned by {lic.owner}" if lic.registered else "no")
    for sale in lic.sales:
        seller = f"from {sale.seller}" if sale.seller else "from the brand's campaign listing"
        facts.add_row("sold", f"to {sale.buyer} {seller} for {sale.price} wei (block {sale.block})")
    if lic.ugc_reward is not None:
        r = lic.ugc_reward
        pool = "" if r.pool is None else f" (paid by family pool {r.pool}, proven in this log)"
        facts.add_row(
            "UGC reward", f"{r.amount} wei to {r.creator}, derivative of token {r.parent_token}{pool}"
        )
    if lic.terms_ids:
        facts.add_row("licence terms", ", ".join(str(t) for t in lic.terms_ids))
    for t in lic.terms:
        facts.add_row("", ", ".join(f"{k}={v}" for k, v in t.model_dump().items()))
    if lic.model is not None:
        m = lic.model
        facts.add_row(f"{_model_role(origin)} on chain", f"#{m.id} by {m.trainer} ({m.license})")
        if m.training_run is not None:
            _training_rows(facts, m.training_run)
    for d in lic.datasets:
        ai = "AI training allowed" if d.ai_training_allowed else "no AI training"
        facts.add_row("dataset on chain", f"#{d.id} by {d.curator} ({d.license}, {ai})")


def _training_rows(facts: Table, run: TrainingRunLineage) -> None:
    """Model → training run → dataset root → contributor count, each with what proves it."""
    named = f"{run.failure}: " if run.failure is not None else ""
    if run.error is not None and run.record_cid is None:
        facts.add_row("training run", f"{run.run_hash} (on chain): [red]{named}{run.error}[/]")
        return
    signed = "signature valid" if run.signature_valid else "[red]signature invalid[/]"
    signed += {True: " by a trusted key", False: " [red]by an untrusted key[/]", None: ""}[run.signer_trusted]
    weights = "weights match the model" if run.weights_match else "[red]other weights[/]"
    facts.add_row("training run", f"{run.record_cid}: {run.method}, seed {run.seed}, {signed}, {weights}")
    for d in run.datasets:
        root = "= root on chain" if d.root_on_chain else "[red]≠ root on chain[/]"
        facts.add_row("trained on", f"dataset #{d.id}: root {d.root} over {d.file_count} files {root}")
        manifest = {
            True: "manifest = chain entry",
            False: "[red]manifest ≠ chain entry[/]",
            None: "no manifest here",
        }
        facts.add_row("", f"{d.contributors} contributor(s), {manifest[d.manifest_on_chain]}")
    if run.error is not None:
        facts.add_row("", f"[red]{named}{run.error}[/]")


def _print_folder(folder: Path, reports: list[VerifyReport], verdict: Verdict, where: str) -> None:
    counts = Counter(r.verdict for r in reports)
    summary = Table("verdict", "files", title=f"{len(reports)} files in {folder}", title_justify="left")
    for v in SEVERITY:
        if counts.get(v):
            summary.add_row(Text(v.value, COLOURS[v]), str(counts[v]))
    console.print(summary)
    files = Table("file", "verdict", "binding", "why", title="files", title_justify="left")
    for r in reports:
        failed = [c.detail for c in r.checks if c.status == "fail"]
        name = str(Path(r.file).relative_to(folder)) if Path(r.file).is_relative_to(folder) else r.file
        files.add_row(name, Text(r.verdict.value, COLOURS[r.verdict]), r.binding, failed[0] if failed else "")
    console.print(files)
    console.print(Text.assemble("overall ", (f" {verdict.value} ", f"{COLOURS[verdict]} reverse")))
    console.print(f"[dim]{where}[/]")
