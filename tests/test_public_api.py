"""The small public API: lazily imported names, one root exception."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mintloom


def test_public_names_resolve() -> None:
    """Each lazy name is the very object its defining module exports, and ``__all__`` is exactly
    the documented API (a name dropped from the lazy table, or pointed at the wrong module, fails)."""
    from mintloom.campaign.run import CampaignRunner, RunSummary
    from mintloom.campaign.spec import load_spec
    from mintloom.chain_lookup import verify_context
    from mintloom.errors import MintloomError
    from mintloom.pipeline import Pipeline, PipelineOptions
    from mintloom.studio import Studio
    from mintloom.verify.report import Verdict, VerifyReport
    from mintloom.verify.verifier import VerifyContext, verify_path

    expected = {
        "CampaignRunner": CampaignRunner,
        "MintloomError": MintloomError,
        "Pipeline": Pipeline,
        "PipelineOptions": PipelineOptions,
        "RunSummary": RunSummary,
        "Studio": Studio,
        "Verdict": Verdict,
        "VerifyContext": VerifyContext,
        "VerifyReport": VerifyReport,
        "load_spec": load_spec,
        "verify_context": verify_context,
        "verify_path": verify_path,
    }
    for name, obj in expected.items():
        assert getattr(mintloom, name) is obj, name
    assert sorted(mintloom.__all__) == sorted([*expected, "__version__"])
    assert isinstance(mintloom.__version__, str) and mintloom.__version__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = mintloom.nope  # type: ignore[attr-defined]


def test_import_is_cheap() -> None:
    code = (
        "import mintloom, sys; print(sorted(m for m in ('web3', 'c2pa', 'torch', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
