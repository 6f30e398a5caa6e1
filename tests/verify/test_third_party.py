"""A third party verifies with only what the organisation publishes: the file, its receipt
(NAME.receipt.json), the organisation's root certificate and a JSON-RPC URL — no workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.spec import load_spec
from mintloom.ledger.node import NodeInfo
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("anvil")


def cli(cwd: Path, *args: str, workspace: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MINTLOOM_WORKSPACE"}
    env.update({"MINTLOOM_KEY_PASSWORD": PASSWORD, "COLUMNS": "200"})
    if workspace is not None:
        env["MINTLOOM_WORKSPACE"] = str(workspace)
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip


def test_verify_outside_any_workspace_with_receipt_trust_and_rpc(
    studio: Studio, anvil: NodeInfo, tmp_path: Path
) -> None:
    CampaignRunner(studio.run_parts(), load_spec(write_campaign(tmp_path / "c"))).run()
    studio.contracts()  # deploying is its own step: anchoring never deploys
    studio.anchor()
    ws = studio.workspace.root
    row = next(r for r in Catalog(studio.db).assets("tiny", kind="image") if r.format == "leaderboard")

    # what the organisation publishes
    public = tmp_path / "public"
    public.mkdir()
    (public / "ad.png").write_bytes((studio.workspace.out_dir / "tiny" / row.path).read_bytes())
    r = cli(tmp_path, "receipt", row.cid, "--out", str(public / "ad.png.receipt.json"), workspace=ws)
    assert r.returncode == 0, r.stderr
    assert (
        cli(tmp_path, "keys", "trust-anchor", "--out", str(public / "org.pem"), workspace=ws).returncode == 0
    )

    outsider = tmp_path / "elsewhere"
    outsider.mkdir()
    args = ("verify", str(public / "ad.png"), "--json", "--trust", str(public / "org.pem"))
    report = json.loads(cli(outsider, *args, "--rpc", anvil.rpc_url).stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["verdict"] == "VERIFIED" and report["cid"] == row.cid
    for name in ("hash binding", "trust", "inclusion proof", "checkpoint", "anchor"):
        assert checks[name]["status"] == "pass", checks
    assert "taken from the receipt" in checks["anchor"]["detail"]
    assert checks["anchor time"]["status"] == "pass", checks

    # after a rotation the export carries the CA-signed retirement list; `verify --trust` honours
    # it, and the file the retired key signed before the rotation still verifies
    assert cli(tmp_path, "keys", "rotate", workspace=ws).returncode == 0
    bundle = cli(tmp_path, "keys", "trust-anchor", "--out", str(public / "org.pem"), workspace=ws)
    assert bundle.returncode == 0 and "BEGIN X509 CRL" in (public / "org.pem").read_text()
    again = json.loads(cli(outsider, *args, "--rpc", anvil.rpc_url).stdout)
    assert again["verdict"] == "VERIFIED", again["checks"]
    assert {c["name"]: c["status"] for c in again["checks"]}["retired signer"] == "pass"

    pinned = cli(outsider, *args, "--rpc", anvil.rpc_url, "--contracts",
                 str(studio.workspace.chain_dir / "deployments.json"))  # fmt: skip
    anchor = next(c for c in json.loads(pinned.stdout)["checks"] if c["name"] == "anchor")
    assert anchor["status"] == "pass" and "taken from the receipt" not in anchor["detail"]

    # without the organisation's root the same file is UNTRUSTED, and says how to fix that
    bare = cli(outsider, "verify", str(public / "ad.png"))
    assert bare.returncode == 21 and "--trust" in bare.stdout
    # a receipt for another asset next to the file is caught
    other = next(r for r in Catalog(studio.db).assets("tiny", kind="image") if r.cid != row.cid)
    cli(tmp_path, "receipt", other.cid, "--out", str(public / "ad.png.receipt.json"), workspace=ws)
    wrong = cli(outsider, *args, "--rpc", anvil.rpc_url)
    assert wrong.returncode == 21 and "another asset" in wrong.stdout
