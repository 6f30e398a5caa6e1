"""Hostile arguments to `mintloom market|dao|ugc|model train`: NaN and infinite amounts, numbers
past what a contract holds, Unicode digits, /dev/zero and FIFOs as files, names with separators
or NUL. Each is refused by name (or by click with exit 2) before anything is signed, sent or
written; none reaches a traceback."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mintloom.cli.console import close_studios
from mintloom.cli.dao import _wei
from mintloom.cli.main import app
from mintloom.cli.market import share_units, wei
from mintloom.errors import DaoError, GovernanceError, MarketError, MintloomError, SpecInputError
from mintloom.governance.licenses import resolve_terms
from mintloom.workspace import Workspace

HUGE = str(2**256)


def mintloom(*args: str) -> Result:
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        close_studios()


def _refused(result: Result, error: type[MintloomError], words: str) -> None:
    assert isinstance(result.exception, error), (result.exception, result.output)
    assert words in result.exception.message, result.exception.message


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "NaN", "Infinity", "1e100", HUGE, "-1", "0", "1e-19"])
def test_a_market_price_that_is_no_finite_positive_wei_amount_is_refused(text: str) -> None:
    with pytest.raises(
        MarketError, match="not a"
    ):  # inf/nan used to escape as OverflowError/InvalidOperation
        wei(text)


@pytest.mark.parametrize("text", ["1" + "0" * 100, HUGE])
def test_a_dao_amount_past_uint256_is_refused(text: str) -> None:
    with pytest.raises(DaoError, match="whole number of wei"):
        _wei(text)


@pytest.mark.parametrize("shares", ["1" + "0" * 60, "2" + "0" * 59, HUGE])
def test_a_number_of_shares_past_uint256_units_is_refused(workspace: Workspace, shares: str) -> None:
    """`offer-shares 1e60` (10**78 units) used to end in a Web3ValidationError traceback (written
    out: the exponent form is no amount any more)."""
    args = ("market", "offer-shares", shares, "--price", "1", "--currency", "0x" + "1" * 40)
    _refused(mintloom(*args), MarketError, "past 2**256-1 share units")
    with pytest.raises(MarketError, match="past 2"):
        share_units(shares)


@pytest.mark.parametrize("ref", ["²", "١٢", "9" * 100, "-1", "../../etc/passwd", "1\x00"])
def test_licence_terms_that_are_no_plain_id_are_refused(ref: str) -> None:
    with pytest.raises(GovernanceError, match="unknown licence terms"):  # "²" was int()'s ValueError
        resolve_terms(ref)


def test_an_order_file_that_is_a_device_or_a_fifo_is_refused_quickly(
    workspace: Workspace, tmp_path: Path
) -> None:
    fifo = tmp_path / "order.json"
    os.mkfifo(fifo)  # no writer: reading it used to block forever
    for path in ("/dev/zero", str(fifo)):
        start = time.perf_counter()
        _refused(mintloom("market", "import", path), MarketError, "is not a regular file")
        assert time.perf_counter() - start < 20  # /dev/zero was read until memory ran out
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (2 << 20))
    _refused(mintloom("market", "import", str(big)), MarketError, "over the limit")


@pytest.mark.parametrize(
    "args",
    [
        ("market", "list", "bafkreiaaaa", "--price", "1", "--days", "1e300"),
        ("market", "list", "bafkreiaaaa", "--price", "1", "--days", "nan"),  # int(nan) was a ValueError
        ("market", "offer", "--price", "1", "--currency", "0x" + "1" * 40, "--days", "nan"),
        ("market", "list-licences", "bafkreiaaaa", "--terms", "1", "--quantity", HUGE, "--price", "1"),
        ("market", "buy", "0xab", "--quantity", HUGE),
        ("dao", "propose", "--cap", HUGE),
        ("dao", "create", "Spring", "--campaign", "c1", "--supply", str(10**60)),
        ("model", "train", "m", "--base", ".", "--dataset", "d", "--data", ".", "--out", "o", "--seed", "-1"),
        (
            "model",
            "train",
            "m",
            "--base",
            ".",
            "--dataset",
            "d",
            "--data",
            ".",
            "--out",
            "o",
            "--learning-rate",
            "nan",
        ),
        ("model", "train", "m", "--base", ".", "--dataset", "d", "--data", ".", "--out", "o", "--seed", HUGE),
    ],
)
def test_numbers_out_of_a_contracts_range_are_usage_errors(
    workspace: Workspace, args: tuple[str, ...]
) -> None:
    r = mintloom(*args)
    assert r.exit_code == 2 and "Invalid value" in r.output, (r.exit_code, r.output, r.exception)


def test_model_train_refuses_a_zero_learning_rate(workspace: Workspace, tmp_path: Path) -> None:
    """It would train nothing, then sign and register the base weights as a trained model."""
    out = tmp_path / "out"
    args = ("model", "train", "m", "--base", str(tmp_path), "--dataset", "d", "--data", str(tmp_path),
            "--out", str(out), "--learning-rate", "0")  # fmt: skip
    _refused(mintloom(*args), SpecInputError, "is not a positive number")
    assert not out.exists()


@pytest.mark.parametrize("name", ["../escape", "a/b", "a\x00b", ".hidden", "x" * 200, ""])
def test_model_train_refuses_a_name_that_is_no_plain_name(
    workspace: Workspace, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    args = ("model", "train", name, "--base", str(tmp_path), "--dataset", "d", "--data", str(tmp_path),
            "--out", str(out))  # fmt: skip
    _refused(mintloom(*args), SpecInputError, "is not a plain name")
    assert not out.exists() and not (tmp_path.parent / "escape").exists()


def test_ugc_register_refuses_unicode_digit_terms(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    args = ("ugc", "register", str(tmp_path / "c.png"), "--parent", str(tmp_path / "c.png"), "--licence", "²")
    _refused(mintloom(*args), GovernanceError, "unknown licence terms")


def test_a_symlink_out_of_the_workspace_is_not_followed_as_a_parent(
    workspace: Workspace, tmp_path: Path
) -> None:
    """`ugc register` and `remix` read a file named by the user; a link to a device is refused."""
    link = tmp_path / "parent.png"
    link.symlink_to("/dev/zero")
    r = mintloom("remix", str(link), "--template", "frame", "--out", str(tmp_path / "o.png"))
    _refused(r, DaoError, "is not a regular file")
    assert not (tmp_path / "o.png").exists()
