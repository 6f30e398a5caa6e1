"""`mintloom verify` on Content Credentials mintloom did not write (c2pa-rs's signed test images,
tests/fixtures/c2pa-rs): who signed them with what, "valid but untrusted signer" apart from
"invalid", and an altered claim or altered pixels reported as TAMPERED, in text and in --json."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mintloom.cli.console import console
from mintloom.cli.main import app
from mintloom.verify.report import Verdict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa-rs"
SUBJECT = "CN=C2PA Signer, OU=FOR TESTING_ONLY, O=C2PA Test Signing Cert, L=Somewhere, ST=CA, C=US"
ISSUER = "CN=Intermediate CA, OU=FOR TESTING_ONLY, O=C2PA Test Intermediate Root CA, L=Somewhere, ST=CA, C=US"
GENERATOR = "make_test_images/0.33.1 c2pa-rs/0.33.1"


@pytest.fixture(autouse=True)
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No workspace: only the file's own credential is checked."""
    monkeypatch.delenv("MINTLOOM_WORKSPACE", raising=False)
    monkeypatch.setattr(console, "width", 240)  # the console was made at import, whatever COLUMNS says now
    monkeypatch.chdir(tmp_path)
    return tmp_path


def verify(name: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["verify", str(FIXTURES / name), "--offline", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def verify_json(name: str) -> tuple[int, dict[str, object]]:
    code, out = verify(name, "--json")
    report = json.loads(out)
    assert isinstance(report, dict)
    return code, report


def checks(report: dict[str, object]) -> dict[str, dict[str, str]]:
    listed = report["checks"]
    assert isinstance(listed, list)
    return {c["name"]: c for c in listed}


def test_valid_foreign_credential_is_valid_but_untrusted_with_signer_generator_time_and_actions() -> None:
    code, report = verify_json("CA.jpg")
    assert code == Verdict.UNTRUSTED.exit_code and report["verdict"] == "UNTRUSTED"
    cred = report["credential"]
    assert isinstance(cred, dict)
    assert cred["status"] == "valid-untrusted" and cred["failures"] == []
    assert cred["signer"] == {
        "claim_generator": GENERATOR,
        "subject": SUBJECT,
        "issuer": ISSUER,
        "signed_at": "2024-08-06T21:53:37+00:00",
    }
    assert [a["action"] for a in cred["actions"]] == ["c2pa.opened", "c2pa.color_adjustments"]
    by_name = checks(report)
    assert by_name["signature"]["status"] == "pass"
    assert by_name["trust"]["status"] == "fail" and "valid but untrusted signer" in by_name["trust"]["detail"]


def test_foreign_actions_carry_their_source_type_and_software_agent() -> None:
    _, report = verify_json("C.jpg")
    cred = report["credential"]
    assert isinstance(cred, dict)
    created = {"action": "c2pa.created", "software_agent": "Make Test Images 0.33.1"}
    assert cred["actions"] == [{**created, "source_type": "algorithmicMedia"}]


def test_human_output_names_generator_signer_issuer_time_and_actions() -> None:
    code, out = verify("CA.jpg")
    assert code == Verdict.UNTRUSTED.exit_code
    for text in ("valid but untrusted signer", GENERATOR, SUBJECT, ISSUER, "2024-08-06T21:53:37+00:00"):
        assert text in out, text
    assert "c2pa.opened" in out and "c2pa.color_adjustments" in out


def test_altered_claim_is_tampered_not_untrusted() -> None:
    """E-sig-CA.jpg: the claim was edited after signing (claimSignature.mismatch)."""
    code, report = verify_json("E-sig-CA.jpg")
    assert code == Verdict.TAMPERED.exit_code and report["verdict"] == "TAMPERED"
    cred = report["credential"]
    assert isinstance(cred, dict)
    assert cred["status"] == "tampered" and "claimSignature.mismatch" in cred["failures"]
    assert cred["signer"]["subject"] == SUBJECT and cred["signer"]["signed_at"] is None
    sig = checks(report)["signature"]
    assert sig["status"] == "fail" and sig["effect"] == "TAMPERED" and "altered" in sig["detail"]
    code, out = verify("E-sig-CA.jpg")
    assert code == Verdict.TAMPERED.exit_code
    assert "TAMPERED" in out and "content or claim altered after signing" in out
    assert "no signing time" in out


def test_altered_pixels_are_tampered_and_still_say_who_signed() -> None:
    code, report = verify_json("XCA.jpg")
    assert code == Verdict.TAMPERED.exit_code
    cred = report["credential"]
    assert isinstance(cred, dict)
    assert cred["status"] == "tampered" and "assertion.dataHash.mismatch" in cred["failures"]
    assert cred["signer"]["claim_generator"] == GENERATOR and cred["signer"]["subject"] == SUBJECT


def test_folder_of_foreign_files_exits_with_the_worst(tmp_path: Path) -> None:
    folder = tmp_path / "foreign"
    folder.mkdir()
    for name in ("CA.jpg", "E-sig-CA.jpg"):
        shutil.copy(FIXTURES / name, folder / name)
    result = CliRunner().invoke(app, ["verify", str(folder), "--offline", "--json"])
    reports = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    assert result.exit_code == Verdict.TAMPERED.exit_code
    assert reports["CA.jpg"]["credential"]["status"] == "valid-untrusted"
    assert reports["E-sig-CA.jpg"]["credential"]["status"] == "tampered"


def test_a_signing_credential_expired_since_is_invalid_not_valid_untrusted(tmp_path: Path) -> None:
    """No time-stamp proves it was signed while the certificate was valid: c2pa calls it
    signingCredential.expired, which is "invalid" (UNTRUSTED), not a valid, untrusted signer."""
    from mintloom.provenance.content_credentials import C2paAssetSigner
    from mintloom.provenance.keys import LocalSigner
    from tests.provenance.certs import issue
    from tests.provenance.conftest import png_bytes, record

    root = issue("Short-lived Root", None, ca=True)
    leaf = issue(
        "Short-lived Signer", root, ca=False, not_after=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    )
    signer = C2paAssetSigner(LocalSigner(leaf.key, leaf.pem() + root.pem()))
    signed = signer.sign(png_bytes(), "image/png", record(), title="short.png").data
    time.sleep(max(0.0, (leaf.cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).total_seconds()) + 1.5)
    (tmp_path / "short.png").write_bytes(signed)
    result = CliRunner().invoke(app, ["verify", str(tmp_path / "short.png"), "--offline", "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == Verdict.UNTRUSTED.exit_code
    assert report["credential"]["status"] == "invalid"
    assert "signingCredential.expired" in report["credential"]["failures"]
    sig = checks(report)["signature"]
    assert sig["status"] == "fail" and sig["effect"] == "UNTRUSTED" and "has expired" in sig["detail"]
    assert report["credential"]["signer"]["subject"] == "CN=Short-lived Signer"
