"""`mintloom doctor`: which components are available, with versions."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import typer
from rich.table import Table

from mintloom.cli.console import console
from mintloom.errors import MintloomError, WorkspaceError
from mintloom.ledger.node import ANVIL_INSTALL_HINT, ENV_ANVIL, find_foundry_tool, tool_version
from mintloom.resources import Located, contracts_dir, examples_dir
from mintloom.workspace import Workspace


@dataclass
class Check:
    component: str
    ok: bool
    detail: str
    required: bool = True


def _pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return ""


_ORIGINS = {"env": "from the environment", "source": "source tree", "package": "package data"}


def _where(found: Located) -> str:
    return f"{_ORIGINS[found.origin]}: {found.path}"


def _foundry(tool: str, env: str | None, missing: str, required: bool = True) -> Check:
    path = find_foundry_tool(tool, env)
    if path is None:
        return Check(tool, False, f"not found; {missing}", required)
    try:
        return Check(tool, True, f"{tool_version(path)}  ({path})", required)
    except MintloomError as exc:
        return Check(tool, False, str(exc), required)


def _contracts() -> Check:
    """Every artifact mintloom deploys loads (abi and bytecode), and from where."""
    from mintloom.ledger.contracts import KNOWN_CONTRACTS, load_artifact

    where = contracts_dir()
    try:
        for name in KNOWN_CONTRACTS:
            load_artifact(name)
    except MintloomError as exc:
        return Check("contracts", False, f"{exc.message} ({_where(where)})")
    return Check("contracts", True, f"{len(KNOWN_CONTRACTS)} artifacts ({_where(where)})")


def _examples() -> Check:
    where = examples_dir()
    ok = (where.path / "lumen" / "campaign.yaml").is_file()
    return Check("examples", ok, f"lumen ({_where(where)})" if ok else f"missing in {where.path}", False)


def _solc() -> Check:
    shim = next(
        (
            d / "tools" / "solc-shim.js"
            for d in (Path(__file__).resolve(), *Path(__file__).resolve().parents)
            if (d / "tools" / "solc-shim.js").is_file()
        ),
        None,
    )
    node = shutil.which("node")
    if shim is None or node is None:
        return Check("solc-js", False, "solc shim or node not found", required=False)
    try:
        out = subprocess.run(
            [node, str(shim), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("solc-js", False, str(exc), required=False)
    line = out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else out.stderr
    return Check("solc-js", out.returncode == 0, line.replace("Version: ", ""), required=False)


def _c2pa() -> Check:
    try:
        import c2pa

        return Check("c2pa", True, f"c2pa-python {_pkg('c2pa-python')}, c2pa-rs {c2pa.sdk_version()}")
    except Exception as exc:  # native library failed to load
        return Check("c2pa", False, f"cannot load c2pa-python: {exc}")


def _database() -> Check:
    try:
        ws = Workspace.find()
    except WorkspaceError:
        return Check("database", True, f"SQLite {sqlite3.sqlite_version} (no workspace here yet)")
    from sqlalchemy import text

    from mintloom.store.db import engine_url_safe, open_database

    url = ws.database_url()
    try:
        db = open_database(url, schema=None)
        with db.session() as s:
            s.execute(text("select 1"))
        name = db.engine.dialect.name
        ver = ".".join(str(p) for p in (db.engine.dialect.server_version_info or ()))
        db.dispose()
    except MintloomError as exc:
        return Check("database", False, f"{engine_url_safe(url)}: {exc}")
    return Check("database", True, f"{name} {ver}  ({engine_url_safe(url)})")


def _fonts() -> Check:
    from mintloom.engines.fonts import font_path, has_raqm

    found, missing = [], []
    for script in ("latin", "arabic", "hebrew", "ja", "zh", "ko"):
        try:
            font_path(script)
            found.append(script)
        except MintloomError:
            missing.append(script)
    shaping = "raqm shaping" if has_raqm() else "NO raqm: right-to-left text cannot be shaped"
    detail = f"Noto for {', '.join(found)}; {shaping}"
    if found:
        detail += f" ({font_path(found[0]).parent})"
    if missing:
        detail += f"; missing {', '.join(missing)}"
    return Check("fonts", not missing and has_raqm(), detail)


def collect() -> list[Check]:
    return [
        Check("mintloom", True, _pkg("mintloom") or "source tree"),
        _foundry("anvil", ENV_ANVIL, ANVIL_INSTALL_HINT),
        _contracts(),
        _foundry("forge", None, "needed only to build the contracts from source (`make setup`)", False),
        _solc(),
        _c2pa(),
        Check("web3", bool(_pkg("web3")), f"web3.py {_pkg('web3')}"),
        _database(),
        _fonts(),
        _examples(),
    ]


def doctor() -> None:
    """Report which components are available (anvil, contracts, forge, solc, c2pa, web3, database,
    fonts, examples) and where each was found; exit 1 when a required one is missing."""
    checks = collect()
    table = Table(title="mintloom doctor")
    table.add_column("component")
    table.add_column("status")
    table.add_column("version / detail")
    for c in checks:
        status = "[green]ok[/]" if c.ok else ("[red]missing[/]" if c.required else "[yellow]missing[/]")
        table.add_row(c.component, status, c.detail)
    console.print(table)
    if any(c.required and not c.ok for c in checks):
        raise typer.Exit(1)
