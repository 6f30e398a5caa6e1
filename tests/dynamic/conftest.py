"""A workspace serving the sample dynamic campaign ``live`` (``[dynamic.campaigns]`` in its
mintloom.toml) and the API over it, with the key password in the environment."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mintloom.api.app import create_app
from mintloom.api.runs import PASSWORD_ENV
from mintloom.campaign.sample import dynamic_sample_spec, write_sample_campaign
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from tests.conftest import PASSWORD


def serve_dynamic(studio: Studio, settings: str = "", spec: str | None = None) -> Studio:
    """Write the campaign and its ``[dynamic]`` table (plus ``settings`` lines); a new studio
    that reads them."""
    ws = studio.workspace
    write_sample_campaign(ws.root / "campaign", spec or dynamic_sample_spec())
    with ws.config_file.open("a", encoding="utf-8") as f:
        f.write(f'\n[dynamic]\n{settings}\n[dynamic.campaigns]\nlive = "campaign/campaign.yaml"\n')
    return Studio(ws, password=PASSWORD)


def render_token(studio: Studio, *scopes: str, name: str = "adserver") -> dict[str, str]:
    secret = TokenStore(studio.db).create(name, scopes or ("render",))[1]
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class Live:
    studio: Studio
    client: TestClient
    auth: dict[str, str]

    def render(self, variables: dict[str, object], fmt: str = "medium-rectangle") -> object:
        return self.client.post(f"/campaigns/live/render?format={fmt}", json=variables, headers=self.auth)

    def log_size(self) -> int:
        log = self.studio.log
        log.refresh()
        return log.size


@pytest.fixture
def live_settings() -> str:
    return "anchorer = false\n"


@pytest.fixture
def live_spec() -> str | None:
    """The campaign's spec text (None: the sample); the server reads it when it starts."""
    return None


@pytest.fixture
def live(
    studio: Studio, monkeypatch: pytest.MonkeyPatch, live_settings: str, live_spec: str | None
) -> Iterator[Live]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    served = serve_dynamic(studio, live_settings, live_spec)
    try:
        with TestClient(create_app(served, offline=True)) as c:
            yield Live(served, c, render_token(served))
    finally:
        served.close()


__all__ = ["Live", "Path", "render_token", "serve_dynamic"]
