"""Wheel build hook: packs into ``mintloom/_data`` what an installed mintloom cannot take from a checkout.

- ``contracts/<Name>.json``: abi, bytecode and deployedBytecode of each contract mintloom deploys,
  slimmed from forge's output (``forge build`` must have run: ``make wheel`` does), and ``NOTICE``;
- ``fonts/<Family>_<weight>.ttf`` with ``fonts/OFL-<Family>.txt``: the Noto fonts of ``node_modules``;
- ``examples/<name>/``: the example campaigns.

The lists come from ``src/mintloom/resources.py`` (standard library only), the module the runtime
lookups use, so the two cannot drift. Editable installs skip the hook: they run from the checkout.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

DATA = "mintloom/_data"


def _resources(root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("_mintloom_resources", root / "src/mintloom/resources.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _need(path: Path, how: str) -> Path:
    if not path.is_file():
        raise RuntimeError(f"mintloom wheel: {path} is missing ({how}); build the wheel with `make wheel`")
    return path


def _slim_contracts(root: Path, names: tuple[str, ...], staging: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for name in names:
        forge = json.loads(_need(root / f"contracts/out/{name}.sol/{name}.json", "run forge build").read_text())
        slim = {
            "contractName": name,
            "abi": forge["abi"],
            "bytecode": forge["bytecode"]["object"],
            "deployedBytecode": forge["deployedBytecode"]["object"],
        }
        out = staging / f"{name}.json"
        out.write_text(json.dumps(slim, separators=(",", ":")) + "\n")
        files[str(out)] = f"{DATA}/contracts/{name}.json"
    files[str(_need(root / "contracts/NOTICE", "tracked in git"))] = f"{DATA}/contracts/NOTICE"
    return files


def _fonts(root: Path, res: ModuleType) -> dict[str, str]:
    files: dict[str, str] = {}
    for script, (package, stem) in res.FONT_PACKAGES.items():
        pkg = root / "node_modules/@expo-google-fonts" / package
        for weight, folder in res.FONT_WEIGHTS.items():
            name = res.font_file(script, weight)
            files[str(_need(pkg / folder / name, "run npm ci"))] = f"{DATA}/fonts/{name}"
        files[str(_need(pkg / "LICENSE_FONT", "run npm ci"))] = f"{DATA}/fonts/OFL-{stem}.txt"
    return files


def _examples(root: Path, names: tuple[str, ...]) -> dict[str, str]:
    files: dict[str, str] = {}
    for name in names:
        folder = root / "examples" / name
        _need(folder / "campaign.yaml", "tracked in git")
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(root / "examples")
            if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                files[str(path)] = f"{DATA}/examples/{rel.as_posix()}"
    return files


def package_data(root: Path, staging: Path) -> dict[str, str]:
    """Source file -> path inside the wheel, for every package-data file."""
    res = _resources(root)
    return {
        **_slim_contracts(root, res.CONTRACTS + res.READ_CONTRACTS, staging),
        **_fonts(root, res),
        **_examples(root, res.EXAMPLES),
    }


class PackageDataHook(BuildHookInterface):
    PLUGIN_NAME = "mintloom-package-data"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        self._staging = Path(tempfile.mkdtemp(prefix="mintloom-wheel-"))
        build_data["force_include"].update(package_data(Path(self.root), self._staging))

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        staging = getattr(self, "_staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
