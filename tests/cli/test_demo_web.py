"""The demo's last lines: the command serving the studio, its URL, and a working read+review token;
a second run revokes the first token (its secret was printed once, to whoever saw that terminal)."""

from __future__ import annotations

import pytest

from mintloom.cli.console import console
from mintloom.cli.demo_web import studio_step
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from mintloom.workspace import Workspace


def test_the_demo_ends_with_the_studio_command_url_and_a_live_token(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 400)
    with console.capture() as captured:
        first = studio_step(workspace)
    out = captured.get()
    assert f"cd {workspace.root} && mintloom serve" in out and "http://127.0.0.1:8000/studio" in out
    assert out.rstrip().splitlines()[-1] == first and first.startswith("mlt_")
    second = studio_step(workspace)
    with Studio(workspace) as s:
        tokens = TokenStore(s.db)
        assert tokens.authenticate(first) is None  # revoked by the second run
        live = tokens.authenticate(second)
        assert live is not None and live.scopes == {"read", "review"}
