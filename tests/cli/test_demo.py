"""`mintloom demo` end to end on a one-segment campaign: it never prints the key password."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.cli.demo import DEMO_PASSWORD, summary_text
from mintloom.workspace import Workspace

pytestmark = pytest.mark.xdist_group("anvil")

CANARY = "cnry-demo-password-Wq83"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "lumen"
LINEAGE = """lineage:
  datasets: ["lumen-brand-photography-2026"]
  model: "lumen-layout-v1"
"""


def tiny_demo_spec(folder: Path) -> Path:
    """The demo's campaign cut to one segment, one locale, a master and a story variant."""
    spec = sample_spec(locales=("en-US",), formats=("square", "story"), copy=False, audio=False)
    path = write_sample_campaign(folder, spec + LINEAGE, sample_audience(segments=1))
    shutil.copytree(EXAMPLES / "lineage", folder / "lineage")
    return path


def test_demo_never_prints_the_key_password(tmp_path: Path) -> None:
    spec = tiny_demo_spec(tmp_path / "campaign")
    env = {k: v for k, v in os.environ.items() if k != "MINTLOOM_WORKSPACE"}
    env.update(MINTLOOM_KEY_PASSWORD=CANARY, COLUMNS="200")
    r = subprocess.run([sys.executable, "-m", "mintloom.cli.main", "demo", str(tmp_path / "ws"), "--spec",
                        str(spec), "-w", "1"], capture_output=True, text=True, env=env, timeout=600,
                       check=False)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "mintloom demo done" in r.stdout and "MINTLOOM_KEY_PASSWORD=<your key password>" in r.stdout
    assert "&& mintloom serve" in r.stdout and r.stdout.rstrip().splitlines()[-1].startswith("mlt_")
    for stream in (r.stdout, r.stderr):
        assert CANARY not in stream
    dynamic = r.stdout[r.stdout.index("dynamic creative:") :]  # three misses, then the cache hit
    assert [w for w in dynamic.split() if w in ("miss", "hit")][:4] == ["miss", "miss", "miss", "hit"]
    assert "verify served-render.png: VERIFIED (campaign lumen-live" in " ".join(dynamic.split())
    trained = " ".join(r.stdout[r.stdout.index("written by the trained model") :].split())
    assert "signature valid, signer trusted" in trained and "manifest = chain entry" in trained
    assert "verdict VERIFIED" in trained


def test_the_demo_summary_names_only_its_own_published_password(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    args = {"campaign": "c", "assets": 3, "images": 2, "log_size": 3, "anchored": 3, "gas": 1,
            "seconds": 1.0, "variant": ("bafk", "en-US/s/story.png"), "samples": tmp_path}  # fmt: skip
    mine = summary_text(ws, own_password=True, **args)  # type: ignore[arg-type]
    assert DEMO_PASSWORD not in mine and "MINTLOOM_KEY_PASSWORD=<your key password>" in mine
    assert f"MINTLOOM_KEY_PASSWORD={DEMO_PASSWORD}" in summary_text(ws, own_password=False, **args)  # type: ignore[arg-type]


def test_a_demo_that_fails_after_starting_its_node_stops_it(tmp_path: Path) -> None:
    """The demo's chain is stopped on every way out, not only after its last step: here the
    example's lineage files are missing, so registering the dataset fails after the node started."""
    from mintloom.ledger.node import _anvils_on

    spec = tiny_demo_spec(tmp_path / "campaign")
    shutil.rmtree(tmp_path / "campaign" / "lineage")
    env = {k: v for k, v in os.environ.items() if k != "MINTLOOM_WORKSPACE"}
    r = subprocess.run([sys.executable, "-m", "mintloom.cli.main", "demo", str(tmp_path / "ws"), "--spec",
                        str(spec), "-w", "1"], capture_output=True, text=True, env=env, timeout=300,
                       check=False)  # fmt: skip
    assert r.returncode != 0 and "error:" in r.stderr, r.stdout + r.stderr
    assert "deployed" in r.stdout or "ProvenanceLog" in r.stdout  # it got past starting the chain
    state = Workspace(tmp_path / "ws").chain_dir / "anvil-state.json"
    assert _anvils_on(str(state)) == []
