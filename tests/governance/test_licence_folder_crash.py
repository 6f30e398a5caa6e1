"""SIGKILL mid licence-folder save during publish (`mintloom license attach`): between the folder's
blob renames, after its files are stored, after its listing is remembered. The rerun publishes the
same folder CID (the one a publish that never crashed names on chain) and leaves nothing
half-written in the workspace: no temp file, no blob whose bytes are not its CID.

The folder's files and listing are the only blobs the save writes: its HAMT shards (past
``SHARD_THRESHOLD``) are built from them when a CAR is exported, so the same points cover the
sharded folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mintloom.governance.licence_metadata import stored_folders
from mintloom.ledger.node import NodeInfo
from mintloom.pipeline import Pipeline, PipelineOptions
from mintloom.store.cid import DAG_PB_CODEC, cid_from_digest, cid_matches
from mintloom.store.published import folder_cid
from mintloom.studio import Studio
from tests.conftest import PASSWORD
from tests.test_pipeline import campaign

pytestmark = pytest.mark.xdist_group("anvil")


def _attach(studio: Studio, spec: Path, crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(studio.workspace.root), "MINTLOOM_KEY_PASSWORD": PASSWORD}
    env.pop("MINTLOOM_CRASH_AT", None)
    if crash_at is not None:
        env["MINTLOOM_CRASH_AT"] = crash_at
    args = [sys.executable, "-m", "mintloom.cli.main", "license", "attach", str(spec)]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)


def _half_written(root: Path, blobs: Path) -> list[str]:
    """Temp files anywhere in the workspace, and blobs whose bytes are not their CID."""
    bad = [str(p) for p in root.rglob("*.tmp")]
    for p in blobs.rglob("*"):
        if p.is_file() and not p.name.endswith(".tmp") and not cid_matches(p.name, p.read_bytes()):
            bad.append(str(p))
    return bad


@pytest.mark.parametrize("point", ["blobs.rename:3", "publish.licence_files", "publish.licence_remembered"])
def test_a_publish_killed_mid_licence_folder_save_is_finished_by_a_rerun(
    studio: Studio, anvil: NodeInfo, tmp_path: Path, point: str
) -> None:
    spec = campaign(tmp_path / "c")
    Pipeline(studio).run(spec, PipelineOptions(publish=False))
    assert not list(stored_folders(studio.db, studio.blobs))
    killed = _attach(studio, spec, point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    if point == "blobs.rename:3":  # killed between renames: the unrenamed files are left as temps
        assert list(studio.workspace.root.rglob("*.tmp")), "positive control: the kill left temp files"
    done = _attach(studio, spec, None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _half_written(studio.workspace.root, studio.workspace.blobs_dir) == []
    [(root, files)] = list(stored_folders(studio.db, studio.blobs))
    assert root == folder_cid(files) and len(files) == studio.log.size
    on_chain = cid_from_digest(bytes(studio.chain.call("LicenseMarket", "metadataRoot")), DAG_PB_CODEC)
    assert on_chain == root
    again = _attach(studio, spec, None)  # a third publish changes nothing
    assert again.returncode == 0 and list(stored_folders(studio.db, studio.blobs)) == [(root, files)]
