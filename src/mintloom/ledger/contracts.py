"""Compiled contract artifacts and custom-error decoding.

An artifact is forge's output (``<Name>.sol/<Name>.json`` in ``contracts/out``) or the slim copy an
installed wheel ships (``<Name>.json``: abi, bytecode and deployedBytecode only); see
:mod:`mintloom.resources` for where they are looked up.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak

from mintloom.errors import LedgerError
from mintloom.resources import CONTRACTS, ENV_CONTRACTS, contracts_dir

KNOWN_CONTRACTS: tuple[str, ...] = CONTRACTS
_HEX = re.compile(r"(0x)?[0-9a-fA-F]+")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def artifacts_dir() -> Path:
    """``$MINTLOOM_CONTRACTS_OUT``, else the checkout's ``contracts/out``, else the package data."""
    return contracts_dir().path


def _artifact_file(name: str, directory: Path) -> Path:
    forge = directory / f"{name}.sol" / f"{name}.json"
    return forge if forge.is_file() else directory / f"{name}.json"


def _hint() -> str:
    where = contracts_dir()
    if where.origin == "source":
        return "run `make contracts` in the mintloom checkout"
    if where.origin == "env":
        return f"{ENV_CONTRACTS} must name a folder of forge artifacts (forge build's out/)"
    return f"reinstall mintloom (the wheel ships its contracts) or set {ENV_CONTRACTS}"


def _bytecode(data: dict[str, Any], path: Path) -> str:
    code = data.get("bytecode")
    if isinstance(code, dict):  # forge: {"object": "0x...", "sourceMap": ...}
        code = code.get("object")
    if not isinstance(code, str) or not _HEX.fullmatch(code):
        raise LedgerError(f"contract artifact {path} has no valid bytecode", hint=_hint())
    return code if code.startswith("0x") else "0x" + code


@cache
def load_artifact(name: str, directory: Path | None = None) -> Artifact:
    path = _artifact_file(name, directory or artifacts_dir())
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise LedgerError(f"contract artifact {name} not found at {path}", hint=_hint()) from exc
    except (OSError, ValueError) as exc:
        raise LedgerError(f"cannot read contract artifact {path}: {exc}", hint=_hint()) from exc
    abi = data.get("abi") if isinstance(data, dict) else None
    if not isinstance(abi, list) or not all(isinstance(e, dict) for e in abi):
        raise LedgerError(f"contract artifact {path} has no valid abi", hint=_hint())
    return Artifact(name=name, abi=abi, bytecode=_bytecode(data, path))


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
