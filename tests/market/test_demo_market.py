"""`mintloom demo`'s market step on the demo's chain: one signature lists the campaign, a buyer buys
through it and resells, the royalty is claimed, and the balance table sums to zero with gas."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from tests.cli.test_demo import EXAMPLES, LINEAGE


def demo_spec(folder: Path) -> Path:
    """Two segments, one locale: the demo registers one segment's story and its master; the other
    segment's master is left for the market step to sell."""
    spec = sample_spec(locales=("en-US",), formats=("square", "story"), copy=False, audio=False)
    path = write_sample_campaign(folder, spec + LINEAGE, sample_audience(segments=2))
    shutil.copytree(EXAMPLES / "lineage", folder / "lineage")
    return path


def test_demo_market_step_balances_sum_to_zero(tmp_path: Path) -> None:
    spec = demo_spec(tmp_path / "campaign")
    env = {k: v for k, v in os.environ.items() if k not in {"MINTLOOM_WORKSPACE", "MINTLOOM_KEY_PASSWORD"}}
    env["COLUMNS"] = "200"
    r = subprocess.run([sys.executable, "-m", "mintloom.cli.main", "demo", str(tmp_path / "ws"), "--spec",
                        str(spec), "-w", "1"], capture_output=True, text=True, env=env, timeout=900,
                       check=False)  # fmt: skip
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "lists the whole campaign with ONE signature" in out and "0 gas" in out, out
    assert "resells it to a second buyer" in out and "claimed" in out, out
    rows = dict(
        re.findall(
            r"│ (first buyer|second buyer|split receiver|gas fees[^│]*?)\s*│[^│]*│\s*([-+0-9.]+)\s*│", out
        )
    )
    assert float(rows["first buyer"]) > 0 and float(rows["second buyer"]) < -0.12, rows  # bought, resold
    assert float(rows["split receiver"]) == 0  # flushed: the royalties reached the split
    assert re.search(r"│ total\s*│\s*│\s*0\s*│", out), out
