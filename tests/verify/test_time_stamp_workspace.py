"""A workspace with ``provenance.tsa_url``: the campaign's credentials carry RFC 3161 time-stamps
from a real TSA on loopback, `mintloom verify` reports when each was signed, and a TSA that is
down stops the run with nothing signed, logged or exported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.cli.main import app
from mintloom.errors import ConfigError, TimeStampError
from mintloom.store.catalog import Catalog
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD
from tests.provenance.tsa import OPENSSL, TsaIdentity, dead_url, make_tsa_identity, serve_tsa, url_of

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command line (openssl ts)")


def _workspace(root: Path, tsa_url: str, tsa: TsaIdentity | None) -> Studio:
    ws = Workspace.init(root / "ws")
    lines = [f'tsa_url = "{tsa_url}"']
    if tsa is not None:
        (ws.root / "tsa-roots.pem").write_text(tsa.root_pem())
        lines.append('tsa_roots = "tsa-roots.pem"')
    text = ws.config_file.read_text()
    ws.config_file.write_text(text.replace("[provenance]\n", "[provenance]\n" + "\n".join(lines) + "\n"))
    studio = Studio(ws, password=PASSWORD)
    studio.ensure_keys()
    return studio


def _run(studio: Studio, root: Path) -> None:
    spec = load_spec(write_sample_campaign(root / "campaign"))
    CampaignRunner(studio.run_parts(), spec, batch_size=5).run()


@pytest.fixture(scope="module")
def stamped_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("tsa-ws")
    tsa = make_tsa_identity("Loopback TSA")
    with serve_tsa(tsa, root / "tsa") as server:
        studio = _workspace(root, url_of(server), tsa)
        try:
            _run(studio, root)
        finally:
            studio.close()
        assert server.served >= 17  # one time-stamp per signed asset
    yield studio.workspace


def _verify(ws: Workspace, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("MINTLOOM_WORKSPACE", str(ws.root))
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["verify", "--offline", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_verify_reports_the_time_stamped_signing_time(
    stamped_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    square = stamped_ws.out_dir / "tiny" / "en-US" / "students" / "square.png"
    code, out = _verify(stamped_ws, monkeypatch, "--json", str(square))
    report = json.loads(out)
    assert code == 0 and report["verdict"] == "VERIFIED", out
    assert report["time_stamp"] == "trusted" and report["signed_at"] is not None
    check = next(c for c in report["checks"] if c["name"] == "signing time")
    assert check["status"] == "pass" and "Loopback TSA" in check["detail"]
    day = report["signed_at"][:10]

    code, out = _verify(stamped_ws, monkeypatch, str(square))
    assert code == 0 and "signed at" in out and day in out and "trusted RFC 3161 time-stamp" in out, out


def test_tsa_roots_file_without_certificates_is_a_config_error(
    stamped_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = stamped_ws.root / "tsa-roots.pem"
    good = roots.read_text()
    roots.write_text("not a certificate\n")
    try:
        square = stamped_ws.out_dir / "tiny" / "en-US" / "students" / "square.png"
        with pytest.raises(ConfigError, match="tsa_roots"):
            _verify(stamped_ws, monkeypatch, str(square))
    finally:
        roots.write_text(good)


def test_tsa_down_stops_the_run_with_nothing_half_written(tmp_path: Path) -> None:
    studio = _workspace(tmp_path, dead_url(), None)
    try:
        with pytest.raises(TimeStampError) as err:
            _run(studio, tmp_path)
        assert err.value.hint is not None
        assert studio.log.size == 0
        assert Catalog(studio.db).fingerprints() == []
        assert [p for p in studio.workspace.out_dir.rglob("*") if p.is_file()] == []
    finally:
        studio.close()


def test_third_party_verifies_the_signing_time_with_tsa_roots(
    stamped_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside the workspace: the time is evidence only with the TSA's root given (--tsa-roots)."""
    monkeypatch.delenv("MINTLOOM_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    square = stamped_ws.out_dir / "tiny" / "en-US" / "students" / "square.png"
    ca = stamped_ws.keys_dir / "ca.pem"
    runner = CliRunner()
    base = ["verify", "--offline", "--json", "--trust", str(ca)]
    plain = json.loads(runner.invoke(app, [*base, str(square)]).stdout)
    assert (
        plain["verdict"] == "VERIFIED" and plain["time_stamp"] == "untrusted" and plain["signed_at"] is None
    )
    roots = str(stamped_ws.root / "tsa-roots.pem")
    timed = json.loads(runner.invoke(app, [*base, "--tsa-roots", roots, str(square)]).stdout)
    assert timed["verdict"] == "VERIFIED" and timed["time_stamp"] == "trusted" and timed["signed_at"]
