"""Compiled contract artifacts (forge output in ``contracts/out``) and custom-error decoding."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak

from mintloom.errors import LedgerError

ENV_ARTIFACTS = "MINTLOOM_CONTRACTS_OUT"

# the contracts mintloom deploys; their ABIs decode custom errors by name
KNOWN_CONTRACTS: tuple[str, ...] = (
    "ProvenanceLog",
    "LineageRegistry",
    "CreativeAssets",
    "LicenseTemplates",
    "RoyaltyVault",
    "LicenseMarket",
)


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def artifacts_dir() -> Path:
    """``$MINTLOOM_CONTRACTS_OUT`` or ``contracts/out`` of the source tree this package runs from."""
    if env := os.environ.get(ENV_ARTIFACTS):
        return Path(env)
    here = Path(__file__).resolve()
    for d in here.parents:
        if (d / "foundry.toml").is_file():
            return d / "contracts" / "out"
    return Path.cwd() / "contracts" / "out"


@cache
def load_artifact(name: str, directory: Path | None = None) -> Artifact:
    path = (directory or artifacts_dir()) / f"{name}.sol" / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise LedgerError(
            f"contract artifact {name} not found at {path}", hint="run `make contracts`"
        ) from exc
    except (OSError, ValueError) as exc:
        raise LedgerError(f"cannot read contract artifact {path}: {exc}") from exc
    code = data.get("bytecode", {}).get("object", "")
    return Artifact(name=name, abi=data["abi"], bytecode=code if code.startswith("0x") else "0x" + code)


def _signature(entry: dict[str, Any]) -> str:
    def typ(inp: dict[str, Any]) -> str:
        t = str(inp["type"])
        if t.startswith("tuple"):
            return "(" + ",".join(typ(c) for c in inp["components"]) + ")" + t[5:]
        return t

    return f"{entry['name']}({','.join(typ(i) for i in entry.get('inputs', []))})"


class ErrorDecoder:
    """Maps 4-byte selectors of every custom error in the given ABIs to names and argument types."""

    _BUILTIN: ClassVar[dict[str, tuple[str, list[str]]]] = {
        "08c379a0": ("Error", ["string"]),
        "4e487b71": ("Panic", ["uint256"]),
    }

    def __init__(self, abis: list[list[dict[str, Any]]]) -> None:
        self._errors: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        for abi in abis:
            for entry in abi:
                if entry.get("type") == "error":
                    sel = keccak(text=_signature(entry))[:4].hex()
                    self._errors[sel] = (str(entry["name"]), list(entry.get("inputs", [])))

    def decode(self, data: str | bytes | None) -> tuple[str, tuple[Any, ...]] | None:
        if data is None:
            return None
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        if len(raw) < 4:
            return None
        sel, body = raw[:4].hex(), raw[4:]
        if sel in self._BUILTIN:
            name, types = self._BUILTIN[sel]
            try:
                return name, tuple(abi_decode(types, body))
            except Exception:
                return name, ()
        if sel not in self._errors:
            return None
        name, inputs = self._errors[sel]
        try:
            return name, tuple(abi_decode([i["type"] for i in inputs], body))
        except Exception:  # malformed revert data: the name is still right
            return name, ()
