"""API tokens: hostile names and duplicates are refused by name, secrets only authenticate while live."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.errors import TokenError
from mintloom.schema import open_workspace_database
from mintloom.store.tokens import TokenStore


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(open_workspace_database(f"sqlite:///{tmp_path / 'catalog.db'}"))


@pytest.mark.parametrize("name", ["", "../x", "a/b", "nul\0name", "esc\x1b", " lead", "x" * 65])
def test_hostile_token_names_are_refused(store: TokenStore, name: str) -> None:
    with pytest.raises(TokenError, match="invalid token name"):
        store.create(name, ["read"])
    assert store.list() == []


def test_a_taken_name_is_refused_even_once_revoked(store: TokenStore) -> None:
    _, secret = store.create("ci", ["publish"])
    with pytest.raises(TokenError, match="a token named 'ci' exists"):
        store.create("ci", ["read"])
    live = store.authenticate(secret)
    assert live is not None and (live.name, live.scopes, live.revoked) == ("ci", {"publish"}, False)
    store.revoke("ci")
    with pytest.raises(TokenError, match="a token named 'ci' exists"):
        store.create("ci", ["read"])
    assert store.authenticate(secret) is None
    assert [t.name for t in store.list()] == ["ci"]


def test_only_the_exact_secret_authenticates(store: TokenStore) -> None:
    _, secret = store.create("ci", ["read"])
    for forged in (
        secret[:-1],
        secret + "A",
        secret.upper(),
        secret.removeprefix("mlt_"),
        "mlt_" + "A" * 200,
    ):
        assert store.authenticate(forged) is None, forged
