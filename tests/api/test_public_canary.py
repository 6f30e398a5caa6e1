"""A canary over every public route: with every asset that may be public marked public, no
response to a client without credentials (body or header) carries an audience segment's name,
a recipient's personal field or a line of personalised copy."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mintloom.campaign.sample import AUDIENCE_ROWS
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.visibility import Visibility
from mintloom.studio import Studio
from tests.api.access import PUBLIC


def _canaries(studio: Studio, rows: list[AssetRow]) -> set[str]:
    """Segment names, the audience's names and cities, and every line of personalised copy."""
    segments = {r.segment for r in rows if r.segment}
    assert segments, "the sample campaign personalises by segment"
    people = {f for row in AUDIENCE_ROWS if row.split(",")[0] in segments for f in row.split(",")[:3]}
    copy = [studio.blobs.get(r.cid).decode() for r in rows if r.kind == "copy" and r.segment]
    lines = {line.strip() for text in copy for line in text.splitlines() if len(line.strip()) >= 12}
    assert copy and lines, "the sample campaign writes personalised copy"
    return segments | people | lines


def _verify(c: TestClient, studio: Studio, row: AssetRow) -> Any:
    files: dict[str, Any] = {"file": (f"a.{row.extension}", studio.blobs.get(row.cid))}
    if row.sidecar_cid:
        files["sidecar"] = ("a.c2pa", studio.blobs.get(row.sidecar_cid))
    r = c.post("/verify", files=files, params={"offline": "true"})
    assert r.status_code == 200 and r.json()["verdict"] == "VERIFIED", r.text
    return r


def _public_responses(
    c: TestClient, studio: Studio, rows: list[AssetRow]
) -> tuple[list[Any], set[tuple[str, str]]]:
    """A request to each public route (every public asset, every asset verified); the responses
    and the (method, path) templates requested."""
    plain = ("/", "/verify", "/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
             "/studio", "/studio/login")  # fmt: skip
    got = [c.get(p) for p in plain]
    got += [c.get(f"/public/static/{n}") for n in ("verify.js", "public.css")]
    got += [
        c.get(f"/studio/static/{n}") for n in ("studio.css", "studio.js", "favicon.svg", "placeholder.svg")
    ]
    got.append(c.post("/studio/login", data={"token": "mlt_wrong", "csrf": "x"}))
    got.append(c.get("/campaigns/tiny/render?weather=x&exp=9999999999&sig=" + "0" * 64))
    shown = [r for r in rows if r.kind != "copy"]
    for row in shown:
        got += [c.get(f"/a/{row.cid}"), c.get(f"/a/{row.cid}/file")]
    got += [_verify(c, studio, row) for row in rows]
    assert all(r.status_code in (200, 303, 403) for r in got), [(r.url, r.status_code) for r in got]
    assert all(r.status_code == 200 for r in got[-2 * len(shown) - len(rows) :])
    requested = {("GET", p) for p in plain} | {("GET", "/studio/static/{name}"), ("POST", "/studio/login")}
    requested.add(("GET", "/public/static/{name}"))
    requested |= {("GET", "/campaigns/{campaign}/render"), ("GET", "/a/{cid}"), ("GET", "/a/{cid}/file")}
    return got, requested | {("POST", "/verify")}


def test_no_public_response_names_a_segment_or_carries_personalised_text(
    app: FastAPI, anon: TestClient, api_studio: Studio
) -> None:
    rows = Catalog(api_studio.db).assets()
    visibility = Visibility(api_studio.db)
    for row in rows:
        if row.kind != "copy":  # personalised copy is never public (refused by name elsewhere)
            visibility.publicise(row.cid)
    canaries = _canaries(api_studio, rows)
    responses, requested = _public_responses(anon, api_studio, rows)
    assert requested == PUBLIC  # every public route asked
    for r in responses:
        text = r.content.decode("latin-1") + repr(sorted(r.headers.items()))
        leaked = sorted(c for c in canaries if c in text)
        assert not leaked, (r.request.method, r.url, leaked)


def test_the_canary_sees_a_segment_in_a_protected_response(client: TestClient, api_studio: Studio) -> None:
    """The check above can fail: the catalog's own segment names appear where a read token may
    see them (the studio's gallery filters), so a public route that served them would be caught."""
    rows = Catalog(api_studio.db).assets()
    canaries = _canaries(api_studio, rows)
    copy = next(r for r in rows if r.kind == "copy" and r.segment)
    assert any(c in api_studio.blobs.get(copy.cid).decode() for c in canaries)
    assert copy.segment in canaries
