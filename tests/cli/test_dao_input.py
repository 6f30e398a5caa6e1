"""Hostile amounts and parents are refused by name before anything is signed or sent."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from mintloom.cli.dao import _wei
from mintloom.errors import DaoError, GovernanceError
from mintloom.governance.remix import image_media_type


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
        image_media_type(out.getvalue(), "parent", GovernanceError)


@pytest.mark.parametrize("hostile", ["/dev/zero", "fifo"])
def test_ugc_register_refuses_a_device_or_fifo_before_opening_the_workspace(
    hostile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unbounded or blocking read never starts: the file must be a regular one."""
    from typer.testing import CliRunner

    from mintloom.cli.main import app as cli

    path = Path(hostile)
    if hostile == "fifo":
        path = tmp_path / "child.png"
        os.mkfifo(path)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(cli, ["ugc", "register", str(path), "--parent", str(path), "--licence", "1"])
    assert isinstance(out.exception, DaoError), out.output  # the entry point maps it to its exit code
    assert "child file" in out.exception.message and "not a regular file" in out.exception.message


@pytest.mark.parametrize("hostile", ["0x12", "not an address", "0x" + "g" * 40, ""])
def test_an_attester_that_is_no_address_is_refused_by_name(hostile: str) -> None:
    from mintloom.governance.dao import attester_action

    with pytest.raises(DaoError, match="not an account address"):
        attester_action(hostile)


def test_naming_the_zero_attester_says_rewards_go_unattested() -> None:
    from mintloom.governance.dao import attester_action

    action = attester_action("0x" + "00" * 20)
    assert (action.fn, action.text) == ("setAttester", "name no UGC attester (rewards unattested)")
    named = attester_action("0x" + "ab" * 20)
    assert named.text == "name 0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB the UGC attester"


def test_ugc_attest_refuses_a_fifo_before_opening_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from mintloom.cli.main import app as cli

    fifo = tmp_path / "child.png"
    os.mkfifo(fifo)
    monkeypatch.chdir(tmp_path)
    args = ["ugc", "attest", str(fifo), "--parent", str(fifo), "--trust", str(fifo)]
    out = CliRunner().invoke(cli, args)
    assert isinstance(out.exception, DaoError), out.output
    assert "child file" in out.exception.message and "not a regular file" in out.exception.message
