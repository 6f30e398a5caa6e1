"""mintloom: creative infrastructure with provable, licensable, payable assets.

The public API is small::

    from mintloom import Studio, Pipeline, PipelineOptions, verify_context, verify_path

    with Studio.open(password=...) as studio:           # the workspace above the current folder
        Pipeline(studio).run(Path("campaign.yaml"), PipelineOptions(workers=4))  # run, anchor, publish
        report = verify_path(Path("out/..."), verify_context(studio))

Names are imported lazily, so ``import mintloom`` stays cheap (engine worker processes import it).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from mintloom.errors import MintloomError

if TYPE_CHECKING:
    from mintloom.campaign.run import CampaignRunner, RunSummary
    from mintloom.campaign.spec import load_spec
    from mintloom.chain_lookup import verify_context
    from mintloom.pipeline import Pipeline, PipelineOptions
    from mintloom.studio import Studio
    from mintloom.verify.report import Verdict, VerifyReport
    from mintloom.verify.verifier import VerifyContext, verify_path

try:
    __version__ = version("mintloom")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

_LAZY = {
    "Studio": "mintloom.studio",
    "load_spec": "mintloom.campaign.spec",
    "CampaignRunner": "mintloom.campaign.run",
    "RunSummary": "mintloom.campaign.run",
    "Pipeline": "mintloom.pipeline",
    "PipelineOptions": "mintloom.pipeline",
    "VerifyContext": "mintloom.verify.verifier",
    "verify_context": "mintloom.chain_lookup",
    "verify_path": "mintloom.verify.verifier",
    "VerifyReport": "mintloom.verify.report",
    "Verdict": "mintloom.verify.report",
}

__all__ = [
    "CampaignRunner",
    "MintloomError",
    "Pipeline",
    "PipelineOptions",
    "RunSummary",
    "Studio",
    "Verdict",
    "VerifyContext",
    "VerifyReport",
    "__version__",
    "load_spec",
    "verify_context",
    "verify_path",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mintloom' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
