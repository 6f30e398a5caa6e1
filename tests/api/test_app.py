"""The HTTP API against a workspace where a tiny real campaign was run (offline: no chain)."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mintloom.api.app import create_app, status_for
from mintloom.errors import BlobError, CatalogError, LedgerError, MintloomError, SpecError, VerifyError
from mintloom.provenance.log import Receipt, SignedCheckpoint
from mintloom.provenance.merkle import verify_consistency, verify_inclusion
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_for
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.api.access import bearer


@pytest.fixture(scope="module")
def assets(client: TestClient) -> list[dict[str, Any]]:
    r = client.get("/assets", params={"limit": 500})
    assert r.status_code == 200
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _first(assets: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(a for a in assets if a["kind"] == kind)


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"error", "hint"} and body["error"]
    return body


# --- meta -----------------------------------------------------------------------------------------
def test_health(client: TestClient, api_studio: Studio, assets: list[dict[str, Any]]) -> None:
    from mintloom import __version__

    body = client.get("/health").json()
    assert body["status"] == "ok" and body["version"] == __version__
    assert "workspace" not in body  # public: no path of the machine
    assert body["log_size"] == len(assets) > 0
    assert body["checkpoint_size"] == body["log_size"]
    assert body["offline"] is True


def test_openapi_schema_and_docs(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    assert schema["info"]["title"] == "mintloom"
    for path in (
        "/health",
        "/assets",
        "/assets/{cid}",
        "/assets/{cid}/content",
        "/assets/{cid}/receipt",
        "/log/checkpoint",
        "/log/proof/inclusion",
        "/log/proof/consistency",
        "/verify",
    ):
        assert path in schema["paths"], path
    components = schema["components"]["schemas"]
    for model in ("AssetPage", "AssetDetail", "CheckpointOut", "VerifyReport", "Receipt", "ErrorOut"):
        assert model in components, model
    upload = schema["paths"]["/verify"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    assert client.get("/docs").status_code == 200


# --- assets ---------------------------------------------------------------------------------------
def test_list_assets_matches_the_catalog(
    client: TestClient, api_studio: Studio, assets: list[dict[str, Any]]
) -> None:
    rows = Catalog(api_studio.db).assets()
    assert [a["cid"] for a in assets] == [r.cid for r in rows]
    assert [a["leaf_index"] for a in assets] == sorted(a["leaf_index"] for a in assets)
    assert {a["kind"] for a in assets} == {"image", "copy", "audio"}
    img = _first(assets, "image")
    assert set(img) == {"cid", "kind", "media_type", "campaign", "locale", "format", "width", "height",
                        "leaf_index", "tags"}  # fmt: skip
    assert img["width"] > 0 and img["height"] > 0 and img["media_type"] == "image/png"
    assert img["campaign"] == "tiny" and isinstance(img["tags"], dict)


def test_list_assets_filters_and_pages(client: TestClient, assets: list[dict[str, Any]]) -> None:
    def cids(**params: Any) -> tuple[int, list[str]]:
        body = client.get("/assets", params=params).json()
        return body["total"], [a["cid"] for a in body["items"]]

    total, page = cids(limit=3, offset=2)
    assert total == len(assets) and page == [a["cid"] for a in assets[2:5]]
    assert cids(offset=len(assets)) == (len(assets), [])
    images = [a["cid"] for a in assets if a["kind"] == "image"]
    assert cids(kind="image", limit=500) == (len(images), images)
    arabic = [a["cid"] for a in assets if a["locale"] == "ar-EG"]
    assert arabic and cids(locale="ar-EG", limit=500) == (len(arabic), arabic)
    assert cids(campaign="tiny", limit=500)[0] == len(assets)
    assert cids(campaign="nope") == (0, [])
    # no filter by audience segment: it would confirm a guessed segment name
    assert cids(segment="students", limit=500) == cids(segment="nobody", limit=500) == cids(limit=500)
    combined = cids(kind="image", locale="en-US", limit=500)
    assert 0 < combined[0] < len(images)


def test_list_assets_rejects_bad_paging(client: TestClient) -> None:
    for params in ({"limit": 0}, {"limit": 100_000}, {"offset": -1}, {"limit": "ten"}):
        body = _error(client.get("/assets", params=params), 422)
        assert body["hint"]


def test_segment_salt_is_never_exposed(
    client: TestClient, api_studio: Studio, assets: list[dict[str, Any]]
) -> None:
    campaign = Catalog(api_studio.db).campaign("tiny")
    assert campaign is not None
    secrets = {campaign.salt.hex(), base64.b64encode(campaign.salt).decode(), "salt"}
    texts = [client.get("/assets", params={"limit": 500}).text]
    texts += [client.get(f"/assets/{a['cid']}").text for a in assets[:6]]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_asset_detail_with_lineage(
    client: TestClient, api_studio: Studio, assets: list[dict[str, Any]]
) -> None:
    catalog = Catalog(api_studio.db)
    children = [a for a in assets if catalog.parents(a["cid"])]
    assert children, "the tiny campaign derives variants from masters"
    child = children[0]
    body = client.get(f"/assets/{child['cid']}").json()
    assert body["cid"] == child["cid"] and body["kind"] == child["kind"]
    assert [(p["cid"], p["relation"]) for p in body["parents"]] == catalog.parents(child["cid"])
    row = catalog.asset(child["cid"])
    assert row is not None
    assert body["manifest_hash"] == bytes(row.manifest_hash).hex()
    assert body["content_cid"] == row.content_cid and "seed" not in body
    assert body["seed_commitment"] is not None and len(body["seed_commitment"]) == 64
    for p in body["parents"]:  # every parent is itself an asset
        assert client.get(f"/assets/{p['cid']}").status_code == 200


def test_unknown_and_malformed_cids(client: TestClient) -> None:
    unknown = cid_for(b"never generated")
    for path in ("/assets/{}", "/assets/{}/content", "/assets/{}/receipt", "/assets/{}/sidecar"):
        _error(client.get(path.format(unknown)), 404)
        body = _error(client.get(path.format("not-a-cid")), 422)
        assert body["hint"] and "CID" in body["hint"]
    _error(client.get("/assets/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"), 422)


def test_content_is_the_signed_file(client: TestClient, assets: list[dict[str, Any]]) -> None:
    for kind in ("image", "audio"):
        a = _first(assets, kind)
        r = client.get(f"/assets/{a['cid']}/content")
        assert r.status_code == 200
        assert cid_for(r.content) == a["cid"]
        assert r.headers["content-type"] == a["media_type"]
        assert r.headers["etag"] == f'"{a["cid"]}"'


def test_sidecar_when_the_format_has_one(client: TestClient, assets: list[dict[str, Any]]) -> None:
    for a in assets:
        detail = client.get(f"/assets/{a['cid']}").json()
        r = client.get(f"/assets/{a['cid']}/sidecar")
        if detail["sidecar_cid"] is None:
            _error(r, 404)
        else:
            assert r.status_code == 200 and cid_for(r.content) == detail["sidecar_cid"]


def test_receipt_verifies(client: TestClient, assets: list[dict[str, Any]]) -> None:
    a = assets[-1]
    r = client.get(f"/assets/{a['cid']}/receipt")
    assert r.status_code == 200
    receipt = Receipt.model_validate(r.json())
    assert receipt.cid == a["cid"] and receipt.leaf_index == a["leaf_index"]
    assert receipt.verify()


# --- log ------------------------------------------------------------------------------------------
def test_checkpoint_is_signed_by_the_workspace(client: TestClient, api_studio: Studio) -> None:
    body = client.get("/log/checkpoint").json()
    note = body.pop("signed_note")
    cp = SignedCheckpoint.model_validate(body)
    assert cp.size == api_studio.log.size
    assert cp.verify_signature(api_studio.keys.trust_anchor_pem())
    assert note == cp.signed_note() and note.startswith(cp.note)


def test_checkpoint_404_on_an_empty_log(tmp_path: Path) -> None:
    s = Studio(Workspace.init(tmp_path / "empty"))
    try:
        c = TestClient(create_app(s, offline=True), headers=bearer(s.db))
        _error(c.get("/log/checkpoint"), 404)
        assert c.get("/health").json()["log_size"] == 0
        assert c.get("/assets").json() == {"total": 0, "limit": 50, "offset": 0, "items": []}
    finally:
        s.close()


def test_inclusion_proofs(client: TestClient, assets: list[dict[str, Any]]) -> None:
    checkpoint = client.get("/log/checkpoint").json()
    for a in (assets[0], assets[len(assets) // 2], assets[-1]):
        body = client.get("/log/proof/inclusion", params={"cid": a["cid"]}).json()
        assert body["leaf_index"] == a["leaf_index"] and body["tree_size"] == checkpoint["size"]
        assert body["root"] == checkpoint["root"]
        assert body["checkpoint"]["signature"] == checkpoint["signature"]
        proof = [bytes.fromhex(p) for p in body["proof"]]
        leaf, root = bytes.fromhex(body["leaf_hash"]), bytes.fromhex(body["root"])
        assert verify_inclusion(body["leaf_index"], body["tree_size"], leaf, proof, root)
    # against an older, unsigned size
    a = assets[1]
    body = client.get("/log/proof/inclusion", params={"cid": a["cid"], "size": 3}).json()
    assert body["tree_size"] == 3 and body["checkpoint"] is None
    proof = [bytes.fromhex(p) for p in body["proof"]]
    assert verify_inclusion(1, 3, bytes.fromhex(body["leaf_hash"]), proof, bytes.fromhex(body["root"]))


def test_inclusion_proof_errors(client: TestClient, assets: list[dict[str, Any]]) -> None:
    _error(client.get("/log/proof/inclusion", params={"cid": cid_for(b"absent")}), 404)
    _error(client.get("/log/proof/inclusion", params={"cid": "garbage"}), 422)
    _error(client.get("/log/proof/inclusion"), 422)
    last = assets[-1]
    _error(client.get("/log/proof/inclusion", params={"cid": last["cid"], "size": last["leaf_index"]}), 422)
    _error(client.get("/log/proof/inclusion", params={"cid": last["cid"], "size": 10**6}), 422)


def test_consistency_proofs(client: TestClient, assets: list[dict[str, Any]]) -> None:
    n = len(assets)
    for old in (1, 2, 5, n - 1, n):
        body = client.get("/log/proof/consistency", params={"old": old}).json()
        assert body["old_size"] == old and body["new_size"] == n
        proof = [bytes.fromhex(p) for p in body["proof"]]
        assert verify_consistency(
            old, n, proof, bytes.fromhex(body["old_root"]), bytes.fromhex(body["new_root"])
        )
    body = client.get("/log/proof/consistency", params={"old": 3, "new": 7}).json()
    proof = [bytes.fromhex(p) for p in body["proof"]]
    assert verify_consistency(3, 7, proof, bytes.fromhex(body["old_root"]), bytes.fromhex(body["new_root"]))
    assert (
        client.get("/log/checkpoint").json()["root"]
        == client.get("/log/proof/consistency", params={"old": 1}).json()["new_root"]
    )


def test_consistency_proof_errors(client: TestClient, assets: list[dict[str, Any]]) -> None:
    n = len(assets)
    _error(client.get("/log/proof/consistency", params={"old": 5, "new": 4}), 422)
    _error(client.get("/log/proof/consistency", params={"old": 1, "new": n + 1}), 422)
    _error(client.get("/log/proof/consistency", params={"old": 0}), 422)
    _error(client.get("/log/proof/consistency"), 422)


# --- verify ---------------------------------------------------------------------------------------
def _verify(client: TestClient, data: bytes, name: str, **extra: Any) -> dict[str, Any]:
    files: dict[str, Any] = {"file": (name, data, "application/octet-stream")}
    if "sidecar" in extra:
        files["sidecar"] = (name + ".c2pa", extra.pop("sidecar"), "application/c2pa")
    r = client.post("/verify", files=files, params=extra)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_verify_real_assets_offline(
    client: TestClient, api_studio: Studio, assets: list[dict[str, Any]]
) -> None:
    blobs = LocalBlobStore(api_studio.workspace.blobs_dir)  # copy text is not served: read it here
    for kind, name in (("image", "ad.png"), ("copy", "note.txt"), ("audio", "jingle.wav")):
        a = _first(assets, kind)
        data = blobs.get(a["cid"])
        extra: dict[str, Any] = {"offline": "true"}
        if client.get(f"/assets/{a['cid']}").json()["sidecar_cid"] is not None:
            extra["sidecar"] = client.get(f"/assets/{a['cid']}/sidecar").content
        report = _verify(client, data, name, **extra)
        assert report["verdict"] == "VERIFIED", (kind, report["checks"])
        assert report["cid"] == a["cid"] and report["binding"] == "hard"
        assert report["receipt"]["leaf_index"] == a["leaf_index"]
        assert report["origin"]["campaign"] == "tiny"
        assert {c["name"]: c["status"] for c in report["checks"]}["anchor"] == "skip"


def test_verify_stripped_copy_by_fingerprint(client: TestClient, assets: list[dict[str, Any]]) -> None:
    a = _first(assets, "image")
    data = client.get(f"/assets/{a['cid']}/content").content
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, "JPEG", quality=85)  # drops the manifest
    report = _verify(client, out.getvalue(), "shared.jpg")
    assert report["verdict"] == "VERIFIED", report["checks"]
    assert report["binding"] == "fingerprint" and report["matched_cid"] == a["cid"]


def test_verify_unknown_files(client: TestClient, assets: list[dict[str, Any]]) -> None:
    report = _verify(client, os.urandom(4096), "random.bin")
    assert report["verdict"] == "UNKNOWN" and report["cid"] is None
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (12, 200, 40)).save(png, "PNG")
    assert _verify(client, png.getvalue(), "plain.png")["verdict"] == "UNKNOWN"
    a = _first(assets, "image")
    img = Image.open(io.BytesIO(client.get(f"/assets/{a['cid']}/content").content))
    flipped = io.BytesIO()
    img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped, "PNG")
    assert _verify(client, flipped.getvalue(), "flipped.png")["verdict"] == "UNKNOWN"


def test_verify_requires_a_file(client: TestClient) -> None:
    _error(client.post("/verify"), 422)
    _error(client.post("/verify", data={"other": "x"}), 422)


def test_concurrent_first_verifications_share_one_index(
    api_studio: Studio, assets: list[dict[str, Any]]
) -> None:
    app = create_app(api_studio, offline=True)
    c = TestClient(app)  # no lifespan: the context and index are built by the first requests
    image = api_studio.blobs.get(_first(assets, "image")["cid"])
    out = io.BytesIO()
    Image.open(io.BytesIO(image)).convert("RGB").save(out, "JPEG", quality=90)
    with ThreadPoolExecutor(8) as pool:
        reports = list(pool.map(lambda _: _verify(c, out.getvalue(), "copy.jpg"), range(8)))
    assert {r["verdict"] for r in reports} == {"VERIFIED"}
    ctx = app.state.verifier.context()
    assert ctx.fingerprint_index() is not None


def test_upload_limit(api_studio: Studio) -> None:
    c = TestClient(create_app(api_studio, offline=True, max_upload_bytes=2048))
    body = _error(c.post("/verify", files={"file": ("big.png", b"\x89PNG" + b"0" * 4096)}), 413)
    assert "2048" in body["error"]
    ok = c.post("/verify", files={"file": ("small.bin", b"x" * 100)})
    assert ok.status_code == 200 and ok.json()["verdict"] == "UNKNOWN"

    boundary = "mintloomtest"
    payload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"1" * 8192
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for i in range(0, len(payload), 1024):
            yield payload[i : i + 1024]

    r = c.post(
        "/verify", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    _error(r, 413)


# --- error mapping --------------------------------------------------------------------------------
def test_status_by_subsystem() -> None:
    assert status_for(VerifyError("x")) == 422
    assert status_for(SpecError("x")) == 422
    assert status_for(CatalogError("x")) == 500
    assert status_for(BlobError("x")) == 500
    assert status_for(LedgerError("x")) == 503
    assert status_for(MintloomError("x")) == 500


def test_storage_errors_do_not_leak_details(api_studio: Studio) -> None:
    app = create_app(api_studio, offline=True)

    @app.get("/boom/{what}")
    def boom(what: str) -> dict[str, str]:
        errors: dict[str, MintloomError] = {
            "catalog": CatalogError("sqlite error at /secret/path/catalog.db: SELECT salt"),
            "blob": BlobError("blob bafy is corrupted on disk (/secret/path/blobs)"),
            "verify": VerifyError("cannot decode the upload", hint="send a PNG"),
        }
        raise errors[what]

    c = TestClient(app, raise_server_exceptions=False)
    for what in ("catalog", "blob"):
        body = _error(c.get(f"/boom/{what}"), 500)
        assert "secret" not in json.dumps(body) and "salt" not in json.dumps(body)
    assert _error(c.get("/boom/verify"), 422) == {"error": "cannot decode the upload", "hint": "send a PNG"}


# --- serve ----------------------------------------------------------------------------------------
def test_serve_command_runs_uvicorn_with_the_workspace(
    ran: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from mintloom.cli.main import app

    seen: dict[str, Any] = {}

    def fake_run(application: Any, **kw: Any) -> None:
        seen.update(kw, app=application)
        with TestClient(application) as c:
            seen["health"] = c.get("/health").json()

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setenv("MINTLOOM_WORKSPACE", str(ran.root))
    monkeypatch.delenv("MINTLOOM_KEY_PASSWORD", raising=False)
    result = CliRunner().invoke(app, ["serve", "--port", "8123", "--offline"])
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert seen["health"]["offline"] is True and "workspace" not in seen["health"]


# --- public fields only ---------------------------------------------------------------------------
def test_only_public_fields_are_served(
    client: TestClient, api_studio: Studio, assets: list[dict[str, Any]]
) -> None:
    """No audience segment, personalised text or path of the machine in any response."""
    from mintloom.api.app import AssetTags

    private = ("students", "runners", "Alex", "Casey", "Berlin", "Osaka", str(api_studio.workspace.root))
    responses = [client.get(p) for p in ("/health", "/assets?limit=500", "/openapi.json", "/log/checkpoint")]
    for a in assets:
        responses += [client.get(f"/assets/{a['cid']}{s}") for s in ("", "/receipt", "/sidecar")]
    blobs = LocalBlobStore(api_studio.workspace.blobs_dir)
    catalog = Catalog(api_studio.db)
    for a in assets:  # a derived variant's history names its ancestors: by CID, not by segment
        if catalog.parents(a["cid"]):
            files = {"file": ("v.png", blobs.get(a["cid"]), "image/png")}
            report = client.post("/verify", files=files, params={"offline": "true"})
            assert any("derived_from" in h for h in report.json()["history"])
            responses.append(report)
    for r in responses:
        assert r.status_code in (200, 404)
        for value in private:
            assert value not in r.text, (r.url, value)
    for a in assets:
        assert set(a["tags"]) <= set(AssetTags.model_fields) and "text" not in a["tags"]
    components = client.get("/openapi.json").json()["components"]["schemas"]
    assert not {"segment", "path"} & set(components["AssetDetail"]["properties"])
    assert "workspace" not in components["HealthOut"]["properties"]


def test_personalised_copy_is_not_served(client: TestClient, assets: list[dict[str, Any]]) -> None:
    copy = _first(assets, "copy")
    body = _error(client.get(f"/assets/{copy['cid']}/content"), 403)
    assert "personalised copy" in body["error"] and body["hint"]
    assert client.get(f"/assets/{copy['cid']}/sidecar").status_code == 200  # its credential is public
