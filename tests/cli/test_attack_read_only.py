"""Hostile read-only check: every read command, run as a user runs it (its own process), leaves
the workspace as it found it, with the embedded node up and down, and with a pending journal
entry a writing client would settle on sight."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.ledger.node import AnvilNode, NodeInfo
from mintloom.pipeline import Pipeline, PipelineOptions
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("anvil")

NODE_FILES = "anvil"
"""Anvil's own files (state dump, RPC log): the node process writes them while it runs, not
mintloom; everything else, the chain journal included, must stay as it was."""


def snapshot(root: Path) -> dict[str, object]:
    """Every workspace file's mtime and bytes, the catalog by its logical content (SQLite folds
    its write-ahead log into the file on close) and the node's own files left out."""
    files: dict[str, object] = {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith("catalog.db") and not p.name.startswith(NODE_FILES)
    }
    with sqlite3.connect(root / ".mintloom" / "catalog.db") as conn:
        files["catalog.db"] = list(conn.iterdump())
    return files


def cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "MINTLOOM_KEY_PASSWORD"}  # reads need none
    full.update(MINTLOOM_WORKSPACE=str(root), **env)
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], env=full, cwd=root,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_read_commands_never_write_with_the_node_up_or_down(
    studio: Studio, anvil: NodeInfo, tmp_path: Path
) -> None:
    root = studio.workspace.root
    spec = write_sample_campaign(tmp_path / "c", sample_spec(), sample_audience(1))
    Pipeline(studio).run(spec, PipelineOptions())
    cid = Catalog(studio.db).assets("tiny")[0].cid
    # a second campaign logged but not anchored, then an anchor killed after sending: pending entry
    more = write_sample_campaign(tmp_path / "d", sample_spec().replace("tiny", "tiny2"), sample_audience(1))
    Pipeline(studio).run(more, PipelineOptions(anchor=False, publish=False))
    killed = cli(root, "anchor", MINTLOOM_KEY_PASSWORD=PASSWORD, MINTLOOM_CRASH_AT="tx-sent-anchor")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    out = studio.workspace.root / "out" / "tiny"
    a_file = next(p for p in sorted(out.rglob("*")) if p.suffix in (".png", ".jpg", ".txt"))
    reads = [
        ("verify", str(out)),
        ("verify", str(a_file)),
        ("verify", "--offline", str(out)),
        ("license", "show", cid),
        ("license", "terms"),
        ("royalties", "show"),
        ("chain", "status"),
        ("receipt", cid),
        ("plan", str(spec)),
    ]
    for state in ("up", "down"):
        if state == "down":
            AnvilNode(studio.workspace.chain_dir).stop()
        for args in reads:
            before = snapshot(root)
            r = cli(root, *args)
            assert r.returncode in (0, 1), (state, args, r.stdout + r.stderr)
            assert snapshot(root) == before, (state, args)
        if state == "down":
            AnvilNode(studio.workspace.chain_dir).stop()
