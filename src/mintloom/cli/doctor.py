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
from mintloom.ledger.node import ENV_ANVIL, find_foundry_tool, tool_version
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


def _foundry(tool: str, env: str | None) -> Check:
    path = find_foundry_tool(tool, env)
    if path is None:
        return Check(tool, False, "not found (npm @foundry-rs/" + tool + "; run `make setup`)")
    try:
        return Check(tool, True, f"{tool_version(path)}  ({path})")
    except MintloomError as exc:
        return Check(tool, False, str(exc))


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
        db = open_database(url, create=False)
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
    if missing:
        detail += f"; missing {', '.join(missing)}"
    return Check("fonts", not missing and has_raqm(), detail)


def collect() -> list[Check]:
    return [
        Check("mintloom", True, _pkg("mintloom") or "source tree"),
        _foundry("anvil", ENV_ANVIL),
        _foundry("forge", None),
        _solc(),
        _c2pa(),
        Check("web3", bool(_pkg("web3")), f"web3.py {_pkg('web3')}"),
        _database(),
        _fonts(),
    ]


def doctor() -> None:
    """Report which components are available (anvil, forge, solc, c2pa, web3, database, fonts)."""
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
