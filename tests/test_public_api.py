"""The small public API: lazily imported names, one root exception."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mintloom


def test_public_names_resolve() -> None:
    from mintloom import CampaignRunner, Studio, Verdict, VerifyContext, load_spec, verify_path

    assert {Studio.__name__, CampaignRunner.__name__, VerifyContext.__name__} == {
        "Studio", "CampaignRunner", "VerifyContext"}  # fmt: skip
    assert callable(load_spec) and callable(verify_path) and Verdict.VERIFIED.exit_code == 0
    assert set(mintloom.__all__) >= {"Studio", "MintloomError", "load_spec", "verify_path"}
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = mintloom.nope  # type: ignore[attr-defined]


def test_import_is_cheap() -> None:
    code = (
        "import mintloom, sys; print(sorted(m for m in ('web3', 'c2pa', 'torch', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
