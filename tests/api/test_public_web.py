"""The public side of `mintloom serve`: the verify page, public asset pages, security headers on
every response, the rate limit on POST /verify, the bind rule, and that no route outside an
explicit public list answers without credentials (routes enumerated from the app itself)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount
from typer.testing import CliRunner

from mintloom.api.app import create_app
from mintloom.api.limits import MAX_UPLOAD_BOUND
from mintloom.api.security import CSP, TokenBuckets, VerifyRate, check_bind, is_loopback
from mintloom.cli.console import close_studios
from mintloom.cli.main import app as cli
from mintloom.cli.verify import _MEANING
from mintloom.errors import ConfigError, MintloomError, UnsafeBindError
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.files import MAX_SIDECAR_BYTES, MAX_VERIFY_BYTES
from mintloom.store.tokens import SCOPES, TokenInfo, TokenStore
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.api.access import PUBLIC, bearer


def _row(studio: Studio, kind: str) -> AssetRow:
    return next(r for r in Catalog(studio.db).assets() if r.kind == kind)


def _invoke(*args: str) -> tuple[int, str]:
    """Exit code and output as the CLI's error boundary (``mintloom.cli.main.run``) gives them."""
    try:
        result = CliRunner().invoke(cli, list(args))
    finally:
        close_studios()
    if isinstance(result.exception, MintloomError):
        return result.exception.exit_code, str(result.exception)
    return result.exit_code, result.output


def _cli(ran: Workspace, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("MINTLOOM_WORKSPACE", str(ran.root))
    return _invoke(*args)


# --- the verify page ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/verify"])
def test_verify_page_posts_to_the_api_and_knows_the_cli_words(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert re.search(r'<form id="verify-form"[^>]*action="http://testserver/verify"[^>]*method="post"', html)
    assert '<label for="file"' in html and 'id="file" name="file" type="file"' in html
    words = json.loads(re.findall(r'<script type="application/json" id="meanings">(.*?)</script>', html)[0])
    assert words == {str(v): m for v, m in _MEANING.items()}
    assert "<script>" not in html  # no inline script: the CSP forbids it
    assert 'src="http://testserver/public/static/verify.js"' in html


def test_static_files_are_an_allow_list(client: TestClient) -> None:
    js = client.get("/public/static/verify.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "textContent" in js.text and "innerHTML" not in js.text  # the report is never markup
    for name in ("..%2Fpages.py", "pages.py", "..%2F..%2Fapp.py", "%2Fetc%2Fpasswd"):
        got = client.get(f"/public/static/{name}")
        assert got.status_code == 404 and "def " not in got.text and "root:" not in got.text


# --- public asset pages ---------------------------------------------------------------------------
def test_an_asset_page_exists_only_once_publicised_and_shows_no_segment(
    anon: TestClient, api_studio: Studio, ran: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = _row(api_studio, "image")
    assert row.segment  # the sample campaign's image is personalised by audience segment
    for path in (f"/a/{row.cid}", f"/a/{row.cid}/file"):
        hidden, unknown = anon.get(path), anon.get(path.replace(row.cid, row.cid[:-4] + "aaaa"))
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json()["hint"] == unknown.json()["hint"]  # a private asset is not confirmed to exist
    code, out = _cli(ran, monkeypatch, "assets", "publicise", row.cid)
    assert code == 0, out
    page = anon.get(f"/a/{row.cid}")
    assert page.status_code == 200 and row.cid in page.text and f"/a/{row.cid}/file" in page.text
    assert row.segment not in page.text and row.path not in page.text and str(row.seed) not in page.text
    file = anon.get(f"/a/{row.cid}/file")  # the public page's file: no token (the read API needs one)
    assert file.status_code == 200 and file.content == api_studio.blobs.get(row.cid)
    assert anon.get(f"/assets/{row.cid}/content").status_code == 401
    assert _cli(ran, monkeypatch, "assets", "public")[1].split() == [row.cid]
    assert _cli(ran, monkeypatch, "assets", "privatise", row.cid)[0] == 0
    assert anon.get(f"/a/{row.cid}").status_code == anon.get(f"/a/{row.cid}/file").status_code == 404


def test_personalised_copy_cannot_be_publicised(
    client: TestClient, api_studio: Studio, ran: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = _row(api_studio, "copy")
    code, out = _cli(ran, monkeypatch, "assets", "publicise", row.cid)
    assert code == 10 and "personalised content is never public" in out
    assert client.get(f"/a/{row.cid}").status_code == client.get(f"/a/{row.cid}/file").status_code == 404
    code, out = _cli(ran, monkeypatch, "assets", "publicise", "bafkreinotacid")
    assert code == 10 and "no asset" in out


# --- security headers -----------------------------------------------------------------------------
def _assert_secure(r: object) -> None:
    headers = r.headers  # type: ignore[attr-defined]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_every_kind_of_response_carries_the_security_headers(
    client: TestClient, anon: TestClient, api_studio: Studio
) -> None:
    row = _row(api_studio, "image")
    responses = [
        client.get("/"),
        client.get("/health"),
        client.get(f"/assets/{row.cid}/content"),
        client.get("/public/static/verify.js"),
        client.get("/no/such/route"),
        client.get("/assets", params={"limit": "x"}),
        client.post("/verify", content=b"x", headers={"content-length": str(10**12)}),
        client.post("/runs", json={"spec": "x"}),  # a read token cannot publish
        anon.get("/assets"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 404, 422, 413, 403, 401]
    for r in responses:
        _assert_secure(r)
        assert r.headers["content-security-policy"] == CSP
    script_src = CSP.split("script-src ")[1].split(";")[0]
    assert script_src == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no other origin


def test_the_docs_page_policy_allows_exactly_its_own_inline_script(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    _assert_secure(r)
    policy = r.headers["content-security-policy"]
    scripts = re.findall(r"<script>(.*?)</script>", r.text, flags=re.S)
    assert scripts
    for s in scripts:
        digest = base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src ")[1].split(";")[0]


# --- rate limit -----------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_its_rate_and_forgets_the_least_recent() -> None:
    clock = Clock()
    buckets = TokenBuckets(per_minute=60, burst=3, max_keys=2, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)
    clock.now = 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now = 1.0
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    assert buckets.take("b") == 0.0 and buckets.take("c") == 0.0  # "a" is forgotten: full again
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_verify_beyond_the_rate_is_429_with_retry_after_per_client(api_studio: Studio) -> None:
    app = create_app(api_studio, offline=True, verify_rate=VerifyRate(per_minute=1, burst=2))
    upload = {"file": ("a.bin", b"x" * 10)}
    with TestClient(app, client=("203.0.113.7", 4000)) as c:
        assert [c.post("/verify", files=upload).status_code for _ in range(2)] == [200, 200]
        refused = c.post("/verify", files=upload)
        assert refused.status_code == 429
        assert refused.json()["error"] == "too many verifications from this client"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        _assert_secure(refused)
        huge = c.post("/verify", content=b"x", headers={"content-length": str(10**12)})
        assert huge.status_code == 429  # refused before the body is even considered
        assert c.get("/health").status_code == 200 and c.get("/").status_code == 200  # GETs are not limited
    with TestClient(app, client=("198.51.100.9", 4000)) as other:
        assert other.post("/verify", files=upload).status_code == 200  # another client has its own bucket


# --- bind rule ------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "127.0.0.1.example.com", "example.com", ""])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_binding_beyond_loopback_needs_a_live_admin_token(workspace: Workspace) -> None:
    with Studio(workspace) as s:
        tokens = TokenStore(s.db)
        check_bind("127.0.0.1", tokens)
        with pytest.raises(UnsafeBindError, match=r"refusing to listen on 0\.0\.0\.0"):
            check_bind("0.0.0.0", tokens)
        tokens.create("reader", ["read", "review", "publish"])
        tokens.create("boss", ["admin"])
        tokens.revoke("boss")
        with pytest.raises(UnsafeBindError):  # no admin scope, or a revoked one, is no admin
            check_bind("0.0.0.0", tokens)
        check_bind("0.0.0.0", tokens, allow_unauthenticated=True)
        tokens.create("admin", ["admin"])
        check_bind("0.0.0.0", tokens)


def test_serve_on_all_interfaces_without_auth_exits_with_the_config_code(workspace: Workspace) -> None:
    code, out = _invoke("serve", "--host", "0.0.0.0", "--port", "1")
    assert code == UnsafeBindError.exit_code == 2
    assert "refusing to listen on 0.0.0.0" in out and "--scope admin" in out


# --- no unauthenticated access outside the public list --------------------------------------------
def _operations(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, mounts included (as GET of their root)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):  # routers included flattened, with their prefix
        path = route.path
        assert path is not None, route
        if isinstance(route.original_route, Mount):
            found.add(("GET", path + "/{path}"))
        else:
            assert route.methods, f"a route without methods: {route!r}"
            found |= {(m, path) for m in route.methods} - {("HEAD", path)}
    return found


def _concrete(path: str) -> str:
    """A request path for a route path: each parameter filled with a well-formed value."""
    return re.sub(r"\{[^}]+\}", "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", path)


def test_the_public_list_names_only_routes_that_exist(app: FastAPI) -> None:
    assert _operations(app) >= PUBLIC


def test_every_route_outside_the_public_list_refuses_a_request_without_credentials(app: FastAPI) -> None:
    protected = sorted(_operations(app) - PUBLIC)
    assert ("POST", "/runs") in protected and ("GET", "/runs/{run_id}") in protected
    with TestClient(app, follow_redirects=False) as c:
        for method, path in protected:
            r = c.request(method, _concrete(path), json={})
            assert r.status_code in {401, 303}, (method, path, r.status_code, r.text)
            if r.status_code == 303:
                assert "login" in r.headers["location"], (method, path)
            else:
                assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("scopes", "status"),
    [(("read",), 200), (("review",), 200), (("publish",), 200), (("admin",), 200), (("render",), 403)],
)
def test_the_read_api_admits_each_scope_that_implies_read(
    app: FastAPI, api_studio: Studio, scopes: tuple[str, ...], status: int
) -> None:
    """admin ⊇ publish, review ⊇ read; a render token (handed to ad servers) reads nothing."""
    headers = bearer(api_studio.db, *scopes)
    cid = _row(api_studio, "image").cid
    with TestClient(app) as c:
        paths = ("/assets", f"/assets/{cid}/content", "/log/checkpoint", "/search?q=kind:image", "/runs/x")
        for path in paths:
            got = c.get(path, headers=headers).status_code
            assert got == (404 if path == "/runs/x" and status == 200 else status), (scopes, path, got)


def test_scope_order() -> None:
    made = dt.datetime.now(dt.UTC)
    token = {s: TokenInfo("t", frozenset({s}), made, revoked=False) for s in SCOPES}
    assert {s for s in SCOPES if token["admin"].grants(s)} == {"admin", "publish", "review", "read"}
    assert {s for s in SCOPES if token["publish"].grants(s)} == {"publish", "read"}
    assert {s for s in SCOPES if token["review"].grants(s)} == {"review", "read"}
    assert {s for s in SCOPES if token["read"].grants(s)} == {"read"}
    assert {s for s in SCOPES if token["render"].grants(s)} == {"render"}


def test_a_forged_or_foreign_token_is_no_credential(app: FastAPI, tmp_path: Path) -> None:
    with Studio(Workspace.init(tmp_path / "other")) as elsewhere:
        foreign = TokenStore(elsewhere.db).create("x", ["admin"])[1]  # valid, but another workspace's
    with TestClient(app) as c:
        for secret in (foreign, "mlt_" + "A" * 43, "", "Bearer"):
            r = c.get("/runs/some-run", headers={"Authorization": f"Bearer {secret}"})
            assert r.status_code == 401


@pytest.mark.parametrize("limit", [0, -1, MAX_UPLOAD_BOUND + 1, 10**12])
def test_an_upload_limit_beyond_the_cli_verify_bounds_is_refused(api_studio: Studio, limit: int) -> None:
    with pytest.raises(ConfigError, match="outside 1\\.\\."):
        create_app(api_studio, offline=True, max_upload_bytes=limit)
    assert MAX_UPLOAD_BOUND == MAX_VERIFY_BYTES + MAX_SIDECAR_BYTES  # what `mintloom verify` reads
