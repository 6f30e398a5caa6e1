"""The built wheel carries its package data (contracts, fonts with their OFL, examples, licences)
and an installed copy finds it outside the repo. Builds the wheel once (about 12 s); the full
install-and-run check is `make wheel-smoke`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mintloom import resources

ROOT = Path(__file__).resolve().parents[1]
DATA = "mintloom/_data"

pytestmark = [pytest.mark.xdist_group("wheel"), pytest.mark.slow]


def _build_wheel(project: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(project)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    r = _build_wheel(ROOT, out)
    assert r.returncode == 0, r.stdout + r.stderr
    return next(out.glob("mintloom-*.whl"))


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def _read(wheel: Path, name: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(name)


def test_wheel_ships_every_file_the_lookups_need(wheel: Path) -> None:
    names = _names(wheel)
    shipped = resources.CONTRACTS + resources.READ_CONTRACTS
    needed = {f"{DATA}/contracts/{n}.json" for n in shipped} | {f"{DATA}/contracts/NOTICE"}
    needed |= {
        f"{DATA}/fonts/{resources.font_file(script, weight)}"
        for script in resources.FONT_PACKAGES
        for weight in resources.FONT_WEIGHTS
    }
    needed |= {f"{DATA}/fonts/OFL-{stem}.txt" for _pkg, stem in resources.FONT_PACKAGES.values()}
    for name in resources.EXAMPLES:
        folder = ROOT / "examples" / name
        needed |= {f"{DATA}/examples/{p.relative_to(folder.parent).as_posix()}"
                   for p in folder.rglob("*") if p.is_file()}  # fmt: skip
    assert needed - names == set()
    assert {n for n in names if n.startswith(DATA)} == needed, "nothing else in the package data"


def test_wheel_ships_the_public_pages_templates_and_static_files(wheel: Path) -> None:
    from mintloom.api.public import pages

    names = _names(wheel)
    folder = ROOT / "src" / "mintloom"
    shipped = {p for p in (folder / "api" / "public").rglob("*") if p.suffix in {".html", ".js", ".css"}}
    assert {f"mintloom/{p.relative_to(folder).as_posix()}" for p in shipped} <= names
    assert {f"mintloom/api/public/static/{n}" for n in pages.STATIC} <= names  # what the route serves
    assert "mintloom/api/public/templates/public/verify.html" in names


def test_slim_artifacts_are_forge_abi_and_bytecode_only(wheel: Path) -> None:
    for name in resources.CONTRACTS:
        slim = json.loads(_read(wheel, f"{DATA}/contracts/{name}.json"))
        forge = json.loads((ROOT / f"contracts/out/{name}.sol/{name}.json").read_text())
        assert set(slim) == {"contractName", "abi", "bytecode", "deployedBytecode"}
        assert slim["abi"] == forge["abi"] and slim["contractName"] == name
        assert slim["bytecode"] == forge["bytecode"]["object"]
        assert slim["deployedBytecode"] == forge["deployedBytecode"]["object"]


def test_licences_of_fonts_and_contracts_are_in_the_wheel(wheel: Path) -> None:
    for package, stem in resources.FONT_PACKAGES.values():
        ofl = _read(wheel, f"{DATA}/fonts/OFL-{stem}.txt").decode()
        assert "SIL Open Font License, Version 1.1" in ofl and ofl.startswith("Copyright"), package
    notice = _read(wheel, f"{DATA}/contracts/NOTICE").decode()
    assert "OpenZeppelin Contracts" in notice and "The MIT License" in notice and "Apache" in notice
    # mintloom's own licence, which the NOTICE and `license = "Apache-2.0"` refer to
    with zipfile.ZipFile(wheel) as zf:
        (own,) = [n for n in zf.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        text = zf.read(own).decode()
    assert "Apache License" in text and "Version 2.0, January 2004" in text


_PROBE = """
import json, sys
from mintloom import resources as r
from mintloom.campaign.examples import write_example
from mintloom.engines.fonts import font_path
from mintloom.ledger.contracts import KNOWN_CONTRACTS, load_artifact
found = {
    "source_tree": str(r.source_tree()),
    "origins": [r.contracts_dir().origin, r.examples_dir().origin, r.font_dirs()[-1].origin],
    "contracts": [len(load_artifact(n).abi) for n in KNOWN_CONTRACTS],
    "fonts": [str(font_path(s, w)) for s in r.FONT_PACKAGES for w in r.FONT_WEIGHTS],
    "example": str(write_example("lumen", r.Path("written"), segments=1)),
}
print(json.dumps(found))
"""


def _outside(
    site: Path, cwd: Path, *args: str, path: str = "/usr/bin:/bin"
) -> subprocess.CompletedProcess[str]:
    """Run Python on the unpacked wheel from ``cwd``: no checkout, no MINTLOOM_*, no anvil on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINTLOOM_")}
    env.update(PYTHONPATH=str(site), PATH=path, HOME=str(cwd), COLUMNS="200")
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="session")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


def test_unpacked_wheel_finds_its_package_data(unpacked: Path, tmp_path: Path) -> None:
    r = _outside(unpacked, tmp_path, "-c", _PROBE)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert found["source_tree"] == "None"
    assert found["origins"] == ["package", "package", "package"]
    assert all(n > 0 for n in found["contracts"])
    assert all(f.startswith(str(unpacked / DATA / "fonts")) for f in found["fonts"])
    assert (tmp_path / "written" / "campaign.yaml").is_file()
    assert len((tmp_path / "written" / "audience.csv").read_text().splitlines()) == 2


def test_doctor_of_an_installed_wheel_without_anvil_says_how_to_install_it(
    unpacked: Path, tmp_path: Path
) -> None:
    r = _outside(unpacked, tmp_path, "-m", "mintloom.cli.main", "doctor")
    assert r.returncode == 1, r.stdout + r.stderr
    anvil = next(ln for ln in r.stdout.splitlines() if "│ anvil" in ln)
    assert "missing" in anvil and "npm install -g @foundry-rs/anvil" in anvil
    for component in ("contracts", "fonts", "examples"):
        line = next(ln for ln in r.stdout.splitlines() if f"│ {component}" in ln)
        assert "│ ok" in line, line
        assert "package data" in line or component == "fonts", line
    forge = next(ln for ln in r.stdout.splitlines() if "│ forge" in ln)
    assert "needed only to build the contracts from source" in forge


def test_a_wheel_without_compiled_contracts_is_not_built(tmp_path: Path) -> None:
    """Building before `forge build` must fail loudly, not ship a wheel that cannot deploy."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "hatch_build.py", "README.md", "foundry.toml"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "examples", project / "examples")
    (project / "contracts").mkdir()
    shutil.copy(ROOT / "contracts" / "NOTICE", project / "contracts" / "NOTICE")
    (project / "node_modules").symlink_to(ROOT / "node_modules")
    r = _build_wheel(project, tmp_path / "dist")
    assert r.returncode != 0
    assert "ProvenanceLog.json is missing (run forge build)" in r.stdout + r.stderr
    assert not list((tmp_path / "dist").glob("*.whl"))


@pytest.mark.parametrize("layout", ["nested", "hoisted"])
def test_anvil_installed_by_npm_globally_is_run_as_its_platform_binary(
    unpacked: Path, tmp_path: Path, layout: str
) -> None:
    """`npm install -g @foundry-rs/anvil` puts a node wrapper on PATH; mintloom must start the real
    binary, or the pid it records is node's and the node is neither reused nor stopped."""
    from mintloom.ledger.node import _platform_package

    scope = tmp_path / "npm" / "lib" / "node_modules" / "@foundry-rs"
    wrapper = scope / "anvil" / "bin.mjs"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text("#!/usr/bin/env node\n")
    wrapper.chmod(0o755)
    home = scope / "anvil" / "node_modules" / "@foundry-rs" if layout == "nested" else scope
    binary = home / _platform_package("anvil") / "bin" / "anvil"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"\x7fELF")
    binary.chmod(0o755)
    (tmp_path / "npm" / "bin").mkdir()
    (tmp_path / "npm" / "bin" / "anvil").symlink_to(wrapper)
    probe = "from mintloom.ledger.node import find_foundry_tool; print(find_foundry_tool('anvil'))"
    r = _outside(unpacked, tmp_path, "-c", probe, path=f"{tmp_path / 'npm' / 'bin'}:/usr/bin:/bin")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(binary)


def test_the_wheel_registers_the_engines(wheel: Path) -> None:
    """The engine registry is the installed entry points: the wheel must carry them."""
    import configparser
    import tomllib

    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
        text = zf.read(name).decode()
    parser = configparser.ConfigParser()
    parser.read_string(text)
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert dict(parser["mintloom.engines"]) == declared["mintloom.engines"]


_MIGRATE = """
import json
from alembic import command
from sqlalchemy import create_engine
from mintloom.schema import SCHEMA, upgrade_database
from mintloom.store import migrate
engine = create_engine("sqlite:///old.db")
with engine.begin() as conn:
    command.upgrade(migrate.alembic_config(conn, SCHEMA), migrate.BASELINE)
engine.dispose()
before, after = upgrade_database("sqlite:///old.db")
print(json.dumps({"where": str(migrate.MIGRATIONS), "before": before.revision, "after": after.revision,
                  "head": migrate.head()}))
"""


def test_the_wheel_ships_and_runs_the_catalog_migrations(wheel: Path, unpacked: Path, tmp_path: Path) -> None:
    """The migrations are package files (env.py, the script template, every revision), and an
    installed mintloom upgrades a baseline catalog with them."""
    names = _names(wheel)
    versions = sorted(p.name for p in (ROOT / "src/mintloom/store/migrations/versions").glob("v*.py"))
    assert len(versions) >= 2
    needed = {"env.py", "script.py.mako", *(f"versions/{v}" for v in versions)}
    assert {f"mintloom/store/migrations/{n}" for n in needed} <= names
    r = _outside(unpacked, tmp_path, "-c", _MIGRATE)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert found["where"] == str(unpacked / "mintloom/store/migrations")
    assert found["before"] == "0001" and found["after"] == found["head"] == versions[-1][1:5]


def test_the_wheel_ships_the_studio_templates_and_static_files(wheel: Path) -> None:
    """`mintloom serve` renders the studio from package files: every template and static file."""
    folder = ROOT / "src" / "mintloom" / "api" / "studio"
    needed = {
        f"mintloom/api/studio/{p.relative_to(folder).as_posix()}"
        for sub in ("templates", "static")
        for p in (folder / sub).rglob("*")
        if p.is_file()
    }
    assert "mintloom/api/studio/templates/studio/base.html" in needed
    assert needed - _names(wheel) == set()
