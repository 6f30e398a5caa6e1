"""Crash safety of `mintloom run --no-publish`: the runner is SIGKILLed (``MINTLOOM_CRASH_AT``) at
every offline phase boundary, then run again; the workspace must end exactly as if nothing had
happened. Also: worker processes die with a killed runner."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import distinct, func, select
from typer.testing import CliRunner

import mintloom
from mintloom.campaign.plan import Plan
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_audience, sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.cli.main import app
from mintloom.provenance.log import LogLeaf, ReceiptRow
from mintloom.store.catalog import AssetRow, JobRow
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD

from .conftest import write_campaign

# 1 segment × 2 locales × 2 formats = 4 images; 2 copy jobs rendering the same text (one asset,
# shipped twice with its sidecar); one sound logo: 7 files, 6 assets.
SPEC = sample_spec(formats=("square", "leaderboard")).replace(
    'note: "{{ name }}: {{ offer }}% until {{ deadline | date }}"', 'note: "Lumen: warm up"'
)
AUDIENCE = sample_audience(1)
EXTENSION = {"image": "png", "copy": "txt", "audio": "wav"}
SRC = str(Path(mintloom.__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with its organisation keys (slow to make), copied by each test."""
    ws = Workspace.init(tmp_path_factory.mktemp("keyed") / "ws")
    studio = Studio(ws, password=PASSWORD)
    studio.ensure_keys()
    studio.close()
    return ws.root


def new_workspace(keyed: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(keyed, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def mintloom_run(
    ws: Path, spec: Path, *args: str, crash: str | None = None, tag: str = ""
) -> subprocess.Popen[bytes]:
    """A real `mintloom run SPEC --no-publish` in a subprocess of its own workspace."""
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(ws), "MINTLOOM_KEY_PASSWORD": PASSWORD,
           "PYTHONPATH": SRC, "MINTLOOM_TEST_TAG": tag}  # fmt: skip
    env.pop("MINTLOOM_CRASH_AT", None)
    if crash is not None:
        env["MINTLOOM_CRASH_AT"] = crash
    cmd = [sys.executable, "-m", "mintloom.cli.main", "run", str(spec), "--no-publish", *args]
    return subprocess.Popen(cmd, env=env, cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def verify_out(ws: Workspace) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(app, ["verify", "--offline", "--json", str(ws.out_dir)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, json.loads(result.stdout)


def assert_recovered(studio: Studio, plan: Plan) -> None:
    """Every planned file is there and verifies, nothing stale is left, and the log holds each
    asset once under a checkpoint that covers it, with a receipt per asset."""
    out = studio.workspace.out_dir
    planned = {f"tiny/{j.title}.{EXTENSION[j.kind]}" for j in plan.jobs}
    code, reports = verify_out(studio.workspace)
    verdicts = {Path(str(r["file"])).relative_to(out).as_posix(): r["verdict"] for r in reports}
    assert verdicts == dict.fromkeys(planned, "VERIFIED") and code == 0, verdicts
    assert list(out.rglob("*.tmp")) == []
    with studio.db.session() as s:
        assets = s.scalar(select(func.count()).select_from(AssetRow))
        leaves = s.scalar(select(func.count()).select_from(LogLeaf))
        distinct_leaves = s.scalar(select(func.count(distinct(LogLeaf.cid))))
        receipts = s.scalar(select(func.count()).select_from(ReceiptRow))
        jobs = s.scalar(select(func.count()).select_from(JobRow))
    studio.log.refresh()
    checkpoint = studio.log.latest_checkpoint()
    assert assets == leaves == distinct_leaves == receipts == studio.log.size == 6
    assert jobs == len(plan.jobs) == 7
    assert checkpoint is not None and checkpoint.size == studio.log.size
    assert checkpoint.root == studio.log.root().hex()


@pytest.mark.parametrize(
    ("point", "verify_before"),
    [
        ("run.job:5", 0),  # mid-generation: images logged and exported, one copy signed only
        ("run.after_commit", 23),  # images committed, not one exported
        ("run.export:6", 23),  # mid-export: a sidecar written, its text only as a temp file
        ("run.before_checkpoint", 0),  # everything logged and exported, no checkpoint
        ("run.before_receipts", 0),  # checkpoint signed, no receipt issued
    ],
)
def test_killed_run_recovers_on_rerun(
    keyed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str, verify_before: int
) -> None:
    """SIGKILL at ``point``; `verify out/` must not call an incomplete folder fine, and one rerun
    must leave the workspace exactly as an uninterrupted run would."""
    ws = new_workspace(keyed, tmp_path)
    spec = write_campaign(tmp_path / "campaign", SPEC, AUDIENCE)
    proc = mintloom_run(ws.root, spec, crash=point)
    output = proc.communicate(timeout=300)[0].decode(errors="replace")
    assert proc.returncode == -signal.SIGKILL, output
    assert bool(list(ws.out_dir.rglob("*.tmp"))) == point.startswith("run.export")

    monkeypatch.setenv("MINTLOOM_WORKSPACE", str(ws.root))  # for the verify CLI
    assert verify_out(ws)[0] == verify_before
    studio = Studio(ws, password=PASSWORD)
    try:
        runner = CampaignRunner(studio.run_parts(), load_spec(spec))
        summary = runner.run()
        assert summary.planned == 7 and (summary.restored > 0) == (verify_before == 23)
        assert_recovered(studio, runner.plan())
        again = CampaignRunner(studio.run_parts(), load_spec(spec)).run()  # and a third run changes nothing
        assert (again.skipped, again.new_assets, again.restored) == (7, 0, 0)
    finally:
        studio.close()


# --- workers die with their parent ------------------------------------------------------------
def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie may wait for a lazy init)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def _tagged(tag: str) -> set[int]:
    """Processes whose environment carries ``MINTLOOM_TEST_TAG=tag`` (a run and its workers)."""
    needle = f"MINTLOOM_TEST_TAG={tag}".encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


def _gone_within(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return {p for p in pids if _alive(p)}


def test_workers_die_when_the_run_is_killed(keyed: Path, tmp_path: Path) -> None:
    """SIGKILL a `mintloom run -w 2` mid-generation: its worker processes must not outlive it."""
    ws = new_workspace(keyed, tmp_path)
    spec = write_campaign(tmp_path / "campaign")  # 17 jobs: generation lasts a while
    tag = uuid.uuid4().hex
    proc = mintloom_run(ws.root, spec, "-w", "2", tag=tag)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and proc.poll() is None and time.monotonic() < deadline:
            workers |= _tagged(tag) - {proc.pid}  # the workers, by pid, while the run generates
            time.sleep(0.02)
        time.sleep(0.3)
        assert proc.poll() is None and len(workers) == 2, proc.communicate()[0].decode(errors="replace")
        assert all(_alive(p) for p in workers)
        proc.kill()
        proc.wait(timeout=30)
        assert _gone_within(workers, 5.0) == set()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for pid in workers | _tagged(tag):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


WATCHED_CHILD = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
pid = os.fork()
if pid == 0:
    parent = os.getppid()
    from mintloom.campaign.execute import watch_parent
    watch_parent(parent, interval=0.05)
    print("watching", flush=True)
    time.sleep(60)
    os._exit(0)
print(pid, flush=True)
time.sleep(60)
"""


def test_parent_watch_fallback_ends_an_orphan(tmp_path: Path) -> None:
    """Where prctl is unavailable, the worker's watch thread ends it once its parent is gone."""
    parent = subprocess.Popen([sys.executable, "-c", WATCHED_CHILD, SRC], stdout=subprocess.PIPE)
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert parent.stdout.readline() == b"watching\n"
        time.sleep(0.2)
        assert _alive(child)  # the watch does not end a child whose parent lives
        parent.kill()
        parent.wait(timeout=30)
        assert _gone_within({child}, 5.0) == set()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=30)
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)
