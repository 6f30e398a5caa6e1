"""The API runs a campaign through the Pipeline, behind scoped bearer tokens: refused without a
(live, scoped) token, for a spec outside the workspace and without a key password; a real run on
anvil reports typed progress in stage order and a public summary, and its files verify."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mintloom.api.app import create_app
from mintloom.api.limits import MAX_RUN_BODY
from mintloom.api.runs import PASSWORD_ENV
from mintloom.campaign.sample import AUDIENCE_ROWS, sample_audience, sample_spec, write_sample_campaign
from mintloom.chain_lookup import verify_context
from mintloom.cli.console import close_studios
from mintloom.cli.main import app as cli
from mintloom.ledger.node import NodeInfo
from mintloom.progress import Stage
from mintloom.store.catalog import Catalog
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from mintloom.verify.verifier import verify_path
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("anvil")

SEGMENTS = [row.split(",")[0] for row in AUDIENCE_ROWS[:1]]
SPEC = sample_spec(formats=("square", "leaderboard"))  # 1 segment: 4 images, 2 copy, 1 sound logo


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def token(studio: Studio, *scopes: str, name: str | None = None) -> str:
    return TokenStore(studio.db).create(name or "-".join(scopes), scopes)[1]


@contextmanager
def client(studio: Studio) -> Iterator[TestClient]:
    with TestClient(create_app(studio, offline=True)) as c:
        yield c


def campaign(ws: Workspace) -> str:
    path = write_sample_campaign(ws.root / "campaign", SPEC, sample_audience(1))
    return path.relative_to(ws.root).as_posix()


def nothing_ran(studio: Studio) -> bool:
    return Catalog(studio.db).assets() == [] and not any(studio.workspace.out_dir.rglob("*"))


def wait(c: TestClient, run_id: str, headers: dict[str, str], seconds: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body: dict[str, Any] = c.get(f"/runs/{run_id}", headers=headers).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.2)
    pytest.fail(f"run {run_id} did not end in {seconds}s")


# --- authentication -------------------------------------------------------------------------------
def test_runs_need_a_live_token_with_the_scope(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    spec = campaign(studio.workspace)
    reader, publisher = token(studio, "read"), token(studio, "publish")
    revoked = token(studio, "publish", "read", name="old")
    TokenStore(studio.db).revoke("old")
    with client(studio) as c:
        for headers in ({}, bearer("mlt_forged"), bearer(publisher + "x"), bearer(revoked),
                        {"Authorization": f"Basic {publisher}"}, {"Authorization": publisher}):  # fmt: skip
            r = c.post("/runs", json={"spec": spec}, headers=headers)
            assert r.status_code == 401, (headers, r.text)
            assert r.headers["WWW-Authenticate"] == "Bearer"
            assert c.get("/runs/abc", headers=headers).status_code == 401
        r = c.post("/runs", json={"spec": spec}, headers=bearer(reader))
        assert r.status_code == 403 and "publish" in r.json()["error"]
        for secret in (reader, publisher):  # either scope reads runs: an unknown one is 404
            assert c.get("/runs/abc", headers=bearer(secret)).status_code == 404
        assert c.get("/health").status_code == 200  # the public routes stay public
    assert nothing_ran(studio)


def test_a_gigantic_run_body_is_refused_before_it_is_read(studio: Studio) -> None:
    """No token is needed to send a body: its size is refused first (declared or chunked)."""
    huge = b'{"spec": "' + b"a" * (MAX_RUN_BODY + 1) + b'"}'
    with client(studio) as c:
        declared = c.post("/runs", content=huge, headers={"Content-Type": "application/json"})
        chunked = c.post("/runs", content=iter([huge[:1000], huge[1000:]]), headers=bearer("mlt_x"))
    assert (declared.status_code, chunked.status_code) == (413, 413), (declared.text, chunked.text)
    assert str(MAX_RUN_BODY) in declared.json()["error"]
    assert nothing_ran(studio)


def test_hostile_spec_paths_are_refused_and_nothing_is_written(
    studio: Studio, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    ws = studio.workspace
    campaign(ws)
    outside = write_sample_campaign(tmp_path / "outside", SPEC, sample_audience(1))
    (ws.root / "link.yaml").symlink_to(outside)
    (ws.root / "linkdir").symlink_to(outside.parent)
    (ws.root / "state").symlink_to(ws.state_dir)  # a link to the keys and catalog, inside the workspace
    rel_out = Path("..") / outside.relative_to(tmp_path)
    hostile = [
        "../outside/campaign.yaml",
        str(outside),
        "/etc/passwd",
        "link.yaml",
        "linkdir/" + outside.name,
        f"campaign/../{rel_out}",
        "campaign/\0campaign.yaml",
        "campaign",
        "missing.yaml",
        " ",
        "campaign\\..\\..\\x.yaml",
        "/dev/zero",
        "..",
        ".",
        ".mintloom/catalog.db",
        "campaign/../.mintloom/keys/../catalog.db",
        "state/catalog.db",
    ]
    secret = token(studio, "publish")
    with client(studio) as c:
        for spec in hostile:
            r = c.post("/runs", json={"spec": spec}, headers=bearer(secret))
            assert r.status_code == 422, (spec, r.text)
            assert str(tmp_path) not in r.text  # no path of the machine echoed back
        for body in ({"spec": "campaign/campaign.yaml", "extra": 1}, {"spec": "c.yaml", "workers": 0},
                     {"spec": "c.yaml", "anchor": False}, {}):  # fmt: skip
            assert c.post("/runs", json=body, headers=bearer(secret)).status_code == 422, body
    assert nothing_ran(studio)


def test_a_run_needs_the_key_password_of_the_server(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    spec, secret = campaign(studio.workspace), token(studio, "publish")
    with client(studio) as c:
        r = c.post("/runs", json={"spec": spec}, headers=bearer(secret))
    assert r.status_code == 503 and PASSWORD_ENV in r.json()["hint"]
    assert nothing_ran(studio)


def test_token_secrets_are_stored_hashed_and_never_listed(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mintloom.cli.console.console.width", 200)
    runner = CliRunner()
    try:
        made = runner.invoke(cli, ["tokens", "create", "ci", "--scope", "publish", "--scope", "read"])
        listed = runner.invoke(cli, ["tokens", "list"])
        bad = runner.invoke(cli, ["tokens", "create", "x", "--scope", "root"])
    finally:
        close_studios()
    assert made.exit_code == 0, made.output
    secret = next(w for w in made.output.split() if w.startswith("mlt_"))
    assert len(secret) == 4 + 43  # 32 random bytes, urlsafe base64 without padding
    assert listed.exit_code == 0 and "ci" in listed.output and "publish read" in listed.output
    assert secret not in listed.output and secret[4:20] not in listed.output
    assert bad.exit_code != 0
    stored = b"".join(p.read_bytes() for p in workspace.state_dir.rglob("catalog.db*"))
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored  # the right database
    assert secret.encode() not in stored and secret[4:].encode() not in stored
    with Studio(workspace) as s:
        tokens = TokenStore(s.db)
        found = tokens.authenticate(secret)
        assert found is not None and found.scopes == {"publish", "read"}
        assert tokens.authenticate(secret[:-1]) is None and tokens.authenticate(secret[4:]) is None


# --- a real run -------------------------------------------------------------------------------------
def test_a_run_through_the_api_succeeds_reports_progress_and_verifies(
    studio: Studio, anvil: NodeInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    ws = studio.workspace
    spec, publisher, reader = campaign(ws), token(studio, "publish"), token(studio, "read")
    with client(studio) as c:
        r = c.post("/runs", json={"spec": spec, "workers": 1}, headers=bearer(publisher))
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        second = c.post("/runs", json={"spec": spec}, headers=bearer(publisher))
        assert second.status_code == 409, second.text  # one run at a time per workspace
        body = wait(c, run_id, bearer(reader))
        raw = c.get(f"/runs/{run_id}", headers=bearer(reader)).text
        again = c.post("/runs", json={"spec": spec}, headers=bearer(publisher))
        assert again.status_code == 202  # the workspace is free again: a re-POST resumes
        resumed = wait(c, again.json()["id"], bearer(publisher))
    assert body["status"] == "succeeded", body["error"]
    assert body["error"] is None
    seen = [Stage(e["stage"]) for e in body["events"]]  # the latest event of each stage
    assert len(seen) == len(set(seen)) and seen == sorted(seen, key=list(Stage).index)  # stage order
    for must in (Stage.LOAD, Stage.PLAN, Stage.GENERATE, Stage.CHECKPOINT, Stage.ANCHOR, Stage.PUBLISH):
        assert must in seen, must
    generate = [e for e in body["events"] if e["stage"] == "generate"]
    assert [(e["done"], e["total"]) for e in generate] == [(7, 7)]
    s = body["summary"]
    assert (s["campaign"], s["planned"], s["skipped"]) == ("tiny", 7, 0)
    assert s["generated"] == {"image": 4, "copy": 2, "audio": 1}
    assert s["log_size"] == s["checkpoint_size"] == s["anchored_size"] == 7
    assert s["anchor_tx"].startswith("0x") and isinstance(s["split_id"], int)
    # privacy: no segment name, no path of the machine, no copy text in the status
    assert '"campaign":"tiny"' in raw  # the check below reads the real status
    for secret_text in [*SEGMENTS, str(ws.root), "Alex", "Berlin"]:
        assert secret_text not in raw, secret_text
    assert resumed["status"] == "succeeded" and resumed["summary"]["skipped"] == 7
    assert resumed["summary"]["generated"] == {}
    exported = sorted(p for p in ws.out_dir.rglob("*.png"))
    assert exported
    ctx = verify_context(studio)
    assert verify_path(exported[0], ctx).verdict.value == "VERIFIED"


def test_a_failed_run_reports_its_error_without_a_traceback_or_path(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spec that does not load fails the run (message and hint, the workspace path masked) and
    frees the workspace for the next run."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    ws = studio.workspace
    (ws.root / "broken.yaml").write_text("name: [unclosed\n")
    secret = token(studio, "publish")
    with client(studio) as c:
        for _ in range(2):  # the failure released the workspace: the second POST is accepted too
            r = c.post("/runs", json={"spec": "broken.yaml"}, headers=bearer(secret))
            assert r.status_code == 202, r.text
            body = wait(c, r.json()["id"], bearer(secret), seconds=60)
            assert body["status"] == "failed" and body["summary"] is None
            assert body["error"]["error"] and "Traceback" not in str(body)
            assert str(ws.root) not in str(body) and "broken.yaml" in body["error"]["error"]
            assert [e["stage"] for e in body["events"]] == ["load"]  # started, never ended
    assert nothing_ran(studio)


def test_authenticating_writes_nothing(workspace: Workspace) -> None:
    """Checking a token (valid, revoked or forged) only reads: the workspace is byte-identical."""
    from tests.api.test_read_only import _snapshot

    with Studio(workspace) as s:
        live = token(s, "read")
        gone = token(s, "publish", name="gone")
        TokenStore(s.db).revoke("gone")
    before = _snapshot(workspace.root)
    studio = Studio(workspace)  # as `mintloom serve` opens it
    try:
        with client(studio) as c:
            assert c.get("/runs/nope", headers=bearer(live)).status_code == 404
            assert c.post("/runs", json={"spec": "c.yaml"}, headers=bearer(live)).status_code == 403
            for secret in (gone, "mlt_forged"):
                assert c.get("/runs/nope", headers=bearer(secret)).status_code == 401
    finally:
        studio.close()
    assert _snapshot(workspace.root) == before
