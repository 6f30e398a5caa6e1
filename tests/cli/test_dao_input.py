"""Hostile amounts and parents are refused by name before anything is signed or sent."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mintloom.cli.dao import _wei
from mintloom.errors import DaoError, GovernanceError
from mintloom.governance.remix import _media_type


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "NaN", "snan", "abc", "-1", "1e-19", ""])
def test_an_amount_that_is_not_whole_wei_is_refused_by_name(text: str) -> None:
    with pytest.raises(DaoError):
        _wei(text)


def test_amounts_in_eth_become_wei() -> None:
    assert _wei("0.02") == 2 * 10**16 and _wei("1") == 10**18 and _wei(None) is None


def test_a_pixel_bomb_parent_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.BytesIO()
    Image.new("L", (4000, 4000)).save(out, "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)  # 16 Mpx is then a bomb (> 2x)
    with pytest.raises(GovernanceError, match="not an image mintloom can read"):
        _media_type(out.getvalue())
