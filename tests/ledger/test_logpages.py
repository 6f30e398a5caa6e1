"""The paging arithmetic on its own (the chain tests are in test_rpc_paging.py): every block is
asked exactly once, in order, in spans the provider accepts; other failures are not retried."""

from __future__ import annotations

import pytest
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.datastructures import AttributeDict

from mintloom.errors import LedgerError, RangeRefusedError
from mintloom.ledger.logpages import first_code_block, is_range_refusal, scan


class Provider:
    """Answers a range with its block numbers, refusing spans over ``limit`` like Infura."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.asked: list[tuple[int, int]] = []

    def __call__(self, low: int, high: int) -> list[int]:
        if high - low + 1 > self.limit:
            raise ValueError({"code": -32005, "message": "query returned more than 10000 results"})
        self.asked.append((low, high))
        return list(range(low, high + 1))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 500), st.integers(0, 2000), st.integers(1, 300), st.integers(1, 5000))
def test_every_block_once_in_accepted_spans(start: int, length: int, limit: int, page: int) -> None:
    provider = Provider(limit)
    end = start + length
    assert scan(provider, start, end, page) == list(range(start, end + 1))
    assert all(high - low + 1 <= limit for low, high in provider.asked)
    assert [low for low, _ in provider.asked] == sorted({low for low, _ in provider.asked})


def test_stop_at_first_reads_no_further() -> None:
    def sparse(low: int, high: int) -> list[int]:
        return [b for b in (150, 900) if low <= b <= high]

    assert scan(sparse, 0, 1000, 100, stop_at_first=True) == [150]
    assert scan(sparse, 0, 1000, 100) == [150, 900]


def test_other_failures_are_not_taken_for_a_range_refusal() -> None:
    def down(low: int, high: int) -> list[int]:
        raise ConnectionError("connection refused")

    with pytest.raises(ConnectionError):
        scan(down, 0, 10, 5)
    assert not is_range_refusal(ConnectionError("connection refused"))
    with pytest.raises(RangeRefusedError, match="even over block 0"):
        scan(Provider(0), 0, 10, 5)
    with pytest.raises(LedgerError, match="at least 1 block"):
        scan(Provider(5), 0, 10, 0)


@pytest.mark.parametrize(("deployed", "head"), [(0, 0), (0, 9), (37, 37), (37, 1000), (999, 1000)])
def test_first_code_block_is_the_deployment(deployed: int, head: int) -> None:
    asked: list[int] = []

    def code_at(block: int) -> bytes:
        asked.append(block)
        return b"\x60\x80" if block >= deployed else b""

    assert first_code_block(code_at, head) == deployed
    assert len(asked) <= max(1, head.bit_length() + 1)


def _log(block: int, index: int) -> AttributeDict[str, object]:
    """An event log as web3 returns it."""
    tx = HexBytes(block.to_bytes(16, "big") + index.to_bytes(16, "big"))
    return AttributeDict({"blockNumber": block, "logIndex": index, "transactionHash": tx, "args": {}})


def test_logs_outside_the_page_or_repeated_are_counted_once() -> None:
    """A provider that answers every page with logs around it (a sloppy range filter) or repeats
    a log on the next page: each log is counted once, from the page that asked for its block."""
    logs = [_log(b, i) for b in (3, 10, 11, 25) for i in range(2)]

    def sloppy(low: int, high: int) -> list[AttributeDict[str, object]]:
        return [e for e in logs if low - 5 <= int(e["blockNumber"]) <= high + 5]  # type: ignore[call-overload]

    assert scan(sloppy, 0, 30, 10) == logs
    assert scan(sloppy, 5, 30, 10) == logs[2:]  # nothing from before the deployment block

    def repeats(low: int, high: int) -> list[AttributeDict[str, object]]:
        page = [e for e in logs if low <= int(e["blockNumber"]) <= high]  # type: ignore[call-overload]
        return page + page  # every log of the page twice

    assert scan(repeats, 0, 30, 10) == logs
