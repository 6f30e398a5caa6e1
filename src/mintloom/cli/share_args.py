"""Arguments naming a family's shares, one definition for `mintloom market` (share lots) and
`mintloom dao shares`: the share token option and whole shares read as share units; and the one
exact reading of an 18-decimal amount (ETH as wei, shares as share units) every command uses."""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MIN_EMIN, Decimal, DecimalException, Inexact, Rounded, localcontext
from typing import Annotated

import typer

from mintloom.errors import MarketError, MintloomError

MAX_UINT256 = 2**256 - 1
"""The largest amount a contract holds: more is refused here, not by the ABI encoder's traceback."""
SHARE_UNITS = 10**18
"""Share units in one whole share (the share token's 18 decimals)."""
MAX_AMOUNT_CHARS = 200
"""The longest amount text read: 2**256-1 base units take 96 characters as a decimal with 18 places."""
AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
"""An amount as a person writes one: ASCII digits, at most one decimal point. Decimal would also
take ``1e3``, ``1_000``, a sign and other scripts' digits (``١٢``): a typo there is a different
amount, not a refusal."""

ShareToken = Annotated[
    str | None, typer.Option(help="The family's share token (default: this workspace's family).")
]


def base_units(
    text: str, *, whole: str, unit: str, hint: str, error: type[MintloomError], allow_zero: bool = False
) -> int:
    """``12.5`` whole ``whole``s (ETH, shares; 18 decimals) → base ``unit``s (wei, share units),
    exactly: no precision rounds it (the scaling traps Inexact). Refuses, as ``error``, text that
    is no number, non-finite, negative, zero (unless ``allow_zero``), finer than one base unit, or
    past 2**256-1 base units."""
    if len(text) > MAX_AMOUNT_CHARS:
        raise error(f"not an amount of {whole}: {text[:40]!r}… is {len(text)} characters", hint=hint)
    if not AMOUNT.fullmatch(text.strip()):
        raise error(
            f"not an amount of {whole}: {text!r}",
            hint=f"digits with at most one decimal point, e.g. 12.5; {hint}",
        )
    try:
        with localcontext() as ctx:
            ctx.prec, ctx.Emax, ctx.Emin = 2 * MAX_AMOUNT_CHARS, MAX_EMAX, MIN_EMIN
            ctx.traps[Inexact] = ctx.traps[Rounded] = True
            units = Decimal(text).scaleb(18)  # exact: only the exponent moves, or it traps
    except DecimalException as exc:  # InvalidOperation for "abc", Inexact/Rounded never expected
        raise error(f"not an amount of {whole}: {text!r}", hint=hint) from exc
    at_least = "≥ 0" if allow_zero else "> 0"
    if not units.is_finite() or units < 0 or (units == 0 and not allow_zero):
        raise error(f"not a whole number of {unit} {at_least}: {text!r}", hint=hint)
    if units > MAX_UINT256:
        raise error(f"not a whole number of {unit}: {text!r} is past 2**256-1 {unit}", hint=hint)
    if units != units.to_integral_value():
        raise error(
            f"not a whole number of {unit}: {text!r} has a fraction finer than one of the {unit}",
            hint=f"at most 18 decimal places; {hint}",
        )
    return int(units)


def share_units(shares: str, error: type[MintloomError] = MarketError) -> int:
    """``12.5`` (whole shares) → share units (10**18 a share); refuses, as ``error``, what is not
    a positive whole number of units at most 2**256-1."""
    return base_units(shares, whole="shares", unit="share units", hint="e.g. 300 or 12.5", error=error)
