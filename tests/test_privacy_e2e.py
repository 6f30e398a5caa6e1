"""Privacy canary, end to end: every audience field and every live variable holds a unique canary;
the demo-size campaign goes through `mintloom demo` (run → anchor → publish → licence → market
list and buy → dynamic renders), then a real `mintloom serve` answers EVERY route of the app
(enumerated from the app's router, included routers flattened: the studio, public pages, render
and read API, with real CIDs, campaign names, order hashes and run ids), anonymously, with a read
token and with a logged-in studio session. Searched for the canaries (in every encoding of
:func:`tests.test_privacy.forms`): every response, the server's stdout and stderr, the CLI's
output, every manifest store (all assertions), every receipt, every transaction's calldata and
event log on the anvil node, the published CAR and the exported licence JSON.

The campaign has no copy assets, so no asset's bytes are personalised text: nothing that leaves
the workspace may hold a canary. Segment names may appear in operator-facing places only (CLI
output, the logged-in studio): they are the operator's own labels, shown to find assets."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from mintloom.api.app import create_app
from mintloom.campaign.sample import dynamic_sample_spec, sample_spec, write_sample_campaign
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.cid import cid_for
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.dynamic.test_crash import _free_port
from tests.test_privacy import Streams, chain_bytes, manifest_json

pytestmark = pytest.mark.xdist_group("anvil")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "lumen"
PASSWORD = "cnry-e2e-keypass-Rt5Yh1"
SEGMENT = "cnryseg-Vb82"
FIELDS = {"name": "CnryName-Lp47", "city": "CnryCity-Tw19", "price": "6158.2937", "deadline": "2031-07-19",
          "loyalty": "CnryLoyal-Hd63", "email": "cnry.e2e.Kq31@example.invalid"}  # fmt: skip
"""The audience's canaries besides the segment (``loyalty`` and ``email`` are custom columns)."""
WEATHER = "cnryweather-Mz55"
LIVE = {"weather": WEATHER, "offer": 37, "price": 8642.75, "currency": "USD", "in_stock": False}
LIVE_FORMS = (WEATHER, "8642.75", "8,642.75")
"""The live variables' canaries (the price also as the creative prints it)."""
PRIVATE = (SEGMENT, *FIELDS.values(), *LIVE_FORMS, PASSWORD)
"""Never in any output, even the operator's (the segment is allowed there, see the docstring)."""
DYNAMIC = "cnry-live"
LINEAGE = 'lineage:\n  datasets: ["lumen-brand-photography-2026"]\n  model: "lumen-layout-v1"\n'
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def canary_campaign(folder: Path) -> Path:
    """The demo's campaign cut to one segment, every audience value a canary (three formats: the
    demo registers two, the market sells the third)."""
    formats = ("square", "story", "leaderboard")
    spec = sample_spec(locales=("en-US",), formats=formats, copy=False, audio=False)
    row = {"segment": SEGMENT, "offer": "15", "currency": "EUR", **FIELDS}
    audience = ",".join(row) + "\n" + ",".join(row.values()) + "\n"
    path = write_sample_campaign(folder, spec + LINEAGE, audience)
    shutil.copytree(EXAMPLES / "lineage", folder / "lineage")
    return path


def cli(ws: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MINTLOOM_WORKSPACE", "MINTLOOM_CRASH_AT")}
    env.update(MINTLOOM_KEY_PASSWORD=PASSWORD, COLUMNS="200")
    if ws is not None:
        env["MINTLOOM_WORKSPACE"] = str(ws)
    r = subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], capture_output=True, text=True,
                       env=env, timeout=900, check=False)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@contextmanager
def serve(root: Path, logs: Path) -> Iterator[str]:
    """A real `mintloom serve` on loopback, its stdout and stderr kept in ``logs``."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "MINTLOOM_CRASH_AT"}
    env.update(MINTLOOM_WORKSPACE=str(root), MINTLOOM_KEY_PASSWORD=PASSWORD)
    with (logs / "serve.out").open("wb") as out, (logs / "serve.err").open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mintloom.cli.main", "serve", "--port", str(port)],
                                env=env, stdout=out, stderr=err)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 600
            while True:
                try:
                    httpx.get(f"{base}/health", timeout=2)
                    break
                except httpx.TransportError:
                    up = proc.poll() is None and time.monotonic() < deadline
                    assert up, (logs / "serve.err").read_text()
                    time.sleep(0.3)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            finally:
                proc.kill()  # only if it would not stop


def configure_dynamic(ws: Workspace) -> None:
    """A second dynamic campaign whose allowed weather is a canary (the demo's config ends with
    its ``[dynamic.campaigns]`` table, so one more line joins it)."""
    write_sample_campaign(ws.root / DYNAMIC, dynamic_sample_spec(DYNAMIC, extra_values=[WEATHER]))
    text = ws.config_file.read_text(encoding="utf-8")
    assert text.rstrip().splitlines()[-1].startswith("lumen-live = ")
    ws.config_file.write_text(text.rstrip() + f'\n{DYNAMIC} = "{DYNAMIC}/campaign.yaml"\n', encoding="utf-8")


def all_routes(ws: Workspace) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves, included routers flattened."""
    studio = Studio(ws, password=PASSWORD)
    try:
        app = create_app(studio, offline=True)
        found = set()
        for route in iter_route_contexts(app.routes):
            assert route.path is not None and route.methods, route
            found |= {(m, route.path) for m in route.methods if m != "HEAD"}
        return found
    finally:
        studio.close()


class Walk:
    """Requests to the live server, each response (headers and body) kept for the search, and
    the route templates requested, to prove every route was."""

    def __init__(self, base: str, streams: Streams, forbidden: dict[str, tuple[str, ...]]) -> None:
        self.clients = {who: httpx.Client(base_url=base, timeout=300) for who in forbidden}
        self.streams, self.forbidden = streams, forbidden
        self.headers: dict[str, dict[str, str]] = {who: {} for who in forbidden}
        self.hit: set[tuple[str, str]] = set()

    def __call__(self, who: str, method: str, template: str, fill: dict[str, str] | None = None,
                 allow: int = 0, **kw: Any) -> httpx.Response:  # fmt: skip
        """``allow``: a 5xx status this request may answer (a refusal by configuration)."""
        path = template.format(**fill) if fill else template
        r = self.clients[who].request(method, path, headers=self.headers[who], **kw)
        self.hit.add((method, template))
        ok = r.status_code < 500 or r.status_code == allow
        assert ok, f"{method} {path} as {who}: {r.status_code} {r.text[:400]}"
        shown = json.dumps(dict(r.headers)).encode() + b"\n" + r.content
        self.streams.add(f"{method} {path} as {who} ({r.status_code})", shown, self.forbidden[who])
        return r

    def everyone(self, method: str, template: str, fill: dict[str, str] | None = None,
                 **kw: Any) -> None:  # fmt: skip
        for who in self.clients:
            self(who, method, template, fill, **kw)

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


def test_no_canary_leaves_the_workspace_on_any_route(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    streams = Streams()
    spec = canary_campaign(tmp_path / "campaign")
    demo = cli(None, "demo", str(root), "--spec", str(spec), "-w", "1")
    assert "mintloom demo done" in demo.stdout and "a buyer picks an image" in demo.stdout, demo.stdout
    assert f"en-US/{SEGMENT}/" in demo.stdout  # positive control: the canaries reached the campaign
    operator = tuple(v for v in PRIVATE if v != SEGMENT)
    streams.add("demo stdout", demo.stdout, operator)
    streams.add("demo stderr", demo.stderr, operator)
    serve_and_search(Workspace(root.resolve()), tmp_path, streams)
    streams.assert_clean()


def serve_and_search(ws: Workspace, tmp_path: Path, streams: Streams) -> None:
    """Everything after the demo: serve every route, then read every artefact and the chain."""
    configure_dynamic(ws)
    shutil.copytree(tmp_path / "campaign", ws.root / "again")  # POST /runs takes a spec in the workspace
    studio = Studio(ws, password=PASSWORD)
    try:
        catalog = Catalog(studio.db)
        mine = catalog.assets("tiny")
        assert len(mine) == 3 and all(a.kind == "image" for a in mine)
        published = cli(ws.root, "assets", "publicise", mine[0].cid)
        streams.add("publicise", published.stdout + published.stderr, PRIVATE)
        secret = TokenStore(studio.db).create("canary", ["read", "review", "publish", "render"])[1]
        rpc = studio.chain.rpc_url  # the embedded node, up while the server runs
        outside = (*PRIVATE, secret, str(ws.root), str(tmp_path))
        operator = tuple(v for v in outside if v != SEGMENT)
        forbidden = {"anonymous": outside, "token": outside, "studio": operator}
        with serve(ws.root, tmp_path) as base:
            rendered = _walk(Walk(base, streams, forbidden), ws, catalog, secret, all_routes(ws))
        for name in ("serve.out", "serve.err"):
            streams.add(name, (tmp_path / name).read_bytes(), (*PRIVATE, secret))
        rows = Catalog(studio.db).assets()
        assert {r.cid for r in rows} >= rendered | {a.cid for a in mine}
        _artefacts(studio, rows, tmp_path, streams, outside)
        for name, data in chain_bytes(rpc):
            streams.add(name, data, outside)
    finally:
        studio.close()


def _walk(walk: Walk, ws: Workspace, catalog: Catalog, secret: str, routes: set[tuple[str, str]]) -> set[str]:
    """Every route, as each caller; returns the CIDs rendered from the live canaries."""
    try:
        walk.headers["token"] = {"Authorization": f"Bearer {secret}"}
        csrf = _login(walk, secret)
        rendered = _render(walk, ws)
        cids = [*(a.cid for a in catalog.assets("tiny")), *sorted(rendered), cid_for(b"absent")]
        _read_api(walk, cids)
        _market(walk, ws, cids)
        _pages(walk, catalog, cids)
        _writes(walk, csrf)
        missing = sorted(routes - walk.hit)
        assert not missing, f"routes never requested: {missing}"
        assert len(routes) > 40, sorted(routes)  # the studio, public pages, render and read API
        return rendered
    finally:
        walk.close()


def _login(walk: Walk, secret: str) -> str:
    form = CSRF.search(walk("studio", "GET", "/studio/login").text)
    assert form is not None
    walk("anonymous", "POST", "/studio/login", data={"token": "mlt_wrong", "csrf": "x"})
    r = walk("studio", "POST", "/studio/login", data={"token": secret, "csrf": form.group(1)})
    assert r.status_code == 303, r.text
    page = CSRF.search(walk("studio", "GET", "/studio/royalties").text)
    assert page is not None, "the session was not kept"
    return page.group(1)


def _render(walk: Walk, ws: Workspace) -> set[str]:
    """The live canaries rendered by POST (two formats) and by a signed GET URL."""
    cids = set()
    for fmt in ("medium-rectangle", "square"):
        r = walk("token", "POST", "/campaigns/{campaign}/render", {"campaign": DYNAMIC},
                 params={"format": fmt}, json=LIVE)  # fmt: skip
        assert r.status_code == 200 and r.headers["X-Mintloom-Cache"] == "miss", r.text
        cids.add(r.headers["X-Mintloom-CID"])
    walk("anonymous", "POST", "/campaigns/{campaign}/render", {"campaign": DYNAMIC}, json=LIVE)
    args = [a for k, v in LIVE.items() for a in ("-v", f"{k}={str(v).lower() if v is False else v}")]
    url = "".join(cli(ws.root, "render-url", DYNAMIC, *args, "--format", "square").stdout.split())
    query = [tuple(p.split("=", 1)) for p in url.split("?", 1)[1].split("&")]
    r = walk("anonymous", "GET", "/campaigns/{campaign}/render", {"campaign": DYNAMIC}, params=query)
    assert r.status_code == 200 and r.headers["X-Mintloom-CID"] in cids, r.text
    return cids


def _read_api(walk: Walk, cids: list[str]) -> None:
    for path in ("/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/log/checkpoint"):
        walk.everyone("GET", path)
    walk.everyone("GET", "/assets", params={"limit": 500})
    walk.everyone("GET", "/search", params={"q": "kind:image"})
    walk.everyone("GET", "/log/proof/consistency", params={"old": 1})
    for cid in cids:
        for tail in ("", "/content", "/sidecar", "/receipt", "/qa", "/tags"):
            walk.everyone("GET", "/assets/{cid}" + tail, {"cid": cid})
        walk.everyone("GET", "/log/proof/inclusion", params={"cid": cid})
        content = walk("token", "GET", "/assets/{cid}/content", {"cid": cid})
        if content.status_code == 200:
            r = walk("anonymous", "POST", "/verify", files={"file": ("upload", content.content)})
            assert r.json()["verdict"] == "VERIFIED", r.text


def _market(walk: Walk, ws: Workspace, cids: list[str]) -> None:
    for path in ("/market/listings", "/market/offers", "/market/sales"):
        walk.everyone("GET", path)
    listed = walk("token", "GET", "/market/listings").json()
    orders = [o["order_hash"] for o in (*listed["listings"], *listed["campaign_listings"])]
    assert orders, "the demo listed the campaign"
    for order in orders:
        walk.everyone("GET", "/market/orders/{order_hash}", {"order_hash": order})
        out = ws.root.parent / f"order-{order[:12]}.json"
        cli(ws.root, "market", "export", order, "--out", str(out))
        walk.streams.add(f"market export {order}", out.read_bytes(), walk.forbidden["anonymous"])
    for cid in cids:
        walk.everyone("GET", "/market/assets/{cid}/sales", {"cid": cid})


def _pages(walk: Walk, catalog: Catalog, cids: list[str]) -> None:
    import mintloom.api.public
    import mintloom.api.studio

    for path in ("/studio", "/studio/campaigns", "/studio/review", "/studio/royalties", "/studio/market",
                 "/studio/dao", "/verify", "/"):  # fmt: skip
        walk.everyone("GET", path)
    for name in sorted({a.campaign for a in catalog.assets()}):
        walk.everyone("GET", "/studio/campaigns/{name}", {"name": name})
    for cid in cids:
        for path in ("/studio/assets/{cid}", "/studio/assets/{cid}/file", "/studio/assets/{cid}/receipt",
                     "/studio/thumbs/{cid}", "/a/{cid}", "/a/{cid}/file"):  # fmt: skip
            walk.everyone("GET", path, {"cid": cid})
        walk.everyone("GET", "/studio/assets/{cid}/ingredients/{index}/thumb", {"cid": cid, "index": "0"})
    for package, prefix in ((mintloom.api.studio, "/studio"), (mintloom.api.public, "/public")):
        for f in sorted((Path(package.__file__).parent / "static").iterdir()):
            walk.everyone("GET", prefix + "/static/{name}", {"name": f.name})


def _writes(walk: Walk, csrf: str) -> None:
    """A run (the campaign again, so it resumes with nothing to do), the studio's forms, logout."""
    body = {"spec": "again/campaign.yaml", "anchor": False, "publish": False}
    walk("anonymous", "POST", "/runs", json=body)
    started = walk("token", "POST", "/runs", json=body)
    assert started.status_code == 202, started.text
    for _ in range(600):
        run = walk("token", "GET", "/runs/{run_id}", {"run_id": started.json()["id"]}).json()
        if run["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    assert run["status"] == "succeeded", run
    walk("studio", "POST", "/studio/review/draw", data={"campaign": "tiny", "csrf": csrf})
    review = walk("studio", "GET", "/studio/review").text
    group = re.search(r'name="group" value="([^"]+)"', review)
    decision = {"group": group.group(1) if group else "none", "decision": "approve", "csrf": csrf}
    walk("studio", "POST", "/studio/review/decide", allow=503, data=decision)  # no reviewer key here
    walk("studio", "POST", "/studio/royalties/claim", data={"csrf": csrf})
    proposal = {"proposal": "0x" + "00" * 32, "support": "for", "csrf": csrf}  # no such proposal: refused
    dao = ("/studio/dao/vote", "/studio/dao/queue", "/studio/dao/execute", "/studio/dao/claim")
    for path in dao:
        walk("studio", "POST", path, data=proposal)
    for path in (
        "/studio/review/draw",
        "/studio/review/decide",
        "/studio/royalties/claim",
        *dao,
        "/studio/logout",
    ):
        walk("anonymous", "POST", path, data={"campaign": "tiny", "group": "x", "decision": "approve"})
    walk("studio", "POST", "/studio/logout", data={"csrf": csrf})


def _artefacts(studio: Studio, rows: list[AssetRow], tmp_path: Path, streams: Streams,
               outside: tuple[str, ...]) -> None:  # fmt: skip
    """Every asset's bytes and manifest store, every receipt, the CARs of both canary campaigns,
    the token metadata and the licence folders' JSON."""
    from mintloom.governance.licence_metadata import stored_folders
    from mintloom.ledger.metadata import published_metadata
    from mintloom.store.blobs import LocalBlobStore

    blobs = LocalBlobStore(studio.workspace.blobs_dir)
    for row in rows:
        data = blobs.get(row.cid)
        sidecar = blobs.get(row.sidecar_cid) if row.sidecar_cid else None
        if row.kind != "copy":  # other campaigns' copy is their own text, with no canary of ours
            streams.add(f"asset {row.campaign}/{row.path}", data, outside)
        streams.add(f"manifest {row.campaign}/{row.path}", manifest_json(row, data, sidecar), outside)
        receipt = studio.log.receipt(row.cid)
        assert receipt is not None
        streams.add(f"receipt {row.campaign}/{row.path}", receipt.model_dump_json(), outside)
    for campaign in ("tiny", DYNAMIC):
        car = tmp_path / f"{campaign}.car"
        r = cli(studio.workspace.root, "export", campaign, "--car", str(car))
        streams.add(f"export {campaign}", r.stdout + r.stderr, PRIVATE)  # the operator's: paths allowed
        streams.add(f"{campaign}.car", car.read_bytes(), outside)
    metadata = published_metadata(studio.db, [r.cid for r in rows])
    assert metadata, "the demo registered assets"
    for meta in metadata:
        streams.add(f"token metadata {meta.cid}", blobs.get(meta.metadata_cid), outside)
    folders = list(stored_folders(studio.db, blobs))
    assert folders
    for _, files in folders:
        for name, data in files.items():
            streams.add(f"licence {name}", data, outside)


def test_the_servers_access_log_holds_no_query_string(workspace: Workspace, tmp_path: Path) -> None:
    """A signed render URL's query carries the live variables and the signature (a capability
    until it expires): uvicorn's access log printed both with the path."""
    query = {"weather": WEATHER, "exp": "9999999999", "sig": "cnrysig" + "0" * 57}
    with serve(workspace.root, tmp_path) as base:
        for path in (f"/campaigns/{DYNAMIC}/render", "/health"):
            assert httpx.get(base + path, params=query, timeout=60).status_code < 500
    logs = (tmp_path / "serve.out").read_text() + (tmp_path / "serve.err").read_text()
    assert "GET /health HTTP/1.1" in logs  # the access log is on: a line per request, path only
    assert WEATHER not in logs and "cnrysig" not in logs, logs
