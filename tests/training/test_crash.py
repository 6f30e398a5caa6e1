"""Crash-safety of `dataset ingest` and `model train`: the CLI is SIGKILLed at each phase
boundary (MINTLOOM_CRASH_AT); the rerun finishes, registers nothing twice, and what it leaves
(names, manifest, weights, signed run) is whole and agrees with the chain."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mintloom.engines.transformers_text import weights_hash
from mintloom.ledger.datasets import manifest_cid_of
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.lineage import Names
from mintloom.ledger.node import NodeInfo
from mintloom.ledger.training import run_of
from mintloom.provenance.training import SIDECAR_NAME, read_signed
from mintloom.studio import Studio
from tests.conftest import PASSWORD
from tests.training.conftest import COPY, copy_folder

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]


def mintloom(*args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINTLOOM_KEY_PASSWORD": PASSWORD, "COLUMNS": "300"}
    env.pop("MINTLOOM_CRASH_AT", None)
    if crash is not None:
        env["MINTLOOM_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)  # fmt: skip


def ingest_args(folder: Path, opt_out: Path) -> tuple[str, ...]:
    return ("dataset", "ingest", str(folder), "--name", "past-copy", "--license", "proprietary",
            "--opt-out", str(opt_out))  # fmt: skip


def count(studio: Studio, kind: str) -> int:
    return int(studio.chain.call("LineageRegistry", f"{kind}Count"))


@pytest.mark.parametrize("phase", ["dataset.stored", "dataset.recorded", "dataset.sent"])
def test_ingest_killed_at_each_phase_finishes_once_on_rerun(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, phase: str
) -> None:
    deploy_all(studio.chain)
    folder = copy_folder(tmp_path)
    opt_out = tmp_path / "optout.txt"
    opt_out.write_text("private.txt\n")
    killed = mintloom(*ingest_args(folder, opt_out), crash=phase)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert count(studio, "dataset") == (1 if phase == "dataset.sent" else 0)
    rerun = mintloom(*ingest_args(folder, opt_out))
    assert rerun.returncode == 0, rerun.stderr
    assert ("already registered" in rerun.stdout) == (phase == "dataset.sent")
    assert count(studio, "dataset") == 1  # never twice
    ds = Names(studio.db, studio.chain.chain_id).require("dataset", "past-copy")
    root, n = studio.chain.call("LineageRegistry", "fileRoot", ds)
    assert n == len(COPY) and bytes(root).hex() in rerun.stdout
    manifest = studio.blobs.get(manifest_cid_of(studio.db, "past-copy"))  # whole: its CID checks
    assert bytes(studio.chain.call("LineageRegistry", "dataset", ds)[0]) == hashlib.sha256(manifest).digest()


@pytest.mark.parametrize("phase", ["train.weights", "train.stored", "model.sent"])
def test_train_killed_at_each_phase_finishes_once_on_rerun(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, tiny_base: Path, phase: str
) -> None:
    deploy_all(studio.chain)
    folder = copy_folder(tmp_path)
    opt_out = tmp_path / "optout.txt"
    opt_out.write_text("private.txt\n")
    assert mintloom(*ingest_args(folder, opt_out)).returncode == 0
    out = tmp_path / "model"
    args = ("model", "train", "copy-model", "--base", str(tiny_base), "--dataset", "past-copy",
            "--data", str(folder), "--out", str(out), "--seed", "3")  # fmt: skip
    killed = mintloom(*args, crash=phase)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert count(studio, "model") == (1 if phase == "model.sent" else 0)
    rerun = mintloom(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert ("resumed" in rerun.stdout) == (phase != "train.weights")  # the sidecar was written
    assert count(studio, "model") == 1  # never twice
    model_id = Names(studio.db, studio.chain.chain_id).require("model", "copy-model")
    sidecar = (out / SIDECAR_NAME).read_bytes()
    signed = read_signed(sidecar)
    assert signed.parsed().output_weights_hash == weights_hash(out)
    assert (
        bytes(studio.chain.call("LineageRegistry", "trainingRun", model_id))
        == hashlib.sha256(sidecar).digest()
    )
    assert run_of(studio.chain, studio.blobs, model_id) == signed
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_a_kill_between_the_weight_folders_renames_leaves_the_old_model_restorable(
    tmp_path: Path, tiny_base: Path
) -> None:
    """Retraining into an existing folder: killed after the old folder is moved aside and before
    the new one is renamed in, the next training puts the old folder back first, then swaps."""
    out = tmp_path / "model"
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from mintloom.engines.training import LoraParams, train_lora\n"
        "print(train_lora(Path(sys.argv[1]), ['light your home'], Path(sys.argv[2]), seed=int(sys.argv[3]),"
        " params=LoraParams(epochs=1)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def train(seed: int, crash: str | None = None) -> subprocess.CompletedProcess[str]:
        e = {**env, "MINTLOOM_CRASH_AT": crash} if crash else env
        argv = [sys.executable, "-c", script, str(tiny_base), str(out), str(seed)]
        return subprocess.run(argv, env=e, capture_output=True, text=True, timeout=600, check=False)

    first = train(1)
    assert first.returncode == 0, first.stderr
    killed = train(2, crash="train.swap")
    assert killed.returncode == -signal.SIGKILL
    assert not out.exists() and list(tmp_path.glob(".model.old-*"))  # the gap the kill left
    again = train(2)
    assert again.returncode == 0, again.stderr
    assert out.is_dir() and not list(tmp_path.glob(".model.*")), "an old or partial folder was left"
    assert again.stdout.split()[-1] != first.stdout.split()[-1]  # the retrained weights are in place
