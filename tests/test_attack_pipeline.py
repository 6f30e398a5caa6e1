"""Hostile-user attacks on the pipeline: the anchor stage failing after the checkpoint (receipts
are then written by the anchor stage only), and what a user can do in the gap."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.ledger.node import NodeInfo
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("anvil")


def snapshot(root: Path) -> dict[str, object]:
    """Every workspace file's mtime and bytes; the catalog by its logical content (SQLite itself
    folds its write-ahead log into the file when a connection closes). The running anvil dumps its
    own state file every second, so that one file is left out; the chain journal is not."""
    files: dict[str, object] = {
        str(p): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith("catalog.db") and p.name != "anvil-state.json"
    }
    with sqlite3.connect(root / ".mintloom" / "catalog.db") as conn:
        files["catalog"] = list(conn.iterdump())
    return files


def cli(studio: Studio, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "MINTLOOM_WORKSPACE": str(studio.workspace.root), "MINTLOOM_KEY_PASSWORD": PASSWORD,
            **env}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], env=full,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_a_run_whose_anchoring_dies_still_hands_out_receipts_and_anchors_them_later(
    studio: Studio, anvil: NodeInfo, tmp_path: Path
) -> None:
    """`mintloom run` SIGKILLed inside the anchor stage (after the checkpoint, which skips
    receipts because anchoring follows): `mintloom receipt CID` must still work before any
    anchor (as it did when receipts were written at checkpoint time) without writing, and a
    later `mintloom anchor` leaves every asset with exactly one anchored receipt."""
    spec = write_sample_campaign(tmp_path / "c", sample_spec(), sample_audience(1))
    killed = cli(studio, "run", str(spec), MINTLOOM_CRASH_AT="tx-journaled-anchor")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assets = Catalog(studio.db).assets("tiny")
    assert assets
    before = snapshot(studio.workspace.root)
    for a in assets:
        shown = cli(studio, "receipt", a.cid)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert f'"cid": "{a.cid}"' in shown.stdout and '"anchor": null' in shown.stdout
    assert snapshot(studio.workspace.root) == before

    anchored = cli(studio, "anchor")
    assert anchored.returncode == 0, anchored.stdout + anchored.stderr
    studio.log.refresh()
    for a in assets:
        r = studio.log.receipt(a.cid)
        assert r is not None and r.anchor is not None


@pytest.mark.parametrize(
    "point",
    [
        "pipeline.gated",
        "pipeline.planned",
        "run.job:3",
        "pipeline.checkpointed",
        "pipeline.anchored",
        "tx-sent-attach-terms",
        "tx-journaled-assign-split",
    ],
)
def test_mintloom_run_killed_at_each_stage_boundary_finishes_on_rerun_sending_nothing_twice(
    studio: Studio, anvil: NodeInfo, tmp_path: Path, point: str
) -> None:
    """SIGKILL `mintloom run` (anchor + publish) at a stage boundary, then run it again: every
    asset verifies, has exactly one receipt and it is anchored, and each transaction kind
    (anchor, terms, split) is in the journal once."""
    spec = write_sample_campaign(tmp_path / "c", sample_spec(), sample_audience(1))
    killed = cli(studio, "run", str(spec), MINTLOOM_CRASH_AT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    again = cli(studio, "run", str(spec))
    assert again.returncode == 0, again.stdout + again.stderr
    studio.log.refresh()
    assets = Catalog(studio.db).assets("tiny")
    n = studio.log.size
    assert len(assets) == n == 9  # 1 segment × 2 locales × 3 formats, 2 copy, 1 sound logo
    txs = {r.anchor.tx_hash for a in assets if (r := studio.log.receipt(a.cid)) and r.anchor}
    assert len(txs) == 1, txs
    with sqlite3.connect(studio.workspace.catalog_path) as conn:
        assert conn.execute("select count(*) from log_receipts").fetchone()[0] == n
    journal = studio.chain.journal
    for kind in (f"anchor:{n}", f"attach-terms:tiny:{n}", f"assign-split:tiny:{n}"):
        assert len(journal.entries(studio.chain.chain_id, kind)) == 1, kind
    checked = cli(studio, "verify", "--json", str(studio.workspace.out_dir))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count('"VERIFIED"') == n and "UNTRUSTED" not in checked.stdout


def test_two_concurrent_runs_on_one_workspace_log_and_send_everything_once(
    studio: Studio, anvil: NodeInfo, tmp_path: Path
) -> None:
    """Two `mintloom run` processes on one workspace and spec at the same time: whatever each
    says, after both (and one more run) every asset is logged once, the journal holds each
    transaction kind once and every file verifies."""
    spec = write_sample_campaign(tmp_path / "c", sample_spec(), sample_audience(1))
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(studio.workspace.root), "MINTLOOM_KEY_PASSWORD": PASSWORD}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mintloom.cli.main", "run", str(spec)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0].decode(errors="replace") for p in procs]
    assert all("Traceback" not in o for o in outputs), outputs
    assert any(p.returncode == 0 for p in procs), outputs
    settle = cli(studio, "run", str(spec))
    assert settle.returncode == 0, settle.stdout + settle.stderr
    studio.log.refresh()
    n = studio.log.size
    assert len(Catalog(studio.db).assets("tiny")) == n == 9
    with sqlite3.connect(studio.workspace.catalog_path) as conn:
        assert conn.execute("select count(distinct cid) from log_leaves").fetchone()[0] == n
        assert conn.execute("select count(*) from log_receipts where anchored = 1").fetchone()[0] == n
    journal = studio.chain.journal
    for kind in (f"anchor:{n}", f"attach-terms:tiny:{n}", f"assign-split:tiny:{n}"):
        assert len(journal.entries(studio.chain.chain_id, kind)) == 1, kind
    checked = cli(studio, "verify", "--json", str(studio.workspace.out_dir))
    assert checked.returncode == 0 and checked.stdout.count('"VERIFIED"') == n, checked.stdout
