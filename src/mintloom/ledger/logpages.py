"""Event logs read in bounded block ranges, as public JSON-RPC providers demand.

Providers refuse ``eth_getLogs`` over too many blocks or results (Infura and geth: "query
returned more than 10000 results"; Alchemy: "Log response size exceeded … up to a 2K block
range"; QuickNode: "eth_getLogs is limited to a 10,000 range"; others: "block range too large",
"exceed maximum block range", EIP-1474 code -32005 "limit exceeded"). :func:`scan` walks from a
contract's deployment block to the head in pages, halving the page on such a refusal;
:func:`first_code_block` finds the deployment block when nobody recorded it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mintloom.errors import LedgerError, RangeRefusedError

DEFAULT_PAGE_BLOCKS = 10_000

_REFUSALS = (
    "more than 10000 results",
    "query returned more than",
    "block range",
    "range too large",
    "range is too large",
    "too many blocks",
    "limited to a",
    "response size exceeded",
    "exceed maximum",
    "exceeds maximum",
    "limit exceeded",
    "max range",
    "query timeout exceeded",
    "too wide",
)
_LIMIT_EXCEEDED = -32005  # EIP-1474


def is_range_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` is a provider refusing a block range (as opposed to any other failure)."""
    for arg in exc.args:
        if isinstance(arg, dict) and arg.get("code") == _LIMIT_EXCEEDED:
            return True
    response = getattr(exc, "rpc_response", None)
    if isinstance(response, dict):
        error = response.get("error")
        if isinstance(error, dict) and error.get("code") == _LIMIT_EXCEEDED:
            return True
    text = str(exc).lower()
    return any(marker in text for marker in _REFUSALS)


def scan(
    fetch: Callable[[int, int], list[Any]],
    start: int,
    end: int,
    page: int = DEFAULT_PAGE_BLOCKS,
    *,
    stop_at_first: bool = False,
) -> list[Any]:
    """Every entry ``fetch(from_block, to_block)`` returns over ``start``..``end`` (inclusive),
    asked page by page; with ``stop_at_first`` only those of the first page holding any."""
    found: list[Any] = []
    seen: set[tuple[Any, ...]] = set()
    for low, high, entries in _pages(fetch, start, end, page):
        found.extend(e for e in entries if _fresh(e, low, high, seen))
        if found and stop_at_first:
            break
    return found


def _fresh(entry: Any, low: int, high: int, seen: set[tuple[Any, ...]]) -> bool:
    """A log is counted once, from the page that asked for its block: some providers answer a page
    with logs outside it or repeat a log across pages (counting it twice would double a sale)."""
    if not isinstance(entry, Mapping) or "blockNumber" not in entry:
        return True
    block = int(entry["blockNumber"])
    place = (block, entry.get("transactionHash"), entry.get("logIndex"))
    if not low <= block <= high or place in seen:
        return False
    seen.add(place)
    return True


def _pages(
    fetch: Callable[[int, int], list[Any]], start: int, end: int, page: int
) -> Iterator[tuple[int, int, list[Any]]]:
    if page < 1:
        raise LedgerError(f"a log page must span at least 1 block, not {page}")
    low = start
    while low <= end:
        high = min(end, low + page - 1)
        try:
            entries = fetch(low, high)
        except Exception as exc:
            if not is_range_refusal(exc):
                raise
            if high == low:
                raise RangeRefusedError(
                    f"the provider refuses eth_getLogs even over block {low} alone: {exc}",
                    hint="use another RPC endpoint (one that serves event logs)",
                ) from exc
            page = max(1, (high - low + 1) // 2)
            continue
        yield low, high, entries
        low = high + 1


def first_code_block(code_at: Callable[[int], bytes], head: int) -> int:
    """The lowest block at which ``code_at(block)`` is non-empty (a contract's deployment block),
    by binary search; ``head`` must have code. Contracts here never self-destruct, so code,
    once there, stays."""
    low, high = 0, head
    while low < high:
        mid = (low + high) // 2
        if code_at(mid):
            high = mid
        else:
            low = mid + 1
    return low
