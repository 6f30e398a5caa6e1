"""Where mintloom finds the files it needs but does not generate: compiled contracts, fonts and
the example campaign.

Each is looked up in this order: an environment variable, the source tree when mintloom runs
from a checkout (so edits to ``contracts/`` and the npm fonts are picked up), then the package
data an installed wheel carries in ``mintloom/_data``. This module uses the standard library
only: the wheel's build hook (``hatch_build.py``) reads the same lists to pack the package data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ENV_CONTRACTS = "MINTLOOM_CONTRACTS_OUT"
ENV_FONTS = "MINTLOOM_FONT_DIR"
ENV_EXAMPLES = "MINTLOOM_EXAMPLES_DIR"

# the contracts mintloom deploys; their ABIs decode custom errors by name
CONTRACTS: tuple[str, ...] = (
    "ProvenanceLog",
    "LineageRegistry",
    "CreativeAssets",
    "LicenseTemplates",
    "RoyaltyVault",
    "LicenseMarket",
    "Marketplace",
    "ContributorRoyalties",
    # a campaign family's fractional IP and DAO (ledger/deploy.py, deploy_family)
    "RoyaltyShares",
    "TimelockController",
    "CreativeGovernor",
    "FamilyConfig",
    "UGCRewards",
)
# contracts never deployed, whose creation code is sent in an eth_call (ledger/reader.py's batches)
READ_CONTRACTS: tuple[str, ...] = ("ReadBatch",)

# script -> (npm package under @expo-google-fonts, file stem); weight -> folder and file suffix
FONT_PACKAGES: dict[str, tuple[str, str]] = {
    "latin": ("noto-sans", "NotoSans"),
    "arabic": ("noto-sans-arabic", "NotoSansArabic"),
    "hebrew": ("noto-sans-hebrew", "NotoSansHebrew"),
    "ja": ("noto-sans-jp", "NotoSansJP"),
    "zh": ("noto-sans-sc", "NotoSansSC"),
    "ko": ("noto-sans-kr", "NotoSansKR"),
}
FONT_WEIGHTS: dict[str, str] = {"regular": "400Regular", "bold": "700Bold"}

EXAMPLES: tuple[str, ...] = ("lumen", "lumen-hero")

Origin = Literal["env", "source", "package"]


@dataclass(frozen=True)
class Located:
    """A folder and where it came from (shown by `mintloom doctor`)."""

    path: Path
    origin: Origin


def font_file(script: str, weight: str) -> str:
    """The TTF file name of ``script`` at ``weight`` (``NotoSansJP_700Bold.ttf``)."""
    return f"{FONT_PACKAGES[script][1]}_{FONT_WEIGHTS[weight]}.ttf"


def package_data() -> Path:
    """The package data folder of this installation (present in a built wheel only)."""
    return Path(__file__).resolve().parent / "_data"


def source_tree() -> Path | None:
    """The checkout this package runs from (``<root>/src/mintloom``), or None when installed."""
    root = Path(__file__).resolve().parents[2]
    if (root / "foundry.toml").is_file() and (root / "src" / "mintloom").is_dir():
        return root
    return None


def _env(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def contracts_dir() -> Located:
    """The folder holding the contract artifacts (forge's ``out/`` or the wheel's slim copies)."""
    if (env := _env(ENV_CONTRACTS)) is not None:
        return Located(env, "env")
    root = source_tree()
    if root is not None and (root / "contracts" / "out").is_dir():
        return Located(root / "contracts" / "out", "source")
    return Located(package_data() / "contracts", "package")


def font_dirs() -> list[Located]:
    """The folders searched for a font file, in order."""
    dirs: list[Located] = []
    if (env := _env(ENV_FONTS)) is not None:
        dirs.append(Located(env, "env"))
    root = source_tree()
    if root is not None:
        dirs.append(Located(root / "node_modules" / "@expo-google-fonts", "source"))
    dirs.append(Located(package_data() / "fonts", "package"))
    return dirs


def examples_dir() -> Located:
    """The folder holding the example campaigns, one sub-folder each."""
    if (env := _env(ENV_EXAMPLES)) is not None:
        return Located(env, "env")
    root = source_tree()
    if root is not None and (root / "examples").is_dir():
        return Located(root / "examples", "source")
    return Located(package_data() / "examples", "package")
