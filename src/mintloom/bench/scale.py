"""`make bench-scale`: one generated campaign at 1k, 5k and 20k assets, end to end.

Per size: a campaign of small formats (a 300x250 master and its 728x90 variant per audience
row; every 10th row duplicates its predecessor's values) is planned, run until it is killed
(SIGKILL at the job half-way through), resumed to the end through the pipeline (generate the
rest, checkpoint, deploy, anchor, publish on the embedded node) and its folder verified offline
the way ``mintloom verify DIR`` does it (a process per core). Each run is a child process, so its
peak RSS is its own. Reported per size: assets/s over both runs, peak RSS of the resuming process,
catalog size, the rework (jobs done before the kill that the resume had to do again) and the wall
seconds of each phase (set-up, plan, run to the kill, resume, deploy, anchor, publish, verify).
Planning 100k audience rows is timed on its own, and the wall clock of the whole is measured.
Results go to the ``scale`` section of ``bench/results.json`` (the README table shows them); not
part of ``make bench``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mintloom.bench import Figure
from mintloom.bench.compare import PASSWORD, audience_csv
from mintloom.bench.peer import load_note
from mintloom.campaign.plan import plan_campaign
from mintloom.campaign.sample import MESSAGES, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.engines.base import engine_registry
from mintloom.errors import MintloomError
from mintloom.faults import ENV_CRASH_AT
from mintloom.progress import Progress, Stage
from mintloom.workspace import STATE_DIR

if TYPE_CHECKING:
    from mintloom.verify.verifier import VerifyContext

SIZES = (1_000, 5_000, 20_000)
PLAN_ROWS = 100_000
BATCH = 16
"""Jobs per catalog commit: a kill loses at most this many (plus those in flight)."""
WORKERS = 2


def spec_text(name: str = "scale") -> str:
    head, body, cta = MESSAGES["en-US"]
    return (
        f"campaign: {name}\nseed: 3\nbrand:\n  name: Lumen\n"
        '  palette: ["#1d3557", "#e63946", "#f1faee", "#a8dadc"]\n  logo: logo.png\n  messages:\n'
        f'    en-US:\n      headline: "{head}"\n      body: "{body}"\n      cta: "{cta}"\n'
        "audience: audience.csv\nlocales: [en-US]\nformats: [medium-rectangle, leaderboard]\n"
        "master: medium-rectangle\naudio:\n  enabled: false\n"
    )


@dataclass
class SizeResult:
    assets: int
    assets_per_s: float
    seconds_per_asset: float
    peak_rss_mb: float
    """Of the resumed run's process (run, anchor, publish, verify's dispatch); without its worker
    processes (generation's and, from 300 files, verify's)."""
    run_peak_rss_mb: float
    """The same before verifying: run, anchor and publish."""
    work_peak_rss_mb: float
    """The same after the organisation keys are unlocked (their scrypt KDF alone takes 128 MiB
    for a moment, which hid what the campaign's size adds): the figure the RSS target uses."""
    catalog_mb: float
    plan_s: float
    resume_s: float
    killed_after_jobs: int
    committed_at_kill: int
    rework_pct: float
    verify_files_per_s: float
    verified: int
    cpu_s_per_asset: float = 0.0
    """CPU seconds of both runs (their processes and workers) per asset: what the size costs on
    an idle machine, where the wall clock on this shared one mostly waits for a core."""
    phase_s: dict[str, float] = field(default_factory=dict)
    """Wall seconds per phase, in order (see :data:`PHASES`): where the size's time goes."""


PHASES = (
    "setup", "plan", "run_to_kill", "start", "resume", "deploy", "anchor", "publish", "stop", "verify"
)  # fmt: skip
"""``setup``: workspace and keys; ``start``: the resuming process outside its phases (imports,
key unlock, exit); ``resume``: load, plan and generate the rest, checkpoint; ``stop``: closing the
run's studio (its embedded node); ``verify``: the whole folder."""


def _child(args: list[str], crash_at: str | None = None) -> tuple[int, float, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_CRASH_AT}
    if crash_at is not None:
        env[ENV_CRASH_AT] = crash_at
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mintloom.bench.scale", "--child", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, time.perf_counter() - t0, proc.stdout + proc.stderr


def measure(n_assets: int, work: Path, keys: Path | None = None) -> SizeResult:
    """One size end to end (see the module docstring), in a workspace given the organisation keys
    in ``keys`` (the first size's: an organisation makes its keys once, not per campaign)."""
    from mintloom.store.catalog import Catalog
    from mintloom.studio import Studio
    from mintloom.workspace import Workspace

    rows = n_assets // 2
    t0 = time.perf_counter()
    spec = write_sample_campaign(work / "campaign", spec_text(), audience_csv(rows, duplicate_every=10))
    ws = Workspace.init(work / "ws")
    if keys is not None:
        shutil.copytree(keys, ws.keys_dir, dirs_exist_ok=True)
    with Studio(ws, password=PASSWORD) as studio:
        studio.ensure_keys()
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    plan = plan_campaign(load_spec(spec), engine_registry())
    plan_s = time.perf_counter() - t0
    half = len(plan) // 2
    cpu0 = _children_cpu_s()
    code, crash_s, out = _child(["run", str(work / "ws"), str(spec)], crash_at=f"run.job:{half}")
    if code != -9:
        raise MintloomError(f"the run meant to be killed at job {half} ended with {code}: {out[-2000:]}")
    with Studio(Workspace.find(work / "ws"), password=PASSWORD) as studio:
        committed = len(Catalog(studio.db).done_jobs("scale"))
    code, finish_s, out = _child(["finish", str(work / "ws"), str(spec)])
    if code != 0:
        raise MintloomError(f"the resumed run failed ({code}): {out[-2000:]}")
    child = json.loads(out.strip().splitlines()[-1])
    phases = {"setup": setup_s, "plan": plan_s, "run_to_kill": crash_s}
    phases |= {k: float(v) for k, v in child["phases"].items()}
    phases["start"] = finish_s - float(child["run_s"]) - phases["stop"] - phases["verify"]
    cpu = _children_cpu_s() - cpu0
    catalog = work / "ws" / ".mintloom"
    size = sum(p.stat().st_size for p in catalog.glob("catalog*") if p.is_file())
    total = crash_s + float(child["run_s"])
    return SizeResult(
        assets=len(plan),
        assets_per_s=len(plan) / total,
        seconds_per_asset=total / len(plan),
        peak_rss_mb=float(child["peak_rss_kb"]) / 1024,
        run_peak_rss_mb=float(child["run_peak_rss_kb"]) / 1024,
        work_peak_rss_mb=float(child["work_peak_rss_kb"]) / 1024,
        catalog_mb=size / 2**20,
        plan_s=plan_s,
        resume_s=float(child["run_s"]),
        killed_after_jobs=half,
        committed_at_kill=committed,
        rework_pct=100 * (half - committed) / half,
        verify_files_per_s=float(child["verify_files_per_s"]),
        verified=int(child["verified"]),
        cpu_s_per_asset=cpu / len(plan),
        phase_s={k: phases.get(k, 0.0) for k in PHASES},
    )


def _children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children (and theirs)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def child_main(mode: str, ws: Path, spec: Path) -> int:
    """In a child process: ``run`` (to be killed) or ``finish`` (resume + anchor + publish, then,
    the run's studio closed and its embedded node stopped as when its command ends, verify)."""
    from mintloom.pipeline import Pipeline, PipelineOptions
    from mintloom.studio import Studio
    from mintloom.workspace import Workspace

    with Studio(Workspace.find(ws), password=PASSWORD) as studio:
        studio.run_parts()  # unlocks the keys (scrypt), then the peak is reset to what is resident
        unlocked = peak_rss_kb()
        reset = reset_peak_rss()
        clock = StageClock()
        options = PipelineOptions(
            workers=WORKERS, batch_size=BATCH, anchor=mode == "finish", publish=mode == "finish"
        )
        Pipeline(studio, progress=clock).run(spec, options)
        run_s = time.perf_counter() - clock.t0
        run_work = peak_rss_kb()
    stop_s = time.perf_counter() - clock.t0 - run_s
    t0 = time.perf_counter()
    files, verified = verify_folder(ws)
    verify_s = time.perf_counter() - t0
    doc = {
        "run_s": run_s,
        "verify_s": verify_s,
        "phases": clock.phases() | {"stop": stop_s, "verify": verify_s},
        "verify_files_per_s": files / verify_s,
        "verified": verified,
        "run_peak_rss_kb": max(unlocked, run_work),
        "peak_rss_kb": max(unlocked, peak_rss_kb()),
        "work_peak_rss_kb": peak_rss_kb() if reset else max(unlocked, peak_rss_kb()),
    }
    print(json.dumps(doc))
    return 0 if verified == files else 1


def verify_folder(ws: Path) -> tuple[int, int]:
    """Files and VERIFIED files of the campaign's folder, verified as ``mintloom verify DIR
    --offline --jobs 2`` does it: a read-only studio, a process per core with its own context."""
    from mintloom.chain_lookup import verify_context
    from mintloom.studio import Studio
    from mintloom.verify.parallel import verify_files
    from mintloom.verify.report import Verdict
    from mintloom.verify.verifier import media_files
    from mintloom.workspace import Workspace

    files = verified = 0  # counted as they come: a list of every report grew with the campaign
    with Studio(Workspace.find(ws), read_only=True) as studio:
        ctx = verify_context(studio, offline=True)
        factory = functools.partial(offline_context, studio.workspace.root)
        paths = media_files(studio.workspace.out_dir / "scale")
        for r in verify_files(paths, ctx, factory, jobs=WORKERS):
            files += 1
            verified += r.verdict is Verdict.VERIFIED
    return files, verified


class StageClock:
    """A progress sink that notes when each pipeline stage reports first and last."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.first: dict[Stage, float] = {}
        self.last: dict[Stage, float] = {}

    def __call__(self, event: Progress, /) -> None:
        now = time.perf_counter()
        self.first.setdefault(event.stage, now)
        self.last[event.stage] = now

    def phases(self) -> dict[str, float]:
        """Wall seconds: ``resume`` up to the end of the checkpoint, then each chain stage."""
        out = {"resume": self.last.get(Stage.CHECKPOINT, self.t0) - self.t0}
        for stage in (Stage.DEPLOY, Stage.ANCHOR, Stage.PUBLISH):
            out[stage.value] = self.last.get(stage, 0.0) - self.first.get(stage, 0.0)
        return out


def offline_context(root: Path) -> VerifyContext:
    """What ``mintloom verify --offline`` consults in the workspace at ``root``, opened read-only
    (each verify process opens its own; it stays open for the process's life)."""
    from mintloom.chain_lookup import verify_context
    from mintloom.studio import Studio
    from mintloom.workspace import Workspace

    return verify_context(Studio(Workspace.find(root), read_only=True), offline=True)


def peak_rss_kb() -> int:
    """This process's peak resident memory in KB: VmHWM, since ``ru_maxrss`` carries over exec the
    peak of the process a child was forked from (the bench's parent, which planned 100k rows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs`` 5); False if refused.
    The whole-process peak is read before, in :func:`child_main`."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def plan_seconds(rows: int, work: Path) -> float:
    """Seconds to load and plan a spec of ``rows`` audience rows (one format: one job a row)."""
    text = spec_text("plan").replace(
        "formats: [medium-rectangle, leaderboard]", "formats: [medium-rectangle]"
    )
    spec = write_sample_campaign(work / "plan", text, audience_csv(rows, duplicate_every=10))
    t0 = time.perf_counter()
    plan = plan_campaign(load_spec(spec), engine_registry())
    elapsed = time.perf_counter() - t0
    if len(plan) != rows:
        raise MintloomError(f"planning {rows} rows made {len(plan)} jobs")
    return elapsed


def report(sizes: dict[int, SizeResult], plan_s: float, plan_rows: int, wall_s: float) -> dict[str, object]:
    """The ``scale`` section of bench/results.json: per size, the targets as ratios between sizes,
    and ``wall_s``, the whole run's wall clock so far, as figures (the README table shows them
    beside ``make bench``'s)."""
    ordered = sorted(sizes)
    small, large = sizes[ordered[0]], sizes[ordered[-1]]
    middle = sizes[ordered[-2]] if len(ordered) > 1 else small
    figures = [
        Figure(f"scale_assets_per_s_{n}", r.assets_per_s, "assets/s", note=_size_note(r))
        for n, r in sizes.items()
    ]
    figures += [Figure(f"scale_work_peak_rss_mb_{n}", r.work_peak_rss_mb, "MB") for n, r in sizes.items()]
    figures += [
        Figure(
            f"scale_cost_per_asset_{ordered[-1]}_vs_{ordered[0]}",
            large.seconds_per_asset / small.seconds_per_asset,
            "x",
            1.2,
            "<=",
            "seconds per asset (killed run + resumed run through publish), largest size / smallest",
        ),
        Figure(
            f"scale_peak_rss_{ordered[-1]}_vs_{middle.assets}",
            large.work_peak_rss_mb / middle.work_peak_rss_mb,
            "x",
            1.3,
            "<=",
            "peak RSS of the resuming process after its keys are unlocked (run, anchor, publish, verify's "
            "dispatch; its worker processes aside)",
        ),
        Figure(
            "scale_resume_rework_pct_worst",
            max(s.rework_pct for s in sizes.values()),
            "%",
            5,
            "<=",
            "jobs done before a SIGKILL at half-way that the resumed run did again, worst size",
        ),
        Figure(f"scale_plan_s_{plan_rows}_rows", plan_s, "s", 10, "<=", "load + plan of a CSV audience"),
        Figure(
            "scale_wall_minutes",
            wall_s / 60,
            "min",
            20,
            "<=",
            f"measured: wall clock of the whole run, from its start to the last size's verify: planning "
            f"{plan_rows} rows, then sizes {', '.join(str(n) for n in sizes)} (each: set-up, plan, run "
            f"killed at half, resume, deploy, anchor, publish, verify on {WORKERS} processes)",
        ),
    ]
    return {
        "sizes": {str(n): asdict(r) for n, r in sizes.items()},
        "figures": {f.name: f.as_json() for f in figures},
        "note": f"{WORKERS} workers, commits every {BATCH} jobs; verify offline; {load_note()}",
    }


def _size_note(r: SizeResult) -> str:
    return (
        f"{r.assets} assets: plan {r.plan_s:.1f} s, killed at job {r.killed_after_jobs} "
        f"({r.committed_at_kill} committed, rework {r.rework_pct:.1f}%), resume {r.resume_s:.0f} s, "
        f"peak RSS {r.peak_rss_mb:.0f} MB (with the key unlock), catalog {r.catalog_mb:.1f} MB, "
        f"verify {r.verify_files_per_s:.1f} files/s, {r.verified} verified, "
        f"{r.cpu_s_per_asset * 1000:.0f} CPU ms per asset; wall s per phase: "
        + ", ".join(f"{k} {v:.1f}" for k, v in r.phase_s.items())
    )


def write_section(out: Path, section: dict[str, object]) -> None:
    """Put ``section`` under ``scale`` in the results file, keeping ``make bench``'s figures."""
    doc = json.loads(out.read_text()) if out.is_file() else {}
    doc["scale"] = section
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")


def _section(
    sizes: dict[int, SizeResult],
    plan_s: float,
    plan_rows: int,
    failed: dict[str, str],
    *,
    pending: list[int],
    wall_s: float,
) -> dict[str, object]:
    """The results so far; ``pending`` names the sizes still to run (empty once complete)."""
    doc = report(sizes, plan_s, plan_rows, wall_s) if sizes else {"sizes": {}, "figures": {}}
    doc["errors"] = dict(failed)
    doc["pending"] = list(pending)
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mintloom.bench.scale")
    ap.add_argument("--sizes", type=int, nargs="*", default=list(SIZES), help="assets per campaign")
    ap.add_argument("--plan-rows", type=int, default=PLAN_ROWS)
    ap.add_argument("--out", type=Path, default=Path("bench/results.json"))
    ap.add_argument("--child", nargs=3, metavar=("MODE", "WS", "SPEC"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_main(args.child[0], Path(args.child[1]), Path(args.child[2]))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mintloom-scale-") as tmp:
        work = Path(tmp)
        plan_s = plan_seconds(args.plan_rows, work)
        sizes: dict[int, SizeResult] = {}
        failed: dict[str, str] = {}
        keys: Path | None = None
        doc = _section(
            sizes, plan_s, args.plan_rows, failed, pending=args.sizes, wall_s=time.perf_counter() - start
        )
        for i, n in enumerate(args.sizes):
            print(f"bench-scale: {n} assets ...", file=sys.stderr, flush=True)
            try:
                sizes[n] = measure(n, work / str(n), keys)
                keys = keys or work / str(n) / "ws" / STATE_DIR / "keys"
            except MintloomError as exc:  # reported, not hidden: the sizes that ran still count
                failed[str(n)] = " / ".join(exc.message.splitlines()[-2:])
            wall_s = time.perf_counter() - start
            doc = _section(sizes, plan_s, args.plan_rows, failed, pending=args.sizes[i + 1 :], wall_s=wall_s)
            write_section(args.out, doc)  # after every size: a run stopped at 20k keeps 1k and 5k
    print(json.dumps(doc, indent=2))
    figures = doc["figures"]
    met = isinstance(figures, dict) and all(f.get("ok", True) for f in figures.values())
    return 0 if met and not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
