"""Dynamic creative through the API: validation (422 naming the field, nothing rendered), the
render scope, the rate limit, the cache (same CID, no second leaf), signed URLs, the QA fallback,
concurrency (one leaf for two identical requests) and the privacy of the live variables."""

from __future__ import annotations

import io
import json
import logging
import threading
from typing import Any

import c2pa
import pytest
from PIL import Image
from sqlalchemy import func, select

from mintloom.campaign.render_url import sign_query, url_key
from mintloom.campaign.sample import LONG_WEATHER, UNLAYABLE_WEATHER, dynamic_sample_spec
from mintloom.dynamic import DynamicRenderers
from mintloom.errors import DynamicVariableError
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.thumbnails import THUMB_EDGE, ThumbnailRow
from tests.api.access import bearer
from tests.conftest import PASSWORD
from tests.dynamic.conftest import Live, render_token

RAINY = {"weather": "rainy", "offer": 20, "price": 3.5, "currency": "EUR", "in_stock": True}


def _ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp


# --- cache and write-ahead ------------------------------------------------------------------------
def test_same_inputs_same_cid_no_second_leaf(live: Live) -> None:
    first = _ok(live.render(RAINY))
    size = live.log_size()
    assert first.headers["X-Mintloom-Cache"] == "miss"
    assert int(first.headers["X-Mintloom-Log-Index"]) == size - 1  # logged before the response
    again = _ok(live.render({**RAINY, "price": 3.50}))
    same = _ok(live.render({"weather": "rainy", "offer": 20, "price": 3.5}))  # the rest are defaults
    for r in (again, same):
        assert r.headers["X-Mintloom-CID"] == first.headers["X-Mintloom-CID"]
        assert r.headers["X-Mintloom-Cache"] == "hit"
        assert r.content == first.content
    assert live.log_size() == size
    other = _ok(live.render({**RAINY, "offer": 21}))
    assert other.headers["X-Mintloom-CID"] != first.headers["X-Mintloom-CID"]
    assert live.log_size() == size + 1
    assert "immutable" in first.headers["Cache-Control"], first.headers.get("X-Mintloom-Error")
    with Image.open(io.BytesIO(first.content)) as im:
        assert im.size == (300, 250)
    reader = c2pa.Reader("image/png", io.BytesIO(first.content))  # the credential is embedded
    assert json.loads(reader.json())["active_manifest"]


def test_a_repeated_request_is_answered_from_memory_without_the_catalog(live: Live) -> None:
    """A hit reads no asset or QA row (the token check is the only query) and no blob."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    first = _ok(live.render(RAINY))
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        again = _ok(live.render(RAINY))
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert again.headers["X-Mintloom-Cache"] == "hit" and again.content == first.content
    assert again.headers["X-Mintloom-CID"] == first.headers["X-Mintloom-CID"]
    touched = [q for q in seen if "assets" in q or "qa_reports" in q or "jobs" in q]
    assert touched == [], touched
    assert any("api_tokens" in q for q in seen)  # the listener did see this request's queries


def test_two_concurrent_identical_requests_make_one_leaf(live: Live) -> None:
    before = live.log_size()
    out: list[Any] = []
    threads = [threading.Thread(target=lambda: out.append(live.render(RAINY, "square"))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in out} == {200}
    assert len({r.headers["X-Mintloom-CID"] for r in out}) == 1
    assert live.log_size() == before + 1


# --- validation -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"wind": 3}, "wind"),
        ({"weather": "foggy"}, "weather"),
        ({"weather": 1}, "weather"),
        ({"offer": 91}, "offer"),
        ({"offer": 2.5}, "offer"),
        ({"offer": True}, "offer"),
        ({"price": "3.5"}, "price"),
        ({"price": -1}, "price"),
        ({"in_stock": "yes"}, "in_stock"),
        ({"in_stock": 1}, "in_stock"),
    ],
)
def test_invalid_variables_get_422_naming_the_field_and_render_nothing(
    live: Live, variables: dict[str, object], field: str
) -> None:
    resp = live.render(variables)
    assert resp.status_code == 422, resp.text
    assert repr(field) in resp.json()["error"]
    assert live.log_size() == 0 and Catalog(live.studio.db).assets() == []


def test_unknown_format_non_object_body_and_unknown_campaign(live: Live) -> None:
    bad = live.client.post("/campaigns/live/render?format=leaderboard", json={}, headers=live.auth)
    assert bad.status_code == 422 and bad.json()["error"].startswith("format 'leaderboard'")
    assert live.client.post("/campaigns/live/render", json=[1], headers=live.auth).status_code == 422
    assert live.client.post("/campaigns/live/render", content=b"{", headers=live.auth).status_code == 422
    assert live.client.post("/campaigns/tiny/render", json={}, headers=live.auth).status_code == 404
    assert live.log_size() == 0


# --- authentication and rate limit --------------------------------------------------------------------
def test_render_needs_a_live_token_with_the_render_scope(live: Live) -> None:
    url = "/campaigns/live/render"
    assert live.client.post(url, json={}).status_code == 401
    assert live.client.post(url, json={}, headers={"Authorization": "Bearer mlt_forged"}).status_code == 401
    for scopes in (("read",), ("publish",), ("admin",)):
        headers = render_token(live.studio, *scopes, name=scopes[0])
        assert live.client.post(url, json={}, headers=headers).status_code == 403
    assert live.log_size() == 0
    _ok(live.client.post(url, json={}, headers=live.auth))


@pytest.mark.parametrize("live_settings", ["anchorer = false\nburst = 2\nrate_per_second = 0.01\n"])
def test_rate_limit_per_token_answers_429_with_retry_after(live: Live) -> None:
    _ok(live.render({}))
    _ok(live.render({}))
    limited = live.render({})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    other = render_token(live.studio, name="other")  # another token has its own bucket
    _ok(live.client.post("/campaigns/live/render?format=medium-rectangle", json={}, headers=other))


# --- signed URLs --------------------------------------------------------------------------------------
def _signed(live: Live, params: list[tuple[str, str]], ttl: int = 60) -> str:
    key = url_key(live.studio.workspace.state_dir)
    return f"/campaigns/live/render?{sign_query(key, 'live', params, ttl)}"


def test_signed_url_renders_what_post_renders_and_refuses_forgeries(live: Live) -> None:
    params = [("weather", "rainy"), ("offer", "20"), ("price", "3.5"), ("in_stock", "true"),
              ("format", "medium-rectangle")]  # fmt: skip
    url = _signed(live, params)
    got = _ok(live.client.get(url))
    posted = _ok(live.render(RAINY))
    assert got.headers["X-Mintloom-CID"] == posted.headers["X-Mintloom-CID"]
    size = live.log_size()
    forged = [
        url.replace("offer=20", "offer=25"),  # altered variable
        url.replace("sig=", "sig=0"),
        url.split("&sig=")[0],  # no signature
        url + "&sig=" + "0" * 64,  # two signatures
        _signed(live, params, ttl=-5),  # expired
    ]
    for bad in forged:
        assert live.client.get(bad).status_code == 403, bad
    wrong_type = _signed(live, [("offer", "lots")])
    assert live.client.get(wrong_type).status_code == 422
    assert "'offer'" in live.client.get(wrong_type).json()["error"]
    assert live.log_size() == size


# --- QA fallback ----------------------------------------------------------------------------------------
def test_a_render_failing_blocking_qa_serves_the_fallback_and_says_why(live: Live) -> None:
    held = _ok(live.render({"weather": LONG_WEATHER}))
    assert held.headers["X-Mintloom-Fallback"] == "RenderHeldError"
    assert "QA" in held.headers["X-Mintloom-Error"]
    assert "copy_length" in held.headers["X-Mintloom-Error"]  # the failing rule, by name
    assert held.headers["Cache-Control"] == "no-store"
    fallback = _ok(live.render({"weather": "sunny", "offer": 0}))
    assert held.headers["X-Mintloom-CID"] == fallback.headers["X-Mintloom-CID"]
    assert held.content == fallback.content
    assert live.log_size() == 2  # the held render is logged too (the log records what was made)
    again = _ok(live.render({"weather": LONG_WEATHER}))  # cached, still the fallback
    assert again.headers["X-Mintloom-Fallback"] == "RenderHeldError"
    assert live.log_size() == 2


def test_a_render_that_cannot_be_laid_out_serves_the_fallback_and_logs_nothing(live: Live) -> None:
    fallback = _ok(live.render({"weather": "sunny", "offer": 0}))
    failed = _ok(live.render({"weather": UNLAYABLE_WEATHER}))
    assert failed.headers["X-Mintloom-Fallback"] == "RenderFailedError"
    assert "laid out" in failed.headers["X-Mintloom-Error"]
    assert "dyn-" not in failed.headers["X-Mintloom-Error"]
    assert failed.headers["X-Mintloom-CID"] == fallback.headers["X-Mintloom-CID"]
    assert live.log_size() == 1


# --- privacy ---------------------------------------------------------------------------------------------
CANARY = {"weather": "canaryweather", "offer": 73, "price": 8642.1357, "currency": "USD", "in_stock": False}


@pytest.mark.parametrize("live_spec", [dynamic_sample_spec().replace("snowy", "snowy, canaryweather")])
def test_live_variables_never_reach_manifest_headers_logs_or_api(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    resp = _ok(live.render(CANARY))
    cid = resp.headers["X-Mintloom-CID"]
    reader = c2pa.Reader("image/png", io.BytesIO(resp.content))
    manifest = reader.json()
    catalog_row = Catalog(live.studio.db).asset(cid)
    assert catalog_row is not None
    read = bearer(live.studio.db)
    api = [live.client.get(path, headers=read) for path in (f"/assets/{cid}", "/assets")]
    assert [r.status_code for r in api] == [200, 200]
    texts = {
        "manifest": manifest,
        "headers": json.dumps(dict(resp.headers)),
        "logs": caplog.text,
        "api asset": api[0].text,
        "api assets": api[1].text,
        "catalog path": f"{catalog_row.path} {catalog_row.segment} {catalog_row.tags}",
        "xmp": resp.content.decode("latin-1"),
    }
    for value in ("canaryweather", "8642", "1357", "8,642"):
        for where, text in texts.items():
            assert value not in text, f"{value!r} leaked into the {where}"
    assert "73%" not in manifest and '"offer"' not in manifest


def test_render_url_cli_prints_a_url_the_server_accepts(live: Live) -> None:
    from typer.testing import CliRunner

    from mintloom.cli.main import app as cli

    out = CliRunner().invoke(cli, ["render-url", "live", "-v", "weather=snowy", "-v", "offer=5",
                                   "--format", "square", "--base", "http://ads.example"])  # fmt: skip
    assert out.exit_code == 0, out.output
    url = "".join(out.output.split())
    assert url.startswith("http://ads.example/campaigns/live/render?")
    got = _ok(live.client.get(url.removeprefix("http://ads.example")))
    posted = _ok(live.render({"weather": "snowy", "offer": 5}, "square"))
    assert got.headers["X-Mintloom-CID"] == posted.headers["X-Mintloom-CID"]
    bad = CliRunner().invoke(cli, ["render-url", "live", "-v", "weather"])
    assert isinstance(bad.exception, DynamicVariableError) and "name=value" in str(bad.exception)


def test_checking_a_url_never_creates_the_key(live: Live) -> None:
    key = live.studio.workspace.state_dir / "render-url.key"
    assert not key.exists()
    resp = live.client.get("/campaigns/live/render?weather=rainy&exp=9999999999&sig=" + "0" * 64)
    assert resp.status_code == 403 and "issued no render URL" in resp.json()["error"]
    assert not key.exists() and live.log_size() == 0


def test_a_broken_dynamic_spec_answers_without_the_servers_paths(
    studio: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spec's load error names files of the server: the caller gets a generic 500."""
    from fastapi.testclient import TestClient

    from mintloom.api.app import create_app
    from mintloom.api.runs import PASSWORD_ENV
    from tests.conftest import PASSWORD
    from tests.dynamic.conftest import serve_dynamic

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    served = serve_dynamic(studio, "anchorer = false\n", spec="campaign: live\nformats: [nonsense\n")
    try:
        with TestClient(create_app(served, offline=True)) as c:
            r = c.post("/campaigns/live/render", json={}, headers=render_token(served))
        assert r.status_code == 500 and r.json()["error"] == "the workspace is misconfigured"
        assert str(served.workspace.root) not in r.text and "campaign.yaml" not in r.text
    finally:
        served.close()


def test_a_render_stores_its_workers_thumbnail_with_it(live: Live) -> None:
    """The studio's gallery shows served renders from a stored thumbnail, made by the render's
    worker from its pixels and committed with it (a GET writes none, and decoding on the render's
    path is not done)."""
    r = _ok(live.render({**RAINY, "offer": 33}))
    cid = r.headers["X-Mintloom-CID"]
    with live.studio.db.session() as s:
        row = s.get(ThumbnailRow, cid)
    assert row is not None and max(row.width, row.height) <= THUMB_EDGE
    assert live.studio.blobs.get(row.thumb_cid)[:2] == b"\xff\xd8"


def test_a_job_another_process_finished_first_leaves_no_row_of_its_own(live: Live) -> None:
    """`serve --workers 2`: two processes may render the same new job at once. The second to commit
    signed other bytes (its manifest differs), so its batch catalogues nothing: no second leaf, and
    no thumbnail of bytes without an asset (that insert failed the commit, a 500 in CI)."""
    first = _ok(live.render({**RAINY, "offer": 41}))
    other = DynamicRenderers(live.studio.workspace, live.studio.settings.dynamic, PASSWORD)  # a 2nd worker
    try:
        renderer = other.renderer("live")
        values, fmt = renderer.variables({**RAINY, "offer": 41}), renderer.format("medium-rectangle")
        before = live.log_size()
        job = renderer._job(values, fmt)
        renderer._generate(job, values, fmt)  # its cache check ran before ours committed
        assert live.log_size() == before
        with live.studio.db.session() as s:
            thumbs = select(func.count()).select_from(ThumbnailRow)
            owned = thumbs.join(AssetRow, AssetRow.cid == ThumbnailRow.cid)
            assert s.scalar(thumbs) == s.scalar(owned)
        again = renderer.render({**RAINY, "offer": 41}, "medium-rectangle")
        assert again.cid == first.headers["X-Mintloom-CID"] and again.cached
    finally:
        other.close()


def test_an_unreadable_stored_qa_report_leaves_the_generic_held_message() -> None:
    """The fallback's X-Mintloom-Error names the failing rules (see the QA fallback test above); a
    stored report that no longer parses (an older schema, a damaged row) adds nothing, not a 500."""
    from mintloom.campaign.dynamic import _reasons

    assert _reasons('{"findings": 3}') == ""
    assert _reasons("not json") == ""
