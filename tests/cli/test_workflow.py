"""The CLI as a user drives it, on the embedded chain: keys, run --publish, register, license,
royalties, verify, chain status; and bad input exits with the subsystem's code and a message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mintloom.campaign.sample import sample_spec, write_sample_campaign

pytestmark = pytest.mark.xdist_group("anvil")

PASSWORD = "cli-workflow-password"


def cli(ws: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(ws), "MINTLOOM_KEY_PASSWORD": PASSWORD, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)  # fmt: skip


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_cli_workflow_end_to_end(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ok(cli(tmp_path, "init", str(ws)))
    try:
        shown = ok(cli(ws, "keys", "init", "--organisation", "Lumen Coffee"))
        assert "Lumen Coffee" in shown and "es256" in shown
        rotated = ok(cli(ws, "keys", "rotate"))
        assert "rotations" in rotated and " 1 " in rotated

        spec = write_sample_campaign(
            tmp_path / "campaign", sample_spec(locales=("en-US",), formats=("square",))
        )
        planned = ok(cli(ws, "plan", str(spec)))
        assert "image" in planned
        ran = ok(cli(ws, "run", str(spec), "--publish"))
        assert "made 1 audio, 2 copy, 2 image" in ran and "attached in" in ran
        again = ok(cli(ws, "run", str(spec), "--no-publish"))
        assert "5 already done" in again and "nothing new" in again and "anchored" not in again

        out = ws / "out" / "tiny" / "en-US" / "students" / "square.png"
        from mintloom.store.cid import cid_for

        cid = cid_for(out.read_bytes())
        assert "registered" in ok(cli(ws, "register", cid))
        assert "already registered" in ok(cli(ws, "register", cid))
        shown = ok(cli(ws, "license", "show", cid))
        assert "commercial-remix" in shown and "registered to" in shown
        bought = ok(cli(ws, "license", "buy", cid, "--terms", "commercial-remix"))
        assert "licence 0x" in bought and "0.010000 ETH" in bought
        assert "0.010000 ETH claimable" in ok(cli(ws, "royalties", "show"))
        assert "claimed 0.010000 ETH" in ok(cli(ws, "royalties", "claim"))
        assert ok(cli(ws, "license", "terms")).count("never") >= 4

        car = tmp_path / "tiny.car"
        assert "5 assets" in ok(cli(ws, "export", "tiny", "--car", str(car)))
        from mintloom.store.car import read_car

        roots, blocks = read_car(car)
        # roots: 5 assets, the registered one's metadata JSON, the licence folder; blocks: those, 2 text
        # sidecars, the receipt the metadata links, 5 licence JSONs and the raw leaves of any asset
        # over one chunk (a UnixFS DAG whose root is the asset's CID)
        from mintloom.store.cid import CHUNK_SIZE

        shipped = [p for p in (ws / "out" / "tiny").rglob("*") if p.suffix in {".png", ".wav", ".txt"}]
        leaves = sum(-(-p.stat().st_size // CHUNK_SIZE) for p in shipped if p.stat().st_size > CHUNK_SIZE)
        assert len(shipped) == 5
        assert cid in roots and len(roots) == 7 and len(list(blocks)) == 7 + 2 + 1 + 5 + leaves
        verified = cli(ws, "verify", str(out))
        assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr
        status = ok(cli(ws, "chain", "status"))
        assert "anchored checkpoint: size 5" in status and "pending journal entries: 0" in status

        # bad input: a clear message and the subsystem's exit code, nothing changed
        bad = cli(ws, "license", "buy", cid, "--terms", "all-you-can-eat")
        assert bad.returncode == 7 and "unknown licence terms 'all-you-can-eat'" in bad.stderr
        claim_again = cli(ws, "royalties", "claim")
        assert claim_again.returncode == 7 and "nothing to claim" in claim_again.stderr
        unknown = cli(ws, "register", cid_for(b"never made"))
        assert unknown.returncode == 6 and "not in the log" in unknown.stderr
        broken = tmp_path / "broken.yaml"
        broken.write_text("campaign: Bad Name\n")
        r = cli(ws, "run", str(broken))
        assert r.returncode == 3 and "broken.yaml" in r.stderr
        assert "size 5" in ok(cli(ws, "chain", "status"))
    finally:
        cli(ws, "node", "stop")
