"""The API is a read path: no request writes to the workspace, its reads go through the catalog
and log APIs (no SQL, no campaign code in the API package), and routes are not closures."""

from __future__ import annotations

import ast
import hashlib
import io
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import mintloom.api
from mintloom.api.app import create_app
from mintloom.campaign.writer import CatalogWriter
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.cid import cid_for
from mintloom.store.thumbnails import ThumbnailRow
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.api.access import MANY

API_DIR = Path(mintloom.api.__file__).parent
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """sha-256 and mtime of every file of the workspace (catalog database, blobs, keys, out/...)."""
    return {
        p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _verify(c: TestClient, data: bytes, name: str, sidecar: bytes | None = None) -> str:
    files: dict[str, Any] = {"file": (name, data, "application/octet-stream")}
    if sidecar is not None:
        files["sidecar"] = (name + ".c2pa", sidecar, "application/c2pa")
    r = c.post("/verify", files=files)
    assert r.status_code == 200, r.text
    verdict: str = r.json()["verdict"]
    return verdict


def _exercise(c: TestClient, blobs: LocalBlobStore, extensions: dict[str, str]) -> set[str]:
    """Every API route, with found and missing assets, proofs of every kind and real
    verifications; returns the route templates requested."""
    assets = c.get("/assets", params={"limit": 500}).json()["items"]
    assert len(assets) > 5
    for params in ({"kind": "image"}, {"locale": "ar-EG", "limit": 2, "offset": 1}, {"campaign": "no"}):
        assert c.get("/assets", params=params).status_code == 200
    absent = cid_for(b"absent")
    for a in [*assets, {"cid": absent, "kind": "image"}]:
        for tail in ("", "/content", "/sidecar", "/receipt", "/qa", "/tags"):
            assert c.get(f"/assets/{a['cid']}{tail}").status_code in (200, 403, 404)
        assert c.get("/log/proof/inclusion", params={"cid": a["cid"]}).status_code in (200, 404)
    for path in ("/health", "/log/checkpoint", "/openapi.json", "/docs"):
        assert c.get(path).status_code == 200
    assert c.get("/log/proof/consistency", params={"old": 2}).status_code == 200
    for q in ("kind:image", "locale:ar-EG colour:navy", "segment:x"):
        assert c.get("/search", params={"q": q}).status_code in (200, 422)
    assert c.get("/log/proof/inclusion", params={"cid": assets[0]["cid"], "size": 3}).status_code == 200
    for a in assets:  # every asset verified from its stored bytes (copy with its sidecar)
        detail = c.get(f"/assets/{a['cid']}").json()
        sidecar = None if detail["sidecar_cid"] is None else blobs.get(detail["sidecar_cid"])
        assert _verify(c, blobs.get(a["cid"]), f"a.{extensions[a['cid']]}", sidecar) == "VERIFIED"
    image = next(a for a in assets if a["kind"] == "image")
    stripped = io.BytesIO()
    Image.open(io.BytesIO(blobs.get(image["cid"]))).convert("RGB").save(stripped, "JPEG", quality=85)
    assert _verify(c, stripped.getvalue(), "shared.jpg") == "VERIFIED"  # by fingerprint
    assert _verify(c, os.urandom(2048), "random.bin") == "UNKNOWN"
    # the public pages: the verify page, an asset page (404: not publicised), a static file
    assert c.get("/").status_code == c.get("/verify").status_code == 200
    assert c.get(f"/a/{image['cid']}").status_code == 404
    assert c.get("/public/static/verify.js").status_code == 200
    # the write routes, asked without a token or with a forged one, are refused and write nothing
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer mlt_forged"}):
        assert c.post("/runs", json={"spec": "c.yaml"}, headers=headers).status_code == 401
        assert c.get("/runs/0", headers=headers).status_code == 401
        assert c.post("/campaigns/tiny/render", json={}, headers=headers).status_code == 401
    market = ("/market/listings", "/market/offers", f"/market/orders/0x{'ab' * 32}", "/market/sales",
              f"/market/assets/{image['cid']}/sales")  # fmt: skip
    for path in market:  # offline: the chain is not asked (503), and nothing is written meanwhile
        assert c.get(path).status_code in (200, 404, 503), path
    # a render URL is checked against the workspace's key, which checking never creates
    assert c.get("/campaigns/tiny/render?exp=9999999999&sig=00").status_code == 403
    return {
        "/health", "/assets", "/assets/{cid}", "/assets/{cid}/content", "/assets/{cid}/sidecar",
        "/assets/{cid}/receipt", "/log/checkpoint", "/log/proof/inclusion", "/log/proof/consistency",
        "/verify", "/runs", "/runs/{run_id}", "/assets/{cid}/qa", "/assets/{cid}/tags", "/search",
        "/market/listings", "/market/offers", "/market/orders/{order_hash}", "/market/sales",
        "/market/assets/{cid}/sales", "/", "/a/{cid}", "/public/static/{name}",
        "/campaigns/{campaign}/render",
    }  # fmt: skip


def _exercise_pages(c: TestClient, secret: str, assets: list[AssetRow]) -> set[str]:
    """Every page of the studio and of the public site, logged in with a read token, for every
    asset (thumbnails stored and not); returns the route templates requested."""
    public = {"/", "/verify", "/a/{cid}", "/a/{cid}/file", "/public/static/{name}"}
    for name in ("verify.js", "public.css"):
        assert c.get(f"/public/static/{name}").status_code == 200
    form = c.get("/studio/login")
    found = CSRF.search(form.text)
    assert found is not None
    r = c.post("/studio/login", data={"token": secret, "csrf": found.group(1)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    for path in ("/studio", "/studio/campaigns", "/studio/campaigns/tiny", "/studio/campaigns/nope",
                 "/studio/campaigns/tiny?kind=image&qa=held&review=approved&page=2", "/studio/review",
                 "/studio/royalties", "/studio/market", "/studio/dao", "/studio/static/studio.css",
                 "/studio/static/x",
                 "/docs/oauth2-redirect", "/redoc"):  # fmt: skip
        assert c.get(path).status_code in (200, 404), path
    for a in [*assets, None]:
        cid = cid_for(b"absent") if a is None else a.cid
        for tail in ("", "/file", "/receipt"):
            assert c.get(f"/studio/assets/{cid}{tail}").status_code in (200, 404), (cid, tail)
        thumb = c.get(f"/studio/thumbs/{cid}")
        assert thumb.status_code == (404 if a is None else 200), cid
        assert c.get(f"/a/{cid}/file").status_code == 404  # none is public
        assert c.get(f"/studio/assets/{cid}/ingredients/0/thumb").status_code in (200, 404)
    studio = {"/studio", "/studio/campaigns", "/studio/campaigns/{name}", "/studio/review",
              "/studio/royalties", "/studio/market", "/studio/static/{name}", "/studio/login",
              "/studio/assets/{cid}", "/studio/assets/{cid}/file", "/studio/assets/{cid}/receipt",
              "/studio/thumbs/{cid}"}  # fmt: skip
    return public | studio | {"/docs/oauth2-redirect", "/redoc", "/docs", "/openapi.json"}


class _RouteRecorder:
    """ASGI middleware noting the template of every route a request reached (the router puts the
    matched route into the request's scope), so a route counts as exercised only if it was."""

    def __init__(self, app: ASGIApp, seen: set[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        route = scope.get("route")
        if route is not None:
            self.seen.add(route.path)


def _get_routes(app: FastAPI) -> set[str]:
    """The path of every GET route of the app, in the OpenAPI schema or not (studio, public pages)."""
    return {r.path for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ())}


def _drop_a_thumbnail(ws: Workspace) -> str:
    """Forget one image's stored thumbnail, as in a workspace written before thumbnails were made
    with the assets: its GET must scale one in memory, and store nothing."""
    with Studio(ws) as s, s.db.session() as session:
        row = session.scalars(select(ThumbnailRow)).first()
        assert row is not None, "the run stored no thumbnail"
        session.delete(row)
        return row.cid


def test_no_request_writes_to_the_workspace(ran: Workspace, read_header: dict[str, str]) -> None:
    """Every GET route of the app (API, public pages, studio pages), every API route, then the
    studio closed (SQLite folds its WAL into the database file): the workspace tree, database
    file and blob store included, is byte-identical and untouched."""
    unstored = _drop_a_thumbnail(ran)
    with Studio(ran) as reader:
        assets = Catalog(reader.db).assets()
    before = _snapshot(ran.root)
    assert "catalog.db" in {Path(p).name for p in before}
    studio = Studio(ran)  # as `mintloom serve` opens it: no key password
    try:
        app = create_app(studio, offline=True, verify_rate=MANY)  # one client verifies every asset
        reached: set[str] = set()
        app.add_middleware(_RouteRecorder, seen=reached)
        with TestClient(app, headers=read_header, raise_server_exceptions=False) as c:  # 503: chain down
            extensions = {r.cid: r.extension for r in assets}
            requested = _exercise(c, LocalBlobStore(ran.blobs_dir), extensions)
            requested |= _exercise_pages(c, read_header["Authorization"].removeprefix("Bearer "), assets)
            assert c.get(f"/studio/thumbs/{unstored}").headers["content-type"] == "image/jpeg"
    finally:
        studio.close()
    assert requested >= set(app.openapi()["paths"])  # no API route left out
    # nor any page, each really reached (FastAPI's own documentation routes are plain Starlette
    # routes, which do not name themselves in the scope: they read nothing of the workspace)
    missed = _get_routes(app) - reached - {"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"}
    assert not missed, missed
    assert _snapshot(ran.root) == before


def test_online_api_of_a_workspace_whose_node_is_down_writes_nothing(ran: Workspace, tmp_path: Path) -> None:
    """Served online (`mintloom serve` without --offline) over a workspace whose node is down, the
    API must still leave the workspace as it was: no node started, no state file, no journal."""
    from mintloom.ledger.connect import managed_node

    ws = Workspace(shutil.copytree(ran.root, tmp_path / "ws"))
    node = managed_node(ws, ws.settings())
    assert node.running() is None
    before = _snapshot(ws.root)
    studio = Studio(ws)
    try:
        with TestClient(create_app(studio)) as c:
            assert c.get("/health").json()["offline"] is False
            assert _verify(c, os.urandom(2048), "random.bin") == "UNKNOWN"
    finally:
        studio.close()
        node.stop()
    assert _snapshot(ws.root) == before


# --- the reads the API uses -----------------------------------------------------------------------
def test_asset_page_matches_the_full_listing(ran: Workspace) -> None:
    with Studio(ran) as studio:
        catalog = Catalog(studio.db)
        every = catalog.assets()
        for filters in ({}, {"kind": "image"}, {"locale": "ar-EG"}, {"kind": "copy", "locale": "en-US"},
                        {"campaign": "tiny"}, {"campaign": "nope"}):  # fmt: skip
            match = [r for r in every if all(getattr(r, k) == v for k, v in filters.items())]
            for limit, offset in ((500, 0), (3, 2), (1, len(match) - 1), (5, len(match) + 1)):
                page = catalog.asset_page(**filters, limit=limit, offset=offset)
                assert page.total == len(match)
                assert [r.cid for r in page.rows] == [r.cid for r in match[offset : offset + limit]]
        assert catalog.asset_page(kind="image", limit=500).total > 0


def test_stored_leaf_is_the_logged_entry(ran: Workspace) -> None:
    with Studio(ran) as studio:
        log, catalog = studio.log, Catalog(studio.db)
        for row in catalog.assets():
            leaf = log.leaf(row.cid)
            receipt = log.receipt(row.cid)
            assert leaf is not None and receipt is not None
            assert (leaf.cid, leaf.index) == (row.cid, log.index_of(row.cid)) == (row.cid, row.leaf_index)
            assert leaf.manifest_hash == bytes(row.manifest_hash)
            assert leaf.leaf_hash == receipt.leaf_hash()  # recomputed from the entry and its parent
        assert log.leaf(cid_for(b"never logged")) is None


# --- layering -------------------------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted(API_DIR.rglob("*.py")), ids=lambda p: p.relative_to(API_DIR).as_posix()
)
def test_api_reads_through_the_catalog_and_log_apis(path: Path) -> None:
    """No SQL of its own (sqlalchemy), no campaign code, no CLI in the API package."""
    banned = ("sqlalchemy", "mintloom.campaign", "mintloom.cli")
    found = {n for n in _imports(path) if n.split(".")[0] == "sqlalchemy" or n.startswith(banned)}
    assert not found, f"{path.name} imports {sorted(found)}"


def test_create_app_has_no_route_closures() -> None:
    """Routes live in routers (one per resource), not as functions nested in the factory."""
    tree = ast.parse((API_DIR / "app.py").read_text())
    factory = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "create_app")
    nested = [n.name for n in ast.walk(factory) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert nested == ["create_app"]
    assert (factory.end_lineno or 0) - factory.lineno < 40


def test_the_snapshot_sees_a_write_held_in_the_wal(ran: Workspace, tmp_path: Path) -> None:
    """The check above can fail: a write the API made would sit in SQLite's WAL, and closing the
    studio folds it into the database file, which the snapshot then sees."""
    copy = Workspace(shutil.copytree(ran.root, tmp_path / "ws"))
    before = _snapshot(copy.root)
    studio = Studio(copy)
    try:
        campaign = Catalog(studio.db).campaign("tiny")
        assert campaign is not None
        writer = CatalogWriter(studio.db, studio.log)
        writer.ensure_campaign("tiny", campaign.spec_hash, campaign.salt)  # touches updated_at
    finally:
        studio.close()
    after = _snapshot(copy.root)
    assert after != before
    assert {p for p in after if after[p] != before.get(p)} == {".mintloom/catalog.db"}
