"""`mintloom verify`: exit codes per verdict, --json, folders, and use outside a workspace."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mintloom.cli.main import app
from mintloom.errors import VerifyError
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD, sample_studio


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    studio = sample_studio(tmp_path_factory.mktemp("verify-cli"))
    studio.close()
    yield studio.workspace


@pytest.fixture
def inside(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("MINTLOOM_WORKSPACE", str(ws.root))
    monkeypatch.setenv("COLUMNS", "200")
    return ws


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MINTLOOM_WORKSPACE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["verify", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def square(ws: Workspace) -> Path:
    return ws.out_dir / "tiny" / "en-US" / "students" / "square.png"


def test_signed_file_verified_exit_0_with_details(inside: Workspace) -> None:
    code, out, _ = invoke("--offline", str(square(inside)))
    assert code == 0, out
    assert "VERIFIED" in out and "binding" in out and "hard" in out
    for needle in ("campaign", "tiny", "en-US", "square", "c2pa.created", "leaf", "inclusion proof", "pass"):
        assert needle in out, needle
    assert "skip" in out and "offline" in out


def test_json_report_and_exit_codes_per_verdict(inside: Workspace, tmp_path: Path) -> None:
    original = square(inside).read_bytes()
    code, out, _ = invoke("--offline", "--json", str(square(inside)))
    report = json.loads(out)
    assert code == 0 and report["verdict"] == "VERIFIED" and report["binding"] == "hard"

    tampered = bytearray(original)
    tampered[-100] ^= 0x01
    (tmp_path / "t.png").write_bytes(bytes(tampered))
    code, out, _ = invoke("--offline", "--json", str(tmp_path / "t.png"))
    assert (code, json.loads(out)["verdict"]) == (20, "TAMPERED")

    receipt = tmp_path / "other.receipt.json"
    leader = inside.out_dir / "tiny" / "en-US" / "students" / "leaderboard.png"
    code, out, _ = invoke("--offline", "--json", str(leader))
    leader_report = json.loads(out)
    studio = Studio(inside, password=PASSWORD)
    rec = studio.log.receipt(leader_report["cid"])
    studio.close()
    assert rec is not None
    receipt.write_text(rec.model_dump_json())
    code, out, _ = invoke("--offline", "--json", "--receipt", str(receipt), str(square(inside)))
    assert (code, json.loads(out)["verdict"]) == (21, "UNTRUSTED")

    (tmp_path / "notes.bin").write_bytes(b"just some bytes")
    code, out, _ = invoke("--offline", "--json", str(tmp_path / "notes.bin"))
    assert (code, json.loads(out)["verdict"]) == (22, "UNKNOWN")


def test_stripped_copy_matched_by_fingerprint(inside: Workspace, tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.open(square(inside)).save(buf, "PNG")
    (tmp_path / "copy.png").write_bytes(buf.getvalue())
    code, out, _ = invoke("--offline", str(tmp_path / "copy.png"))
    assert code == 0 and "matched by fingerprint to CID" in out


def test_folder_summary_and_worst_exit_code(inside: Workspace, tmp_path: Path) -> None:
    code, out, _ = invoke("--offline", "--workers", "3", str(inside.out_dir / "tiny"))
    assert code == 0 and "17 files" in out and "VERIFIED" in out and "sound-logo.wav" in out

    folder = tmp_path / "mixed"
    folder.mkdir()
    data = square(inside).read_bytes()
    (folder / "ok.png").write_bytes(data)
    (folder / "bad.png").write_bytes(data[: len(data) // 2])
    (folder / "sub").mkdir()
    (folder / "sub" / "notes.txt").write_text("no credential here")
    (folder / "ignored.pdf").write_bytes(b"%PDF")
    code, out, _ = invoke("--offline", "--json", str(folder))
    reports = json.loads(out)
    assert code == 20  # the worst: TAMPERED
    assert sorted((Path(r["file"]).name, r["verdict"]) for r in reports) == [
        ("bad.png", "TAMPERED"), ("notes.txt", "UNKNOWN"), ("ok.png", "VERIFIED")]  # fmt: skip
    code, out, _ = invoke("--offline", str(folder))
    assert code == 20 and "TAMPERED" in out and "UNKNOWN" in out


def test_outside_a_workspace_untrusted_unless_trust_given(ws: Workspace, outside: Path) -> None:
    code, out, _ = invoke(str(square(ws)))
    assert code == 21 and "UNTRUSTED" in out and "--trust" in out
    code, out, _ = invoke("--json", "--trust", str(ws.keys_dir / "ca.pem"), str(square(ws)))
    report = json.loads(out)
    assert code == 0 and report["verdict"] == "VERIFIED"
    assert {c["name"]: c["status"] for c in report["checks"]}["log receipt"] == "skip"


def test_usage_errors_are_verify_errors(inside: Workspace, tmp_path: Path) -> None:
    with pytest.raises(VerifyError, match="no such file"):
        invoke(str(tmp_path / "missing.png"))
    with pytest.raises(VerifyError, match="--receipt applies to one file"):
        invoke("--receipt", str(tmp_path / "r.json"), str(inside.out_dir))
    (tmp_path / "bad.pem").write_text("nothing")
    with pytest.raises(VerifyError, match="no PEM certificate"):
        invoke("--trust", str(tmp_path / "bad.pem"), str(square(inside)))


def test_console_script_exit_code(ws: Workspace, tmp_path: Path) -> None:
    """Through the real entry point (its error boundary), the verdict's code reaches the shell."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "MINTLOOM_WORKSPACE"}
    data = bytearray(square(ws).read_bytes())
    data[-100] ^= 0x01
    (tmp_path / "t.png").write_bytes(bytes(data))
    cmd = [sys.executable, "-m", "mintloom.cli.main", "verify", "--offline"]
    ok = subprocess.run([*cmd, str(square(ws))], cwd=ws.root, env=env, capture_output=True, timeout=120,
                        check=False)  # fmt: skip
    bad = subprocess.run([*cmd, str(tmp_path / "t.png")], cwd=ws.root, env=env, capture_output=True,
                         timeout=120, check=False)  # fmt: skip
    missing = subprocess.run([*cmd, str(tmp_path / "nope.png")], cwd=ws.root, env=env, capture_output=True,
                             timeout=120, check=False)  # fmt: skip
    assert (ok.returncode, bad.returncode) == (0, 20), ok.stderr + bad.stderr
    assert missing.returncode not in (0, 20, 21, 22) and b"no such file" in missing.stderr


def test_folder_reports_exported_files_that_are_missing(inside: Workspace, tmp_path: Path) -> None:
    """A campaign output folder (or one inside it, or out/ itself) that lacks a file the campaign
    exported there — lost to a crash, deleted, or overwritten by other bytes — is MISSING (23),
    even if every file still present verifies."""
    out = inside.out_dir
    gone, swapped = square(inside), out / "tiny" / "ar-EG" / "runners" / "square.png"
    kept = {p: p.read_bytes() for p in (gone, swapped)}
    try:
        gone.unlink()
        swapped.write_bytes((out / "tiny" / "ar-EG" / "runners" / "leaderboard.png").read_bytes())
        code, text, _ = invoke("--offline", "--json", str(out / "tiny"))
        reports = json.loads(text)
        missing = {Path(r["file"]).relative_to(out / "tiny").as_posix(): r["checks"][0]["detail"]
                   for r in reports if r["verdict"] == "MISSING"}  # fmt: skip
        assert code == 23 and missing.keys() == {"en-US/students/square.png", "ar-EG/runners/square.png"}
        assert "absent" in missing["en-US/students/square.png"]
        assert "other bytes" in missing["ar-EG/runners/square.png"]  # a valid file, but not the one
        assert [r["verdict"] for r in reports].count("VERIFIED") == 16  # every file still there
        assert invoke("--offline", str(out))[0] == 23  # out/ itself, and a folder inside the campaign's
        code, text, _ = invoke("--offline", str(out / "tiny" / "en-US"))
        assert code == 23 and "MISSING" in text and "students/square.png" in text
        assert invoke("--offline", str(out / "tiny" / "ar-EG" / "students"))[0] == 0  # nothing lost there
        (tmp_path / "elsewhere").mkdir()  # a folder outside out/ holds no campaign's exports
        (tmp_path / "elsewhere" / "ok.png").write_bytes(kept[swapped])
        assert invoke("--offline", str(tmp_path / "elsewhere"))[0] == 0
    finally:
        for p, data in kept.items():
            p.write_bytes(data)
    assert invoke("--offline", str(out / "tiny"))[0] == 0


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of each file (SQLite's own -wal/-shm aside: opening the catalog makes them)."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))]
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in files}


def test_online_verify_of_a_workspace_whose_node_is_down_writes_nothing(
    inside: Workspace, tmp_path: Path
) -> None:
    """A read path never writes: `mintloom verify` (online) of a workspace whose node is down must
    leave the workspace as it was — no node started, no state file, no journal replay."""
    from mintloom.ledger.connect import managed_node

    node = managed_node(inside, inside.settings())
    folder = inside.out_dir / "tiny" / "en-US" / "students"
    assert node.running() is None
    before = _tree(inside.root)
    try:
        code, out, _ = invoke(str(folder))
        assert code == 0, out
        assert _tree(inside.root) == before and node.running() is None
    finally:
        node.stop()


def test_online_verify_with_the_node_down_says_why_the_anchor_is_skipped(inside: Workspace) -> None:
    """Nothing is started to answer: the anchor check is skipped and says how to get it checked."""
    code, out, _ = invoke("--json", str(square(inside)))
    report = json.loads(out)
    (anchor,) = [c for c in report["checks"] if c["name"] == "anchor"]
    assert code == 0 and report["verdict"] == "VERIFIED" and anchor["status"] == "skip"
    assert "embedded chain node is not running" in anchor["detail"]
    assert "mintloom node start" in anchor["detail"]


def test_file_report_prints_the_typed_licence_and_lineage() -> None:
    """The chain's answers are typed models: terms, model and datasets are all printed."""
    from mintloom.cli.console import console
    from mintloom.cli.verify import _print_file
    from mintloom.verify.report import DatasetLineage, LicenseInfo, ModelLineage, TermsInfo, VerifyReport

    terms = TermsInfo(id=3, name="commercial-remix", commercial_use=True, derivatives_allowed=True,
                      attribution_required=True, ai_training_allowed=False, rev_share_bps=500,
                      minting_fee=10**16, currency="0x" + "00" * 20, territory="WW", expiry=0,
                      uri="")  # fmt: skip
    lic = LicenseInfo(terms_ids=[3], terms=[terms], registered=True, token_id="0x1", owner="0xOwner",
                      model=ModelLineage(id=1, trainer="0xTrainer", license="MIT"),
                      datasets=[DatasetLineage(id=2, curator="0xCurator", license="CC-BY-4.0",
                                               ai_training_allowed=True)])  # fmt: skip
    with console.capture() as captured:
        _print_file(VerifyReport(file="x.png", license=lic), "here")
    out = captured.get()
    for needle in ("token 0x1 owned by 0xOwner", "name=commercial-remix", "rev_share_bps=500",
                   "#1 by 0xTrainer (MIT)", "#2 by 0xCurator (CC-BY-4.0, AI training allowed)"):  # fmt: skip
        assert needle in out, (needle, out)
    with pytest.raises(ValueError, match="extra"):  # a field the chain grows is not dropped silently
        TermsInfo(**terms.model_dump(), royalty_cap=1)
