"""Ingredient thumbnails on the asset page: c2pa-rs's CA.jpg (a parentOf ingredient A.jpg carrying
``c2pa.thumbnail.ingredient.jpeg``) catalogued as an asset shows that thumbnail in its manifest tree,
in chromium; the route re-encodes it, refuses what is over its bounds or absent, and writes nothing."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mintloom.api.app import create_app
from mintloom.campaign.writer import BatchRows, CatalogWriter
from mintloom.provenance import ingredient_thumbs
from mintloom.provenance.ingredient_thumbs import ingredient_thumbnail, ingredients, within_pixels
from mintloom.store.catalog import AssetRow
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from tests.web.test_studio_browser import log_in, serving, shot, watch

if TYPE_CHECKING:
    from playwright.sync_api import Page

FIXTURE = Path(__file__).parents[1] / "fixtures" / "c2pa-rs" / "CA.jpg"


def catalogue(studio: Studio, data: bytes, media_type: str = "image/jpeg") -> str:
    """``data`` as an asset of campaign "foreign" (blob, log leaf, catalog row)."""
    cid = str(studio.blobs.put(data))
    writer = CatalogWriter(studio.db, studio.log)
    writer.ensure_campaign("foreign", "0" * 64, b"\x03" * 32)
    digest = hashlib.sha256(data).digest()
    row = AssetRow(
        cid=cid, content_cid=cid, campaign="foreign", job_key=digest.hex(), kind="image",
        media_type=media_type, extension="jpg", manifest_hash=digest, leaf_index=0, engine="foreign",
        engine_version="1", seed=0, path=f"foreign/{cid}.jpg",
    )  # fmt: skip
    with writer.batch() as tx:
        [row.leaf_index] = tx.append_leaves([(cid, digest)], {})
        tx.add(BatchRows(assets=[row]))
    return cid


def _files(root: Path) -> dict[str, int]:
    """Every file's mtime, but SQLite's shared-memory index (readers update it too)."""
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and p.suffix != ".db-shm"}


def test_the_manifest_tree_shows_the_ingredient_thumbnail(
    browser_page: Page, studio: Studio, tmp_path: Path
) -> None:
    cid = catalogue(studio, FIXTURE.read_bytes())
    token = TokenStore(studio.db).create("viewer", ["read"])[1]
    page = browser_page
    problems = watch(page)
    with serving(create_app(studio, offline=True)) as url:
        log_in(page, url, token, f"/studio/assets/{cid}")
        thumb = page.get_by_role("img", name="thumbnail of ingredient A.jpg")
        thumb.scroll_into_view_if_needed()
        page.wait_for_function(
            "document.querySelector('.tree img[alt^=\"thumbnail of ingredient\"]').complete"
        )
        assert thumb.evaluate("i => i.naturalWidth") > 0
        assert "parentOf" in page.locator("#manifest-tree").inner_text()
        shot(page, tmp_path, "asset-ingredient")
    assert problems == [], problems


def test_the_thumbnail_route_reencodes_refuses_and_writes_nothing(studio: Studio) -> None:
    data = FIXTURE.read_bytes()
    cid = catalogue(studio, data)
    plain = io.BytesIO()
    Image.new("RGB", (8, 8)).save(plain, format="PNG")
    bare = catalogue(studio, plain.getvalue(), "image/png")
    token = TokenStore(studio.db).create("viewer", ["read"])[1]
    before = _files(studio.workspace.root)
    with TestClient(create_app(studio, offline=True)) as client:
        route = f"/studio/assets/{cid}/ingredients/0/thumb"
        assert client.get(route, follow_redirects=False).status_code in {303, 401}  # no login
        _studio_login(client, token)
        got = client.get(route)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(got.content)) as img:
            assert img.format == "JPEG" and max(img.size) <= 320
        assert client.get(f"/studio/assets/{cid}/ingredients/1/thumb").status_code == 404
        assert client.get(f"/studio/assets/{cid}/ingredients/-1/thumb").status_code == 422
        assert client.get(f"/studio/assets/{cid}/ingredients/99999/thumb").status_code == 422
        assert client.get(f"/studio/assets/{bare}/ingredients/0/thumb").status_code == 404
        assert client.get(f"/studio/assets/{cid}").status_code == 200
    assert _files(studio.workspace.root) == before  # read paths never write


def _studio_login(client: TestClient, token: str) -> None:
    form = client.get("/studio/login").text
    csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert (
        client.post("/studio/login", data={"token": token, "csrf": csrf}, follow_redirects=False).status_code
        == 303
    )


def test_an_oversized_thumbnail_resource_is_not_copied_out(monkeypatch: pytest.MonkeyPatch) -> None:
    data = FIXTURE.read_bytes()
    assert [(i.title, i.relationship) for i in ingredients(data, "image/jpeg")] == [("A.jpg", "parentOf")]
    assert ingredient_thumbnail(data, "image/jpeg", 0) is not None
    monkeypatch.setattr(ingredient_thumbs, "MAX_THUMB_BYTES", 1024)  # the real one is ~10 KiB
    assert ingredient_thumbnail(data, "image/jpeg", 0) is None


def test_a_pixel_bomb_header_is_refused_before_decoding() -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)  # 3.6 gigapixels, a few bytes
    bomb = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    assert within_pixels(bomb) is False
    small = io.BytesIO()
    Image.new("RGB", (64, 64)).save(small, format="JPEG")
    assert within_pixels(small.getvalue()) is True
