"""RPC URLs often carry an API key (path, query or user info): messages never show it."""

from __future__ import annotations

import pytest

from mintloom.errors import LedgerError
from mintloom.ledger.reader import ChainReader
from mintloom.logs import public_url, scrub_url

KEY = "cnry0rpc0key0Vb62x"
URLS = (
    f"http://127.0.0.1:9/v3/{KEY}",
    f"http://user:{KEY}@127.0.0.1:9/",
    f"http://127.0.0.1:9/rpc?apikey={KEY}",
)


@pytest.mark.parametrize("url", URLS)
def test_an_unreachable_chain_is_named_without_its_key(url: str) -> None:
    with pytest.raises(LedgerError) as info:
        ChainReader(url, timeout=2)
    message = str(info.value)
    assert "cannot reach the chain at http://127.0.0.1:9/…" in message
    assert KEY not in message


def test_public_url_keeps_what_locates_the_node() -> None:
    assert public_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert public_url(f"https://mainnet.example.io/v3/{KEY}") == "https://mainnet.example.io/…"
    assert scrub_url(f"GET /v3/{KEY} failed", f"https://h/v3/{KEY}") == "GET /… failed"
