"""Arguments naming a family's shares, one definition for `mintloom market` (share lots) and
`mintloom dao shares`: the share token option and whole shares read as share units."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from mintloom.errors import MarketError, MintloomError

MAX_UINT256 = 2**256 - 1
"""The largest amount a contract holds: more is refused here, not by the ABI encoder's traceback."""
SHARE_UNITS = 10**18
"""Share units in one whole share (the share token's 18 decimals)."""

ShareToken = Annotated[
    str | None, typer.Option(help="The family's share token (default: this workspace's family).")
]


def share_units(shares: str, error: type[MintloomError] = MarketError) -> int:
    """``12.5`` (whole shares) → share units (10**18 a share); refuses, as ``error``, what is not
    a positive whole number of units at most 2**256-1."""
    try:
        units = Decimal(shares) * SHARE_UNITS
    except InvalidOperation as exc:
        raise error(f"not a number of shares: {shares!r}", hint="e.g. 300 or 12.5") from exc
    if not units.is_finite() or units <= 0 or units != units.to_integral_value():
        raise error(f"not a positive number of share units: {shares!r}")
    if units > MAX_UINT256:
        raise error(f"{shares!r} shares are past 2**256-1 share units", hint="fewer shares")
    return int(units)
