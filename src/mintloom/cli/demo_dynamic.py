"""The demo's dynamic-creative step: three live variants (weather and price) rendered on request
through the HTTP API (in process), a repeated request served from the cache (same CID, no new
leaf), the new leaves anchored, and one served render verified."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.table import Table

from mintloom.cli.console import console

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from mintloom.studio import Studio

CAMPAIGN = "lumen-live"
VARIANTS = (
    {"weather": "sunny", "price": 3.9, "offer": 15},
    {"weather": "rainy", "price": 4.2, "offer": 20},
    {"weather": "snowy", "price": 5.5, "offer": 25, "in_stock": False},
)


def dynamic_step(say: Callable[[str], None], studio: Studio, password: str) -> None:
    """Render, hit the cache, anchor, verify (see the module docstring)."""
    from mintloom.store.tokens import TokenStore

    say("dynamic creative: three live variants rendered on request through the API, one repeated")
    _configure(studio)
    auth = {"Authorization": "Bearer " + TokenStore(studio.db).create("demo-adserver", ["render"])[1]}
    table = Table("weather", "price", "cid", "leaf", "cache", "ms")
    with _api(studio, password) as client:
        served = [_render(client, auth, v, table) for v in (*VARIANTS, VARIANTS[0])]
    console.print(table)
    first, repeat = served[0], served[-1]
    if first[0] != repeat[0]:
        raise RuntimeError("the repeated request was rendered again")
    result = studio.anchor()
    console.print(f"    the renders' leaves anchored with the log at size {result.size}")
    _verify(studio, first[1])


def _configure(studio: Studio) -> None:
    """The sample dynamic campaign in the workspace, listed under ``[dynamic.campaigns]``."""
    from mintloom.campaign.sample import dynamic_sample_spec, write_sample_campaign

    ws = studio.workspace
    write_sample_campaign(ws.root / "dynamic", dynamic_sample_spec(CAMPAIGN))
    with ws.config_file.open("a", encoding="utf-8") as f:
        f.write(f'\n[dynamic]\nanchorer = false\n[dynamic.campaigns]\n{CAMPAIGN} = "dynamic/campaign.yaml"\n')


@contextmanager
def _api(studio: Studio, password: str) -> Iterator[TestClient]:
    """The workspace's API in process, with the key password its render service reads."""
    from fastapi.testclient import TestClient

    from mintloom.api.app import create_app
    from mintloom.api.runs import PASSWORD_ENV
    from mintloom.studio import Studio

    saved = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = password
    app_studio = Studio(studio.workspace)
    try:
        with TestClient(create_app(app_studio, offline=True)) as client:
            yield client
    finally:
        app_studio.close()
        if saved is None:
            os.environ.pop(PASSWORD_ENV, None)
        else:
            os.environ[PASSWORD_ENV] = saved


def _render(
    client: TestClient, auth: dict[str, str], variables: dict[str, object], table: Table
) -> tuple[str, bytes]:
    """One render through the API, tabled; its CID and bytes."""
    t0 = time.perf_counter()
    r = client.post(f"/campaigns/{CAMPAIGN}/render?format=medium-rectangle", json=variables, headers=auth)
    ms = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"render failed: {r.status_code} {r.text}")
    h = r.headers
    table.add_row(str(variables["weather"]), str(variables["price"]), h["X-Mintloom-CID"][:24] + "…",
                  h["X-Mintloom-Log-Index"], h["X-Mintloom-Cache"], f"{ms:.0f}")  # fmt: skip
    return h["X-Mintloom-CID"], r.content


def _verify(studio: Studio, data: bytes) -> None:
    from mintloom.chain_lookup import verify_context
    from mintloom.verify.verifier import verify_bytes

    report = verify_bytes(data, "served-render.png", verify_context(studio))
    origin = report.origin
    console.print(f"    verify served-render.png: {report.verdict.value} (campaign {origin.get('campaign')}, "
                  f"template {str(origin.get('template_hash'))[:12]}…, receipt leaf "
                  f"{(report.receipt or {}).get('leaf_index')})")  # fmt: skip
