"""Canary test: audience data, local paths and secrets never leave the workspace.

Every audience column of three tiny campaigns (one per copy engine: Jinja2 copy, a local
transformers model, an OpenAI-compatible server run here) holds a distinct canary, as do the key
password, the API key and the model folder. The campaigns run through the CLI on a real anvil
(generate, sign, log, anchor, publish), then receipts and CARs are exported and the HTTP API is
queried. The rule the test asserts, stream by stream:

* **Leaves the workspace, so carries no audience value, secret, local path or job key** (a job
  key is an unsalted hash over audience values; each in any of the encodings :func:`forms`
  lists, including an unsalted sha-256): every C2PA manifest (raw bytes
  and the manifest store JSON c2pa decodes, ingredients included), every ``.c2pa`` sidecar, every
  receipt, every transaction's calldata and event log on the chain, every API response, and every
  block of a CAR except the ones below.
* **Is the personalised content itself, so may carry audience values**: the bytes of a copy
  asset (its ``.txt`` under ``out/`` and its raw block in a CAR: a CAR is the deliberate
  publication of the assets themselves, which is what an ad is, and carries nothing besides them
  and their sidecars). Images carry their text as pixels, never as bytes.
* **Operator-facing**: CLI output may name local paths (``outputs in …``) but no audience value
  and no secret; file names under ``out/`` may name segments (the workspace is private).

Positive controls prove each search would see a leak: the canaries are in the copy texts, the
model server received them in its prompt and the API key in its header.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import c2pa
import pytest
from fastapi.testclient import TestClient

from mintloom.api.app import create_app
from mintloom.api.security import VerifyRate
from mintloom.campaign.run import salted_commitment
from mintloom.campaign.sample import write_sample_campaign
from mintloom.engines.transformers_text import weights_hash
from mintloom.ledger.node import NodeInfo, rpc_call
from mintloom.provenance import text_wrapper
from mintloom.provenance.content_credentials import read_credentials, text_carrier
from mintloom.store.car import read_car
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.api.access import bearer
from tests.engines.chat_stub import JsonHandler, serve
from tests.engines.tiny_model import build_tiny_gpt2

pytestmark = pytest.mark.xdist_group("anvil")

PASSWORD = "cnry-keypass-Hq7Vw2"
API_KEY = "sk-cnry-apikey-Pz4Lm9"
MODEL_DIR = "cnry-modeldir-Jt3Ks8"
COLUMNS = ("segment", "name", "city", "promo", "price", "deadline", "tier")
ROWS = tuple(
    (f"cnry-seg-{t}", f"CnryName{t}", f"CnryCity{t}", f"CnryPromo{t}", price, deadline, f"CnryTier{t}")
    for t, price, deadline in (("Qx71", "7391.4826", "2031-07-19"), ("Zk94", "6158.2937", "2032-03-27"))
)
AUDIENCE_VALUES = tuple(v for row in ROWS for v in row)
NOTE = "{{ name }} in {{ city }}: {{ promo }} at {{ price | currency('EUR') }} until {{ deadline | date }}"
ENGINES = {
    "priv-copy": "  engine: copy\n",
    "priv-local": f"  engine: transformers-text\n  model: {{model_path: {MODEL_DIR}, max_new_tokens: 6}}\n",
    "priv-served": "  engine: openai-compat\n  model: {base_url: 'URL', model: cnry-served}\n",
}
NOTES = {
    "priv-copy": NOTE,
    "priv-local": "{{ name }} {{ city }} {{ promo }} {{ price }} {{ deadline }} {{ tier }} summer sale now",
    "priv-served": NOTE,
}

MANY = VerifyRate(per_minute=600, burst=100)
"""A rate limit the tests' single client, verifying every asset, stays under."""


def spec(campaign: str, url: str) -> str:
    formats = "[square, leaderboard]" if campaign == "priv-copy" else "[square]"
    return (
        f"campaign: {campaign}\nseed: 7\nbrand:\n  name: Lumen\n"
        '  palette: ["#1d3557", "#e63946", "#f1faee"]\n  logo: logo.png\n  messages:\n'
        '    en-US:\n      headline: "{{ name }} {{ promo }}"\n'
        "      body: \"{{ price | currency('EUR') }} in {{ city }} until {{ deadline | date }}\"\n"
        '      cta: "Go"\n'
        f"audience: audience.csv\nlocales: [en-US]\nformats: {formats}\n"
        f'copy:\n{ENGINES[campaign].replace("URL", url)}  templates:\n    note: "{NOTES[campaign]}"\n'
        f"audio:\n  enabled: {'true' if campaign == 'priv-copy' else 'false'}\n"
    )


# --- the model server --------------------------------------------------------------------------------
class _Echo(JsonHandler):
    """An OpenAI-compatible server whose completion is 'Ad: ' + the prompt (personalised copy)."""

    prompts: ClassVar[list[str]] = []
    keys: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        type(self).prompts.append(prompt)
        type(self).keys.append(self.headers.get("Authorization", ""))
        answer = {"model": body["model"], "system_fingerprint": "fp_cnry",
                  "choices": [{"message": {"role": "assistant", "content": f"Ad: {prompt}"}}]}  # fmt: skip
        self.reply(answer)


@pytest.fixture
def model_server() -> Iterator[str]:
    _Echo.prompts, _Echo.keys = [], []
    with serve(_Echo) as url:
        yield url


# --- searching ---------------------------------------------------------------------------------------
def forms(value: str) -> dict[str, bytes]:
    """Encodings a value could leak in: raw, UTF-16, hex, base64 at each alignment, sha-256."""
    raw = value.encode()
    out = {"utf-8": raw, "utf-16": value.encode("utf-16-le"), "hex": raw.hex().encode(),
           "sha256": hashlib.sha256(raw).hexdigest().encode()}  # fmt: skip
    for shift in range(3):
        b64 = base64.b64encode(b"\0" * shift + raw)[4 if shift else 0 :]
        out[f"base64+{shift}"] = b64[: len(b64) - 4]  # drop the partial quantum at either end
    return out


def leaks(data: bytes, secrets: tuple[str, ...]) -> list[str]:
    lowered = data.lower()
    found = []
    for value in secrets:
        for name, needle in forms(value).items():
            hay = data if name.startswith("base64") else lowered
            if (needle if name.startswith("base64") else needle.lower()) in hay:
                found.append(f"{value!r} as {name}")
    return found


class Streams:
    """Named byte streams, each searched for the values it must not hold."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes, tuple[str, ...]]] = []

    def add(self, name: str, data: bytes | str, forbidden: tuple[str, ...]) -> None:
        self.items.append((name, data.encode() if isinstance(data, str) else data, forbidden))

    def assert_clean(self) -> None:
        bad = [f"{name}: {', '.join(found)}" for name, data, forbidden in self.items
               if (found := leaks(data, forbidden))]  # fmt: skip
        assert not bad, "leaks:\n" + "\n".join(bad)


# --- running -----------------------------------------------------------------------------------------
def cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINTLOOM_WORKSPACE": str(ws), "MINTLOOM_KEY_PASSWORD": PASSWORD,
           "OPENAI_API_KEY": API_KEY, "COLUMNS": "200"}  # fmt: skip
    r = subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], capture_output=True, text=True,
                       env=env, timeout=600, check=False)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def manifest_json(row: AssetRow, data: bytes, sidecar: bytes | None) -> bytes:
    """The manifest store as c2pa decodes it (all manifests, ingredients included)."""
    if sidecar is not None:
        reader = c2pa.Reader("image/svg+xml", io.BytesIO(text_carrier(data)), sidecar)
    else:
        reader = c2pa.Reader(row.media_type, io.BytesIO(data))
    with reader:
        return reader.json().encode()


def chain_bytes(rpc_url: str) -> list[tuple[str, bytes]]:
    """Calldata of every transaction and data and topics of every event, in every block."""
    out = []
    for n in range(int(rpc_call(rpc_url, "eth_blockNumber"), 16) + 1):
        block = rpc_call(rpc_url, "eth_getBlockByNumber", [hex(n), True])
        for tx in block["transactions"]:
            out.append((f"calldata {tx['hash']}", bytes.fromhex(tx["input"][2:])))
            receipt = rpc_call(rpc_url, "eth_getTransactionReceipt", [tx["hash"]])
            for i, log in enumerate(receipt["logs"]):
                data = bytes.fromhex(log["data"][2:]) + b"".join(bytes.fromhex(t[2:]) for t in log["topics"])
                out.append((f"event {tx['hash']}#{i}", data))
    return out


def run_campaigns(ws: Workspace, root: Path, url: str, logs: Streams, private: tuple[str, ...]) -> None:
    r = cli(ws.root, "keys", "init", "--organisation", "Privacy Org")
    logs.add("keys init", r.stdout + r.stderr, private)
    for campaign in ENGINES:
        rows = "".join(",".join(r) + "\n" for r in ROWS)
        folder = root / campaign
        path = write_sample_campaign(folder, spec(campaign, url), ",".join(COLUMNS) + "\n" + rows)
        if campaign == "priv-local":
            build_tiny_gpt2(folder / MODEL_DIR)
        r = cli(ws.root, "run", str(path), "-w", "1")
        assert "attached in" in r.stdout
        logs.add(f"run {campaign} stdout", r.stdout, private)
        logs.add(f"run {campaign} stderr", r.stderr, private)


def test_no_audience_value_secret_or_path_leaves_the_workspace(
    workspace: Workspace, anvil: NodeInfo, model_server: str, tmp_path: Path
) -> None:
    pytest.importorskip("transformers")
    secrets = (PASSWORD, API_KEY)
    private = AUDIENCE_VALUES + secrets  # never in logs
    public = (*private, MODEL_DIR, str(tmp_path), str(workspace.root))  # never outside the workspace
    streams = Streams()
    run_campaigns(workspace, tmp_path / "campaigns", model_server, streams, private)
    # positive controls: the canaries reached the model and the key was used
    assert len(_Echo.prompts) == len(ROWS) and all(k == f"Bearer {API_KEY}" for k in _Echo.keys)
    assert {p.split(" in ")[0] for p in _Echo.prompts} == {r[1] for r in ROWS}

    studio = Studio(workspace)
    try:
        rows = Catalog(studio.db).assets()
        assert sorted({r.kind for r in rows}) == ["audio", "copy", "image"]
        # a job key is an unsalted hash over the audience values: as private as they are
        public += tuple(k[:16] for c in ENGINES for k in Catalog(studio.db).done_jobs(c))
        _check_assets(studio, rows, tmp_path, streams, public)
        _exports(studio, rows, tmp_path, streams, (public, private))
        for name, data in chain_bytes(anvil.rpc_url):
            streams.add(name, data, public)
        _api(studio, rows, streams, public)
    finally:
        studio.close()
    streams.assert_clean()


def _check_assets(studio: Studio, rows: list[AssetRow], tmp_path: Path, streams: Streams,
                  public: tuple[str, ...]) -> None:  # fmt: skip
    """Every exported file and manifest; the copy texts carry the canaries, nothing else does."""
    catalog = Catalog(studio.db)
    out = studio.workspace.out_dir
    anchors = studio.keys.trust_anchor_pem()
    for row in rows:
        target = out / row.campaign / row.path
        data = target.read_bytes()
        sidecar = target.with_name(target.name + ".c2pa").read_bytes() if row.sidecar_cid else None
        if row.kind == "copy":
            if row.campaign != "priv-local":  # the tiny model writes its own words
                assert any(v in data.decode() for v in AUDIENCE_VALUES), "positive control"
        else:
            streams.add(f"out/{row.path} (bytes)", data, public)
        if sidecar is not None:
            streams.add(f"out/{row.path}.c2pa", sidecar, public)
        streams.add(f"out/{row.path} (manifest JSON)", manifest_json(row, data, sidecar), public)
        cred = read_credentials(data, row.media_type, trust_anchors_pem=anchors, sidecar=sidecar)
        assert cred.trusted and cred.generation is not None, (row.path, cred.failures)
        _check_recorded(row, cred.generation, data, catalog, tmp_path)


def _check_recorded(row: AssetRow, gen: Any, data: bytes, catalog: Catalog, tmp_path: Path) -> None:
    """What a model copy manifest says instead of the prompt and path: template hash, salted
    prompt commitment, model id and weights hash."""
    if row.kind != "copy":
        return
    assert gen.template_hash == hashlib.sha256(NOTES[row.campaign].encode()).hexdigest()
    campaign = catalog.campaign(row.campaign)
    assert campaign is not None
    if row.campaign == "priv-served":
        found = text_wrapper.find(data)  # the served model's words, without the embedded credential
        text = text_wrapper.strip(data, found) if found is not None else data
        prompt = text.decode().removeprefix("Ad: ")
        assert gen.parameters.prompt_commitment == salted_commitment(campaign.salt, "prompt", prompt)
        assert gen.model_id == "cnry-served" and gen.model_hash == "fp_cnry"
    elif row.campaign == "priv-local":
        folder = tmp_path / "campaigns" / "priv-local" / MODEL_DIR
        assert gen.model_hash == weights_hash(folder) and gen.model_id == f"local-{gen.model_hash[:16]}"
        assert gen.parameters.prompt_commitment is not None and gen.parameters.decoding == "greedy"
    else:
        assert gen.parameters.prompt_commitment is None and gen.parameters.template_name == "note"


def _exports(studio: Studio, rows: list[AssetRow], tmp_path: Path, streams: Streams,
             forbidden: tuple[tuple[str, ...], tuple[str, ...]]) -> None:  # fmt: skip
    """Every receipt (the bytes `mintloom receipt` writes, the command itself run for one asset of
    each kind and campaign) and every CAR; a CAR's copy blocks are the only ones with canaries.
    One asset of each kind and campaign is registered first (`mintloom register`), so the CARs
    also hold token metadata JSON (and the receipts it links) next to the licence folder."""
    public, private = forbidden
    copies = {r.cid for r in rows if r.kind == "copy"}
    ws, through_cli = studio.workspace, set()
    for row in rows:
        receipt = studio.log.receipt(row.cid)
        assert receipt is not None
        text = receipt.model_dump_json(indent=2) + "\n"  # what `mintloom receipt --out` writes
        streams.add(f"receipt {row.path}", text.encode(), public)
        if (row.campaign, row.kind) not in through_cli:  # the command itself, once per campaign and kind
            through_cli.add((row.campaign, row.kind))
            target = tmp_path / f"{row.cid}.receipt.json"
            r = cli(ws.root, "receipt", row.cid, "--out", str(target))
            streams.add(f"receipt {row.path} log", r.stdout + r.stderr, private)
            assert target.read_text() == text
            r = cli(ws.root, "register", row.cid)
            streams.add(f"register {row.path} log", r.stdout + r.stderr, private)
    assert len(through_cli) == len(ENGINES) * 2 + 1  # images and copy in each, one sound logo
    registered = _token_documents(studio, rows, streams, public)
    for campaign in ENGINES:
        car = tmp_path / f"{campaign}.car"
        r = cli(ws.root, "export", campaign, "--car", str(car))
        streams.add(f"export {campaign} log", r.stdout + r.stderr, private)
        raw = car.read_bytes()
        roots, blocks = read_car(car)
        for cid, block in blocks:
            if cid in copies:
                raw = raw.replace(block, b"")  # the ad text itself: published on purpose
        streams.add(f"{campaign}.car (all but copy blocks)", raw, public)
        assets = {r.cid for r in rows if r.campaign == campaign}
        documents = {registered[r.cid] for r in rows if r.campaign == campaign and r.cid in registered}
        assert assets | documents <= set(roots) and len(documents) >= 2  # tokenURI resolves from the CAR
        assert len(set(roots) - assets - documents) == 1  # and the licence folder


def _token_documents(
    studio: Studio, rows: list[AssetRow], streams: Streams, public: tuple[str, ...]
) -> dict[str, str]:
    """Each registered asset's metadata JSON (what tokenURI names) and every licence JSON of the
    ERC-1155 folder, searched on their own: they leave the workspace. Returns asset → metadata CID."""
    from mintloom.governance.licence_metadata import stored_folders
    from mintloom.ledger.metadata import published_metadata
    from mintloom.store.blobs import LocalBlobStore

    blobs = LocalBlobStore(studio.workspace.blobs_dir)
    out = {}
    for meta in published_metadata(studio.db, [r.cid for r in rows]):
        streams.add(f"token metadata {meta.cid}", blobs.get(meta.metadata_cid), public)
        streams.add(f"token receipt {meta.cid}", blobs.get(meta.receipt_cid), public)
        out[meta.cid] = meta.metadata_cid
    folders = list(stored_folders(studio.db, blobs))
    assert folders and all(len(files) == len(rows) for _, files in folders)  # one licence per asset
    for _, files in folders:
        for name, data in files.items():
            streams.add(f"licence {name}", data, public)
    assert len(out) == len(ENGINES) * 2 + 1
    return out


def _api(studio: Studio, rows: list[AssetRow], streams: Streams, public: tuple[str, ...]) -> None:
    """Every read route of the API, and verification of one asset of each kind."""
    app = create_app(studio, offline=True, verify_rate=MANY)  # verifies every asset
    with TestClient(app, headers=bearer(studio.db)) as client:  # a read token: every read route answers
        for route in ("/health", "/assets?limit=500", "/log/checkpoint", "/openapi.json"):
            streams.add(f"GET {route}", client.get(route).content, public)
        for row in rows:
            for suffix in ("", "/receipt", "/sidecar", "/content"):
                r = client.get(f"/assets/{row.cid}{suffix}")
                private_text = suffix == "/content" and row.kind == "copy"
                no_sidecar = suffix == "/sidecar" and not row.sidecar_cid
                assert r.status_code == (403 if private_text else 404 if no_sidecar else 200)
                streams.add(f"GET /assets/{{{row.kind}}}{suffix}", r.content, public)
            proof = client.get("/log/proof/inclusion", params={"cid": row.cid})
            streams.add("GET /log/proof/inclusion", proof.content, public)
        blobs = studio.workspace.blobs_dir
        for row in rows:
            files: dict[str, Any] = {"file": ("upload", _blob(blobs, row.cid), "application/octet-stream")}
            if row.sidecar_cid:
                files["sidecar"] = ("upload.c2pa", _blob(blobs, row.sidecar_cid), "application/c2pa")
            report = client.post("/verify", files=files, params={"offline": "true"})
            assert report.json()["verdict"] == "VERIFIED", report.text
            streams.add(f"POST /verify {row.kind}", report.content, public)


def _blob(blobs: Path, cid: str) -> bytes:
    from mintloom.store.blobs import LocalBlobStore

    return LocalBlobStore(blobs).get(cid)
