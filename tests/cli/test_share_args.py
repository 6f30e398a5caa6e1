"""Whole shares as share units, one reading for `mintloom market` share lots and `mintloom dao
shares transfer`: a fraction down to one unit is taken; zero, negative, non-finite, sub-unit and
past-uint256 amounts are refused by name as the calling subsystem's error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.cli.dao import _wei
from mintloom.cli.market import wei
from mintloom.cli.share_args import share_units
from mintloom.errors import DaoError, MarketError, MintloomError


def test_whole_and_fractional_shares_become_units() -> None:
    assert share_units("300") == 300 * 10**18
    assert share_units("12.5") == 12 * 10**18 + 5 * 10**17
    assert share_units("0.000000000000000001") == 1


@pytest.mark.parametrize("error", [MarketError, DaoError])
@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "abc", "", "1e-19", str(2**256)])
def test_an_amount_that_is_no_positive_whole_number_of_units_is_refused_as_the_callers_error(
    text: str, error: type[MintloomError]
) -> None:
    with pytest.raises(error):
        share_units(text, error)


def _as_whole(units: int) -> str:
    """``units`` base units written as whole amounts with up to 18 decimal places."""
    whole, frac = divmod(units, 10**18)
    return f"{whole}.{frac:018d}".rstrip("0").rstrip(".") if frac else str(whole)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(1, 2**256 - 1), st.integers(10**27, 10**60)))
def test_any_whole_number_of_units_reads_back_exactly_in_every_amount_parser(units: int) -> None:
    """Decimal's 28-digit context used to round `1000000000000.000000000000000001` to 10**30."""
    text = _as_whole(units)
    assert share_units(text) == units
    assert wei(text) == units
    assert _wei(text) == units


@pytest.mark.parametrize("parse", [share_units, wei, _wei])
def test_a_fraction_finer_than_one_unit_is_refused_by_name(parse: Callable[[str], object]) -> None:
    with pytest.raises(MintloomError, match="finer than one"):
        parse("1000000000000.0000000000000000015")
    with pytest.raises(MintloomError, match="finer than one"):
        parse("0.0000000000000000001")


def test_zero_is_a_dao_amount_but_no_price_or_share_count() -> None:
    assert _wei("0") == 0
    with pytest.raises(MarketError, match="> 0"):
        wei("0")


@pytest.mark.parametrize("parse", [share_units, wei, _wei])
@pytest.mark.parametrize("text", ["1e3", "1E3", "1_000", "+5", "١٢", "１２", "0x10", "1,5", "1.2.3", "5 6"])
def test_an_amount_written_other_than_as_digits_and_one_point_is_refused(
    parse: Callable[[str], object], text: str
) -> None:
    """Decimal reads ``1e3`` as 1000, ``1_000`` as 1000 and Arabic-Indic or full-width digits as
    numbers: each was taken as an amount nobody typed on purpose."""
    with pytest.raises(MintloomError, match="not an amount"):
        parse(text)


def test_surrounding_spaces_and_a_bare_point_read_as_before() -> None:
    assert share_units(" 2 ") == 2 * 10**18
    assert share_units(".5") == 5 * 10**17
    assert share_units("3.") == 3 * 10**18
