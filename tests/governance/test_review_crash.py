"""SIGKILL mid review-regenerate: a rejected group's design is regenerated with a new seed by the
next run; that run killed mid-way (after a signed job, after a committed batch, mid-export) is
finished by a rerun, with no asset, log leaf or exported file twice, and the regenerated group is
the one a run that never crashed makes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from mintloom.faults import ENV_CRASH_AT
from mintloom.governance.review import decide, draw
from mintloom.provenance.log import LogLeaf
from mintloom.store.catalog import Catalog
from mintloom.store.reviews import Reviews
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD
from tests.governance.test_review import SQUARE, _reviewer, _run, _spec

RUN = (
    "import sys\nfrom pathlib import Path\nfrom mintloom.campaign.run import CampaignRunner\n"
    "from mintloom.campaign.spec import load_spec\n"
    "from mintloom.studio import Studio\nfrom mintloom.workspace import Workspace\n"
    "studio = Studio(Workspace(Path(sys.argv[1])), password=sys.argv[3])\n"
    "CampaignRunner(studio.run_parts(), load_spec(Path(sys.argv[2])), batch_size=2).run()\n"
)


def _run_killable(studio: Studio, spec: Path, crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop(ENV_CRASH_AT, None)
    if crash_at is not None:
        env[ENV_CRASH_AT] = crash_at
    args = [sys.executable, "-c", RUN, str(studio.workspace.root), str(spec), PASSWORD]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)


def _reject_square(studio: Studio) -> None:
    anchor = studio.keys.trust_anchor_pem()
    draw(studio.db, "rv", size=2, seed=0)
    for group in Reviews(studio.db).groups("rv"):
        decide(studio.db, group, "reject" if group == SQUARE else "approve", _reviewer(studio), anchor)


@pytest.mark.parametrize("crash_at", ["run.job:2", "run.after_commit:1", "run.export:1"])
def test_a_regenerate_killed_midway_is_finished_by_a_rerun_without_duplicates(
    studio: Studio, tmp_path: Path, crash_at: str
) -> None:
    loaded = _spec(tmp_path)
    _run(studio, loaded)
    _reject_square(studio)
    before = Reviews(studio.db).groups("rv")
    killed = _run_killable(studio, loaded.path, crash_at)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    rerun = _run_killable(studio, loaded.path, None)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    after = Reviews(studio.db).groups("rv")
    assert not set(before[SQUARE]) & set(after[SQUARE]) and len(after[SQUARE]) == len(before[SQUARE])
    catalog = Catalog(studio.db)
    rows = catalog.assets("rv")
    assert not [k for k, n in Counter(r.job_key for r in rows).items() if n > 1]
    with studio.db.session() as s:
        leaves = s.scalars(select(LogLeaf.cid)).all()
    assert len(leaves) == len(set(leaves)) == len(rows)
    # two designs of two images each (the rejected and the regenerated), the copy once
    assert Counter(r.kind for r in rows) == {"image": 8, "copy": 2}
    out = studio.workspace.out_dir / "rv"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert not [f for f in files if f.endswith(".tmp")]
    assert len(files) - sum(f.endswith(".c2pa") for f in files) == 6  # the current design and copy
    clean = Studio(Workspace.init(tmp_path / "clean"), password=PASSWORD)
    try:
        clean.ensure_keys()
        _run(clean, loaded)
        _reject_square(clean)
        _run(clean, loaded)
        assert sorted(r.job_key for r in Catalog(clean.db).assets("rv")) == sorted(r.job_key for r in rows)
    finally:
        clean.close()
