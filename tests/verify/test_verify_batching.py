"""verify DIR checks each checkpoint once (issue 14): the files of one run share a checkpoint, so
its signature and trust decision, and the log's root at its size, are settled once per folder;
a different (forged) checkpoint is still checked, and refused, on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mintloom.chain_lookup import verify_context
from mintloom.provenance.log import SignedCheckpoint, TransparencyLog
from mintloom.studio import Studio
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import media_files, verify_bytes, verify_many
from tests.conftest import sample_studio


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    s = sample_studio(tmp_path_factory.mktemp("batching"))
    yield s
    s.close()


def test_a_folder_checks_its_one_checkpoint_once(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[int] = []
    refreshes: list[int] = []
    check, refresh = SignedCheckpoint.check, TransparencyLog.refresh

    def counted_check(self: SignedCheckpoint, *args: object, **kw: object) -> None:
        checks.append(self.size)
        check(self, *args, **kw)  # type: ignore[arg-type]

    def counted_refresh(self: TransparencyLog) -> None:
        refreshes.append(1)
        refresh(self)

    monkeypatch.setattr(SignedCheckpoint, "check", counted_check)
    monkeypatch.setattr(TransparencyLog, "refresh", counted_refresh)
    ctx = verify_context(studio, offline=True)
    files = [f for f in media_files(studio.workspace.out_dir / "tiny") if f.suffix != ".txt"]
    reports = list(verify_many(files, ctx, workers=2))
    assert len(files) >= 10 and all(r.verdict is Verdict.VERIFIED for r in reports)
    assert len(checks) == 1 and len(refreshes) == 1  # was once per file


def test_a_forged_checkpoint_after_a_settled_one_is_still_refused(studio: Studio) -> None:
    ctx = verify_context(studio, offline=True)
    path = next(f for f in media_files(studio.workspace.out_dir / "tiny") if f.suffix == ".png")
    data = path.read_bytes()
    good = verify_bytes(data, path.name, ctx)
    assert good.verdict is Verdict.VERIFIED
    receipt = studio.log.receipt(good.cid or "")
    assert receipt is not None
    forged_cp = receipt.checkpoint.model_copy(update={"signature": receipt.checkpoint.signature[::-1]})
    forged = receipt.model_copy(update={"checkpoint": forged_cp})
    report = verify_bytes(data, path.name, ctx, receipt=forged)
    assert report.verdict is Verdict.UNTRUSTED
    assert any(c.name == "checkpoint" and c.status == "fail" for c in report.checks)
    assert verify_bytes(data, path.name, ctx).verdict is Verdict.VERIFIED  # the settled one stays good


def test_verifying_a_folder_writes_nothing(studio: Studio) -> None:
    ws = studio.workspace.root
    before = {p: p.stat().st_mtime_ns for p in Path(ws).rglob("*") if p.is_file()}
    ctx = verify_context(studio, offline=True)
    list(verify_many(media_files(studio.workspace.out_dir / "tiny"), ctx))
    after = {p: p.stat().st_mtime_ns for p in Path(ws).rglob("*") if p.is_file()}
    assert after == before
