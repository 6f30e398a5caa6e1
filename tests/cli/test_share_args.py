"""Whole shares as share units, one reading for `mintloom market` share lots and `mintloom dao
shares transfer`: a fraction down to one unit is taken; zero, negative, non-finite, sub-unit and
past-uint256 amounts are refused by name as the calling subsystem's error."""

from __future__ import annotations

import pytest

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
