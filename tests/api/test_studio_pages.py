"""The web studio, attacked over HTTP: visitors are sent to the login, forms without the session's
CSRF token or the needed scope are refused by name, revoked tokens end sessions, the gallery pages
and filters agree with the catalog, thumbnails are made with the assets and a GET stores none, an
approval is a signed decision."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, text

from mintloom.api.app import create_app
from mintloom.api.studio.chain_pages import REVIEWER_KEY_ENV, REVIEWER_PASSWORD_ENV
from mintloom.api.studio.session import COOKIE
from mintloom.campaign.sample import AUDIENCE_ROWS
from mintloom.governance.review import decide, draw
from mintloom.provenance.keys import LocalSigner
from mintloom.provenance.review import REVIEWER_UNIT, save_reviewer, verified_decision
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.cid import cid_for
from mintloom.store.gallery import PAGE, GalleryFilters, page_query
from mintloom.store.reviews import ReviewDecisionRow, Reviews, ReviewSampleRow
from mintloom.store.thumbnails import THUMB_EDGE, ThumbnailRow, Thumbnails, render_thumbnail
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD

PAGES = (
    "/studio/campaigns",
    "/studio/campaigns/tiny",
    "/studio/review",
    "/studio/royalties",
    "/studio/market",
)
FORMS = ("/studio/logout", "/studio/review/draw", "/studio/review/decide", "/studio/royalties/claim")
SEGMENTS = [row.split(",")[0] for row in AUDIENCE_ROWS]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def ws(ran: Workspace) -> Iterator[Studio]:
    """The workspace where the sample campaign "tiny" (17 assets) ran, with its key password."""
    studio = Studio(ran, password=PASSWORD)
    yield studio
    studio.close()


@pytest.fixture
def client(ws: Studio) -> Iterator[TestClient]:
    with TestClient(create_app(ws, offline=True), follow_redirects=False) as c:
        yield c


_made = iter(range(10_000))


def token(studio: Studio, *scopes: str, name: str | None = None) -> str:
    return TokenStore(studio.db).create(name or f"t{next(_made)}-{'-'.join(scopes)}", scopes)[1]


def samples_drawn(studio: Studio) -> list[tuple[str, object]]:
    with studio.db.session() as s:
        return [(r.group_id, r.drawn_at) for r in s.scalars(select(ReviewSampleRow))]


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def login(c: TestClient, secret: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    form = c.get("/studio/login")
    r = c.post("/studio/login", data={"token": secret, "csrf": csrf_of(form.text), "next": "/studio/review"})
    assert r.status_code == 303 and r.headers["location"] == "/studio/review", r.text
    return csrf_of(c.get("/studio/campaigns").text)


def first_asset(studio: Studio, kind: str = "image") -> AssetRow:
    return Catalog(studio.db).assets("tiny", kind=kind)[0]


# --- login and sessions ----------------------------------------------------------------------------
def test_a_visitor_is_sent_to_the_login_and_cannot_post(ws: Studio, client: TestClient) -> None:
    cid = first_asset(ws).cid
    paths = ("", "/file", "/receipt")
    for path in (*PAGES, *(f"/studio/assets/{cid}{p}" for p in paths), f"/studio/thumbs/{cid}"):
        r = client.get(path)
        assert r.status_code == 303, path
        assert all(seg not in r.text for seg in SEGMENTS), "a visitor saw a segment name"
        assert r.headers["location"].startswith("/studio/login?next=%2Fstudio%2F"), path
    for path in FORMS:
        r = client.post(path, data={"csrf": "x", "group": "tiny/image/en-US/square", "decision": "approve",
                                    "campaign": "tiny"})  # fmt: skip
        assert r.status_code == 401 and r.json()["error"] == "log in to the studio first", path


def test_login_sets_a_strict_httponly_signed_cookie_and_every_page_renders(
    ws: Studio, client: TestClient
) -> None:
    form = client.get("/studio/login")
    assert form.status_code == 200 and 'for="token"' in form.text
    r = client.post("/studio/login", data={"token": token(ws, "read"), "csrf": csrf_of(form.text)})
    cookie = r.headers["set-cookie"]
    assert r.status_code == 303 and r.headers["location"] == "/studio/campaigns"
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/studio" in cookie
    assert "mlt_" not in cookie, "the session cookie must not carry the token's secret"
    again = client.get("/studio/login")  # a logged-in user is not logged out by the login page
    assert again.status_code == 303 and again.headers["location"] == "/studio/campaigns"
    asset, copy = first_asset(ws), first_asset(ws, "copy")
    for path in (*PAGES, f"/studio/assets/{asset.cid}", f"/studio/assets/{copy.cid}"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert "text/html" in page.headers["content-type"] and "no-store" in page.headers["cache-control"]
    detail = client.get(f"/studio/assets/{asset.cid}").text
    assert 'id="manifest-tree"' in detail and "Actions (" in detail and "Generation" in detail
    assert asset.segment and asset.segment in detail, "logged-in users see the segment"
    arabic = next(r for r in Catalog(ws.db).assets("tiny", kind="copy") if r.locale == "ar-EG")
    assert re.search(
        r'<div class="copy" lang="ar-EG" dir="rtl">', client.get(f"/studio/assets/{arabic.cid}").text
    )
    summary = client.get("/studio/campaigns").text
    kinds = {
        k: sum(1 for r in Catalog(ws.db).assets("tiny") if r.kind == k) for k in ("image", "copy", "audio")
    }
    assert all(f"{n} {k}" in summary for k, n in kinds.items()), summary
    for row in (asset, copy):  # the bytes, sandboxed: a hostile SVG or HTML-ish file runs no script
        r = client.get(f"/studio/assets/{row.cid}/file")
        assert r.status_code == 200 and r.content == ws.blobs.get(row.cid)
        assert (
            "sandbox" in r.headers["content-security-policy"]
            and r.headers["x-content-type-options"] == "nosniff"
        )


def test_unknown_revoked_and_tampered_credentials_get_no_session(ws: Studio, client: TestClient) -> None:
    form = client.get("/studio/login")
    r = client.post("/studio/login", data={"token": "mlt_" + "A" * 43, "csrf": csrf_of(form.text)})
    assert r.status_code == 401 and "unknown or revoked token" in r.text
    login(client, token(ws, "read", name="revoke-me"))
    assert client.get("/studio/campaigns").status_code == 200
    TokenStore(ws.db).revoke("revoke-me")
    assert client.get("/studio/campaigns").status_code == 303, "a revoked token must end its sessions"
    client.cookies.set(COOKIE, "eyJjIjoieCIsInQiOiJ5In0.forged.signature", path="/studio")
    assert client.get("/studio/campaigns").status_code == 303


def test_login_never_redirects_off_the_studio(ws: Studio, client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/studio/\\evil", "javascript:alert(1)"):
        client.cookies.clear()
        form = client.get("/studio/login")
        data = {"token": token(ws, "read"), "csrf": csrf_of(form.text), "next": target}
        r = client.post("/studio/login", data=data)
        assert r.status_code == 303 and r.headers["location"] == "/studio/campaigns", target


# --- CSRF and scopes -------------------------------------------------------------------------------
def test_a_form_without_or_with_a_forged_csrf_token_is_refused_by_name(
    ws: Studio, client: TestClient
) -> None:
    mine = login(client, token(ws, "review"))
    drawn = samples_drawn(ws)
    other = TestClient(create_app(ws, offline=True), follow_redirects=False)
    theirs = login(other, token(ws, "review"))
    for sent in (None, "", theirs, mine[:-1] + ("A" if mine[-1] != "A" else "B")):
        data = {"campaign": "tiny"} | ({} if sent is None else {"csrf": sent})
        r = client.post("/studio/review/draw", data=data)
        assert r.status_code == 403 and r.json()["error"] == "missing or forged CSRF token", sent
    assert samples_drawn(ws) == drawn, "a refused form drew a sample"
    # the login form itself needs the anonymous session's token
    fresh = TestClient(create_app(ws, offline=True), follow_redirects=False)
    r = fresh.post("/studio/login", data={"token": token(ws, "read"), "csrf": "guessed"})
    assert r.status_code == 403 and r.json()["error"] == "missing or forged CSRF token"
    assert COOKIE not in fresh.cookies


def test_a_render_only_token_does_not_open_the_studio(ws: Studio, client: TestClient) -> None:
    """An ad server's token renders creatives; it never sees segments, copy or asset files."""
    form = client.get("/studio/login")
    r = client.post("/studio/login", data={"token": token(ws, "render"), "csrf": csrf_of(form.text)})
    assert r.status_code == 401 and "do not open the studio" in r.text
    assert client.get("/studio/campaigns").status_code == 303  # still a visitor


def test_a_token_without_the_scope_cannot_review_or_claim(ws: Studio, client: TestClient) -> None:
    csrf = login(client, token(ws, "read"))
    with ws.db.session() as s:
        before = s.scalar(select(text("count(*)")).select_from(ReviewDecisionRow))
    r = client.post("/studio/review/draw", data={"campaign": "tiny", "csrf": csrf})
    assert r.status_code == 403 and r.json()["error"] == "your token lacks the scope review"
    r = client.post("/studio/review/decide", data={"group": "tiny/image/en-US/square", "decision": "approve",
                                                   "csrf": csrf})  # fmt: skip
    assert r.status_code == 403 and "lacks the scope review" in r.json()["error"]
    r = client.post("/studio/royalties/claim", data={"csrf": csrf})
    assert r.status_code == 403 and r.json()["error"] == "your token lacks the scope publish"
    with ws.db.session() as s:
        assert s.scalar(select(text("count(*)")).select_from(ReviewDecisionRow)) == before


# --- gallery and thumbnails ------------------------------------------------------------------------
def test_gallery_filters_and_pages_agree_with_the_catalog(ws: Studio, client: TestClient) -> None:
    login(client, token(ws, "read"))
    rows = Catalog(ws.db).assets("tiny")
    shown = re.compile(r'<li class="tile">\s*<a href="/studio/assets/([a-z0-9]+)"')
    assert shown.findall(client.get("/studio/campaigns/tiny").text) == [r.cid for r in rows][:PAGE]
    row = next(r for r in rows if r.segment and r.locale and r.format)
    for key in ("kind", "locale", "segment", "format"):
        want = [r.cid for r in rows if getattr(r, key) == getattr(row, key)]
        got = shown.findall(client.get("/studio/campaigns/tiny", params={key: getattr(row, key)}).text)
        assert got == want and got, key
    both = {"kind": "image", "segment": row.segment}
    want = [r.cid for r in rows if r.kind == "image" and r.segment == row.segment]
    assert shown.findall(client.get("/studio/campaigns/tiny", params=both).text) == want
    assert shown.findall(client.get("/studio/campaigns/tiny", params={"qa": "none", "kind": "audio"}).text)
    unreviewed = shown.findall(client.get("/studio/campaigns/tiny", params={"review": "unreviewed"}).text)
    exported = {c for cids in Reviews(ws.db).groups("tiny").values() for c in cids}
    assert unreviewed and set(unreviewed) <= exported
    assert shown.findall(client.get("/studio/campaigns/tiny", params={"page": 2}).text) == []
    empty = dict.fromkeys(("locale", "segment", "format", "kind", "qa", "review"), "")  # the form's "any"
    assert shown.findall(client.get("/studio/campaigns/tiny", params=empty).text) == [r.cid for r in rows]
    assert client.get("/studio/campaigns/tiny", params={"qa": "bogus"}).status_code == 422
    assert client.get("/studio/campaigns/nope").status_code == 404


def test_the_gallery_query_pages_through_an_index_without_sorting(ws: Studio) -> None:
    """At 20k assets a page must not sort the table: the plan walks a (column, leaf_index) index."""
    for f in (GalleryFilters(), GalleryFilters(kind="image"), GalleryFilters(qa="held")):
        sql = page_query("tiny", f, 3).compile(ws.db.engine, compile_kwargs={"literal_binds": True})
        with ws.db.engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        assert re.search(r"SEARCH assets USING INDEX ix_assets_\w+_leaf", plan), (f, plan)
        assert "TEMP B-TREE" not in plan and "SCAN assets" not in plan, (f, plan)


def _stored(ws: Studio) -> tuple[set[tuple[Path, int]], dict[str, str]]:
    """Every blob file (with its mtime) and every thumbnail row."""
    files = {(p, p.stat().st_mtime_ns) for p in ws.workspace.blobs_dir.rglob("*") if p.is_file()}
    with ws.db.session() as s:
        return files, {r.cid: r.thumb_cid for r in s.scalars(select(ThumbnailRow))}


def test_thumbnails_are_made_with_the_assets_and_a_get_stores_none(ws: Studio, client: TestClient) -> None:
    login(client, token(ws, "read"))
    images = Catalog(ws.db).assets("tiny", kind="image")
    files, rows = _stored(ws)
    assert set(rows) == {a.cid for a in images}  # the run made one per image, before any request
    for a in images:
        r = client.get(f"/studio/thumbs/{a.cid}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert r.content == ws.blobs.get(rows[a.cid]) and r.content == render_thumbnail(ws.blobs.get(a.cid))
        with Image.open(io.BytesIO(r.content)) as img:
            assert max(img.size) <= THUMB_EDGE
    for kind in ("audio", "copy"):  # no thumbnail: a static placeholder
        r = client.get(f"/studio/thumbs/{first_asset(ws, kind).cid}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    assert _stored(ws) == (files, rows)


def test_an_asset_without_a_stored_thumbnail_gets_one_made_in_memory(ws: Studio, client: TestClient) -> None:
    """A workspace written before thumbnails came with the assets: the GET scales one and stores
    nothing (neither a blob nor a row); the writers' backfill stores it once."""
    login(client, token(ws, "read"))
    asset = Catalog(ws.db).assets("tiny", kind="image")[-1]
    with ws.db.session() as s:
        row = s.get(ThumbnailRow, asset.cid)
        assert row is not None
        thumb_cid = row.thumb_cid
        s.delete(row)
    LocalBlobStore(ws.workspace.blobs_dir).path(thumb_cid).unlink()
    before = _stored(ws)
    r = client.get(f"/studio/thumbs/{asset.cid}")
    assert r.status_code == 200 and r.content == render_thumbnail(ws.blobs.get(asset.cid))
    assert cid_for(r.content) == thumb_cid and r.headers["etag"] == f'"{thumb_cid}"'
    assert _stored(ws) == before
    assert Thumbnails(ws.db, ws.blobs).ensure(asset) == thumb_cid  # the backfill stores it again
    assert client.get(f"/studio/thumbs/{asset.cid}").content == ws.blobs.get(thumb_cid)


# --- review ----------------------------------------------------------------------------------------
def _reviewer_key(studio: Studio, folder: Path, name: str) -> Path:
    key, chain = studio.keys.issue_person(name, REVIEWER_UNIT, PASSWORD)
    return save_reviewer(folder, name, key, chain, "reviewer-pw")


def test_approving_in_the_studio_records_a_signed_decision(
    ws: Studio, client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csrf = login(client, token(ws, "review"))
    group = "tiny/image/en-US/square"
    assert group in Reviews(ws.db).groups("tiny")
    monkeypatch.delenv(REVIEWER_KEY_ENV, raising=False)
    r = client.post("/studio/review/draw", data={"campaign": "tiny", "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"].startswith("/studio/review?done=")
    assert "drew samples of 7 group(s) of tiny" in client.get(r.headers["location"]).text
    forged_note = client.get("/studio/review", params={"done": "Your token leaked: call +1 555 0100"}).text
    assert "555 0100" not in forged_note, "a link must not make the studio say anything"
    assert Reviews(ws.db).sample("tiny", group) is not None
    r = client.post("/studio/review/decide", data={"group": group, "decision": "approve", "csrf": csrf})
    assert r.status_code == 503 and "no reviewer key" in r.json()["error"]
    monkeypatch.setenv(REVIEWER_KEY_ENV, str(_reviewer_key(ws, tmp_path, "rita")))
    monkeypatch.setenv(REVIEWER_PASSWORD_ENV, "reviewer-pw")
    r = client.post("/studio/review/decide", data={"group": group, "decision": "approve", "csrf": csrf})
    assert r.status_code == 303, r.text
    who = verified_decision(ws.db, "tiny", group, ws.keys.trust_anchor_pem())
    assert who is not None and who.name == "rita" and who.record.decision == "approve"
    page = client.get("/studio/review").text
    assert re.search(r'data-group="tiny/image/en-US/square".*?state-approved', page, re.S)
    r = client.post("/studio/review/decide", data={"group": "../../etc", "decision": "approve", "csrf": csrf})
    assert r.status_code == 409 and "not a review group" in r.json()["error"]
    monkeypatch.setenv(REVIEWER_PASSWORD_ENV, "wrong")
    r = client.post("/studio/review/decide", data={"group": group, "decision": "reject", "csrf": csrf})
    assert r.status_code == 503 and "reviewer key cannot be opened" in r.json()["error"]
    assert verified_decision(ws.db, "tiny", group, ws.keys.trust_anchor_pem()) == who


def test_a_forged_approval_shows_as_forged_and_admits_nothing(ws: Studio, client: TestClient) -> None:
    """A rejection re-labelled "approve" in the catalog (signature kept) must not read as approved."""
    login(client, token(ws, "read"))
    group = "tiny/image/en-US/leaderboard"
    draw(ws.db, "tiny", size=4, seed=0)
    key, chain = ws.keys.issue_person("mallory", REVIEWER_UNIT, PASSWORD)
    decide(ws.db, group, "reject", LocalSigner(key, chain), ws.keys.trust_anchor_pem())
    with ws.db.session() as s:
        real = s.scalars(select(ReviewDecisionRow).where(ReviewDecisionRow.group_id == group)).all()[-1]
        s.add(ReviewDecisionRow(campaign="tiny", group_id=group, decision="approve",
                                payload=real.payload.replace('"decision":"reject"', '"decision":"approve"'),
                                signature=real.signature, certificate=real.certificate))  # fmt: skip
    page = client.get("/studio/review").text
    assert re.search(rf'data-group="{group}".*?state-forged', page, re.S), "a forged record must say so"
    assert "state-forged" in client.get("/studio/campaigns").text
    tiles = re.compile(r'<li class="tile">\s*<a href="/studio/assets/([a-z0-9]+)"')
    approved = set(tiles.findall(client.get("/studio/campaigns/tiny", params={"review": "approved"}).text))
    forged = set(tiles.findall(client.get("/studio/campaigns/tiny", params={"review": "forged"}).text))
    assert forged == set(Reviews(ws.db).groups("tiny")[group]) and not forged & approved


def test_the_asset_page_links_a_receipt_its_session_can_download(ws: Studio, client: TestClient) -> None:
    """The bearer-token API's receipt route is not for a browser session: the studio serves its own."""
    login(client, token(ws, "read"))
    cid = first_asset(ws, "image").cid
    page = client.get(f"/studio/assets/{cid}").text
    assert f'href="/studio/assets/{cid}/receipt"' in page and f'href="/assets/{cid}/receipt"' not in page
    receipt = ws.log.receipt(cid)
    assert receipt is not None
    assert client.get(f"/studio/assets/{cid}/receipt").json() == receipt.model_dump(mode="json")
    assert client.get(f"/assets/{cid}/receipt").status_code == 401  # the cookie is no bearer token


def test_the_asset_page_shows_a_variants_parent_thumbnail(ws: Studio, client: TestClient) -> None:
    """mintloom's own variants carry their master's thumbnail in the parentOf ingredient: the
    manifest tree shows it, served from the variant's manifest (made with the run, stored nowhere
    else)."""
    login(client, token(ws, "read"))
    catalog = Catalog(ws.db)
    variant = next(a for a in catalog.assets("tiny", kind="image") if catalog.parents(a.cid))
    page = client.get(f"/studio/assets/{variant.cid}")
    assert page.status_code == 200 and f"/studio/assets/{variant.cid}/ingredients/0/thumb" in page.text
    r = client.get(f"/studio/assets/{variant.cid}/ingredients/0/thumb")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.content)) as img:
        assert max(img.size) <= THUMB_EDGE
