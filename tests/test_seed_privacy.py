"""The engine seed cannot confirm a guessed segment name.

A design seed is derived, without salt, from the spec seed, the campaign, the segment name and
the locale (``plan.derive_seed``). An attacker who guesses likely segment names and small spec
seeds can compute every candidate seed offline; if any published field held the seed, a match
would confirm the segment. This test is that attacker: it brute-forces the candidates with the
planner's own derivation and searches every published stream of a real run (manifests and
sidecars as c2pa decodes them, receipts, the HTTP API's asset and verify responses, and the token
and licence metadata JSON wallets read).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mintloom.api.app import create_app
from mintloom.api.security import VerifyRate
from mintloom.campaign.plan import derive_seed
from mintloom.campaign.run import seed_commitment
from mintloom.campaign.sample import AUDIENCE_ROWS, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.governance.licence_metadata import stored_folders
from mintloom.ledger.assets import register_asset
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.metadata import published_metadata
from mintloom.ledger.node import NodeInfo
from mintloom.pipeline import Pipeline, PipelineOptions
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.published import canonical_json
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.api.access import bearer
from tests.conftest import PASSWORD, sample_studio
from tests.test_privacy import manifest_json

CAMPAIGN = "tiny"
LOCALES = ("en-US", "ar-EG", "de-DE", "fr-FR")
GUESSES = (*(r.split(",")[0] for r in AUDIENCE_ROWS), "gamers", "parents", "vip", "churned")
NUMBER = re.compile(rb"(?<![0-9A-Za-z])[0-9]+(?![0-9A-Za-z])")

MANY = VerifyRate(per_minute=600, burst=100)
"""A rate limit the tests' single client, verifying every asset, stays under."""


def candidates() -> dict[int, str]:
    """Every seed the attacker can derive: spec seeds 0..255 × guessed segments × locales, and the
    sound logo's (which would confirm the spec seed)."""
    out: dict[int, str] = {}
    for spec_seed in range(256):
        out[derive_seed(spec_seed, CAMPAIGN, "sound-logo")] = f"sound-logo@{spec_seed}"
        for segment in GUESSES:
            for locale in LOCALES:
                out[derive_seed(spec_seed, CAMPAIGN, segment, locale)] = f"{segment}/{locale}@{spec_seed}"
    return out


def confirmed(stream: bytes, seeds: dict[int, str]) -> list[str]:
    """The guesses a published stream confirms: a seed as a number or as its unsalted sha-256."""
    hits = [seeds[int(m)] for m in NUMBER.findall(stream) if len(m) < 12 and int(m) in seeds]
    lowered = stream.lower()
    digests = {hashlib.sha256(str(s).encode()).hexdigest().encode(): g for s, g in seeds.items()}
    return hits + [g for d, g in digests.items() if d in lowered]


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    s = sample_studio(tmp_path_factory.mktemp("seed"))
    yield s
    s.close()


def _verify(client: TestClient, data: bytes, name: str, sidecar: bytes | None) -> bytes:
    files: dict[str, Any] = {"file": (name, data, "application/octet-stream")}
    if sidecar is not None:
        files["sidecar"] = (name + ".c2pa", sidecar, "application/c2pa")
    r = client.post("/verify", files=files, params={"offline": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "VERIFIED", r.text
    return r.content


def test_no_published_field_confirms_a_guessed_segment(studio: Studio) -> None:
    seeds = candidates()
    catalog, blobs = Catalog(studio.db), LocalBlobStore(studio.workspace.blobs_dir)
    rows = catalog.assets(CAMPAIGN)
    salt = catalog.campaign(CAMPAIGN).salt  # type: ignore[union-attr]
    # positive control: the brute force finds every real seed the workspace keeps internally
    assert len(rows) == 17 and all(r.seed in seeds for r in rows)
    assert {seeds[r.seed].split("/")[0] for r in rows if r.segment} == {"students", "runners"}
    streams: list[tuple[str, bytes]] = []
    app = create_app(Studio(studio.workspace), offline=True, verify_rate=MANY)  # verifies every asset
    with TestClient(app, headers=bearer(studio.db)) as client:
        for row in rows:
            data = blobs.get(row.cid)
            sidecar = blobs.get(row.sidecar_cid) if row.sidecar_cid else None
            manifest = manifest_json(row, data, sidecar)
            assert seed_commitment(salt, row.seed).encode() in manifest  # the seed is committed to
            streams.append((f"manifest {row.path}", manifest))
            if sidecar is not None:
                streams.append((f"sidecar {row.path}", sidecar))
            detail = client.get(f"/assets/{row.cid}")
            assert detail.status_code == 200, detail.text
            assert detail.json()["seed_commitment"] == seed_commitment(salt, row.seed)
            streams.append((f"GET /assets/{row.cid}", detail.content))
            streams.append((f"receipt {row.path}", client.get(f"/assets/{row.cid}/receipt").content))
            streams.append((f"verify {row.path}", _verify(client, data, Path(row.path).name, sidecar)))
        streams.append(("GET /assets", client.get("/assets", params={"limit": 500}).content))
    leaks = {name: hits for name, stream in streams if (hits := confirmed(stream, seeds))}
    assert not leaks, leaks


@pytest.mark.xdist_group("anvil")
def test_no_token_or_licence_metadata_confirms_a_guessed_segment(
    workspace: Workspace, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    """The same attacker against what wallets read: every asset registered, each token metadata
    JSON (and the receipt it links) and every licence JSON of the ERC-1155 folder."""
    seeds = candidates()
    with Studio(workspace, password=PASSWORD) as studio:
        studio.ensure_keys()
        deploy_all(studio.chain, studio.settings.governance)
        Pipeline(studio).run(load_spec(write_sample_campaign(tmp_path / "c")), PipelineOptions())
        catalog, blobs = Catalog(studio.db), LocalBlobStore(studio.workspace.blobs_dir)
        rows = catalog.assets(CAMPAIGN)
        assert len(rows) == 17 and all(r.seed in seeds for r in rows)  # positive control
        assert confirmed(canonical_json({"attributes": [{"value": rows[0].seed}]}), seeds)  # would be seen
        streams: list[tuple[str, bytes]] = []
        for row in rows:
            register_asset(studio.chain, studio.log, catalog, row.cid, blobs=blobs)
        for meta in published_metadata(studio.db, [r.cid for r in rows]):
            streams.append((f"token metadata {meta.cid}", blobs.get(meta.metadata_cid)))
            streams.append((f"token receipt {meta.cid}", blobs.get(meta.receipt_cid)))
        for _, files in stored_folders(studio.db, blobs):
            streams += [(f"licence {name}", data) for name, data in files.items()]
    assert len(streams) == 2 * 17 + 17  # one licence per asset (the spec's default terms)
    leaks = {name: hits for name, stream in streams if (hits := confirmed(stream, seeds))}
    assert not leaks, leaks
