"""`mintloom verify DIR --jobs N` (issue 14): a folder verified on N processes gives the very report
one process gives (file order, verdicts, checks, licences, exit code), hostile files included; a
worker's own error reaches the caller as itself."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.cli.console import close_studios
from mintloom.cli.main import app
from mintloom.errors import VerifyError
from mintloom.ledger.node import NodeInfo
from mintloom.studio import Studio
from mintloom.verify import parallel
from mintloom.verify.parallel import verify_files
from mintloom.verify.verifier import VerifyContext, media_files


def _verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["verify", *args])
    close_studios()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_two_jobs_give_the_report_of_one_on_an_anchored_campaign_with_hostile_files(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "FILES_PER_JOB", 1)  # 20 files: worth two processes here
    studio.contracts()
    CampaignRunner(studio.run_parts(), load_spec(write_sample_campaign(tmp_path / "campaign"))).run()
    studio.anchor()
    folder = studio.workspace.out_dir / "tiny"
    square = folder / "en-US" / "students" / "square.png"
    hostile = folder / "zz-hostile"  # inside the campaign's folder: missing exports are checked too
    hostile.mkdir()
    data = bytearray(square.read_bytes())
    data[-100] ^= 0x01
    (hostile / "tampered.png").write_bytes(bytes(data))
    buf = io.BytesIO()
    Image.open(square).save(buf, "PNG")  # the pixels without the credential
    (hostile / "stripped.png").write_bytes(buf.getvalue())
    shutil.copy(folder / "ar-EG" / "runners" / "leaderboard.png", folder / "ar-EG" / "runners" / "square.png")

    one_code, one = _verify("--json", "--jobs", "1", str(folder))
    two_code, two = _verify("--json", "--jobs", "2", str(folder))

    assert (one_code, two_code) == (20, 20)  # the worst verdict: TAMPERED
    reports = json.loads(one)
    assert json.loads(two) == reports
    names = [r["file"] for r in reports]
    verdicts = {Path(r["file"]).relative_to(folder).as_posix(): r["verdict"] for r in reports}
    assert names[: len(names) - 1] == sorted(names[: len(names) - 1])  # files in order, then MISSING
    assert verdicts["zz-hostile/tampered.png"] == "TAMPERED"
    assert verdicts["zz-hostile/stripped.png"] == "VERIFIED"
    stripped = next(r for r in reports if r["file"].endswith("stripped.png"))
    assert stripped["binding"] == "fingerprint"
    anchored = [r for r in reports if r["file"].endswith("students/leaderboard.png")]
    checks = {c["name"]: c["status"] for r in anchored for c in r["checks"]}
    assert checks["anchor"] == "pass"  # each worker consulted the chain through its own reader
    assert list(verdicts.values()).count("MISSING") == 1 and len(reports) == 17 + 2 + 1


def _refusing_context() -> VerifyContext:
    raise VerifyError(f"refused in process {os.getpid()}")


def test_a_worker_error_reaches_the_caller_from_another_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "FILES_PER_JOB", 1)
    files = []
    for i in range(4):
        files.append(tmp_path / f"{i}.txt")
        files[-1].write_text("no credential")
    with pytest.raises(VerifyError, match="refused in process") as caught:
        list(verify_files(media_files(tmp_path), VerifyContext(), _refusing_context, jobs=2))
    assert caught.value.message != f"refused in process {os.getpid()}"  # built in a worker, not here
    one = list(verify_files(media_files(tmp_path), VerifyContext(), _refusing_context, jobs=1))
    assert [r.verdict.value for r in one] == ["UNKNOWN"] * 4  # one job: this process's context
    monkeypatch.setattr(parallel, "FILES_PER_JOB", 150)
    few = list(verify_files(media_files(tmp_path), VerifyContext(), _refusing_context, jobs=2))
    assert [r.verdict.value for r in few] == ["UNKNOWN"] * 4  # 4 files are not worth a process
