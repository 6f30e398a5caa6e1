"""The engine registry is the installed ``mintloom.engines`` entry points: a third-party engine
is a package (here a real distribution on sys.path, found by importlib.metadata)."""

from __future__ import annotations

import importlib
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mintloom.campaign.execute import generate_job
from mintloom.campaign.plan import plan_campaign
from mintloom.campaign.sample import sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.engines import base
from mintloom.engines.base import ENTRY_POINT_GROUP, Engine, engine_registry
from mintloom.errors import EngineError
from tests.campaign.conftest import write_campaign

ROOT = Path(__file__).resolve().parents[2]

ECHO = '''
from mintloom.engines.base import expect_params, recorded_copy_parameters, text_artifact
from mintloom.engines.copy import CopyEngine
from mintloom.engines.params import CopyTemplate, EngineParams


class EchoParams(EngineParams):
    template: CopyTemplate
    shout: bool = False


class EchoCopy:
    """Copy in capitals, or not."""

    name = "echo-copy"
    version = "0.1.0"
    params_type = EchoParams

    def generate(self, request):
        params = expect_params(self, request, "copy", EchoParams)
        text = CopyEngine().render_template(params.template, request.locale)
        text = text.upper() if params.shout else text
        return text_artifact(self, request, text, recorded_copy_parameters(params.template))


class NotAnEngine:
    name = "not-an-engine"


def broken():
    raise RuntimeError("no licence server")
'''


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    base._load_engines.cache_clear()
    yield
    base._load_engines.cache_clear()


def install(site: Path, dist: str, entry_points: dict[str, str], module: str | None = None) -> None:
    """A distribution as pip leaves it: ``<dist>.dist-info`` with METADATA and entry_points.txt."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
    if module is not None:
        (site / "echo_engine.py").write_text(textwrap.dedent(module))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> Path:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "echo_engine", raising=False)
    importlib.invalidate_caches()
    return folder


def test_the_builtins_are_the_pyproject_entry_points(fresh_registry: None) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["entry-points"][ENTRY_POINT_GROUP]
    registry = engine_registry()
    missing = set(declared) - set(registry)
    assert not missing, f"installed metadata lacks {missing}: reinstall mintloom (make setup)"
    for name, target in declared.items():
        module, _, cls = target.partition(":")
        assert type(registry[name]).__module__ == module and type(registry[name]).__name__ == cls
        assert isinstance(registry[name], Engine) and registry[name].name == name


def test_base_imports_no_engine() -> None:
    source = (ROOT / "src" / "mintloom" / "engines" / "base.py").read_text()
    for module in ("image", "copy", "audio", "openai_compat", "transformers_text"):
        assert f"mintloom.engines.{module}" not in source


def test_a_third_party_engine_is_registered_and_planned(site: Path, tmp_path: Path) -> None:
    install(site, "mintloom-echo", {"echo-copy": "echo_engine:EchoCopy"}, ECHO)
    registry = engine_registry()
    assert {"compositor", "copy", "soundlogo", "echo-copy"} <= set(registry)
    spec = sample_spec(formats=("square",), audio=False).replace(
        "copy:\n", "copy:\n  engine: echo-copy\n  model: {shout: true}\n"
    )
    plan = plan_campaign(load_spec(write_campaign(tmp_path / "c", spec)), registry)
    jobs = [j for j in plan.jobs if j.kind == "copy"]
    assert len(jobs) == 4 and {j.engine for j in jobs} == {"echo-copy"}
    assert type(jobs[0].request.params).__name__ == "EchoParams"
    done = generate_job(jobs[0])
    assert done.artifact is not None and done.artifact.data.startswith(b"ALEX: 15% UNTIL")
    assert done.artifact.engine == "echo-copy"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("echo_engine:Missing", r"entry point bad = echo_engine:Missing \(mintloom-bad\) failed to load"),
        ("no_such_module:X", r"entry point bad = no_such_module:X .*failed to load: ModuleNotFoundError"),
        ("echo_engine:broken", r"failed to load: RuntimeError: no licence server"),
        ("echo_engine:NotAnEngine", r"bad = echo_engine:NotAnEngine \(mintloom-bad\) is not an engine"),
        ("echo_engine:EchoCopy", r"entry point bad = echo_engine:EchoCopy .* names itself 'echo-copy'"),
    ],
)
def test_a_bad_entry_point_is_refused_by_name(site: Path, target: str, message: str) -> None:
    install(site, "mintloom-bad", {"bad": target}, ECHO)
    with pytest.raises(EngineError, match=message):
        engine_registry()


def test_two_engines_with_one_name_are_refused(site: Path) -> None:
    install(site, "mintloom-impostor", {"copy": "echo_engine:EchoCopy"}, ECHO)
    with pytest.raises(EngineError, match=r"two engines are named 'copy'.*mintloom-impostor"):
        engine_registry()


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "x\x1bname"])
def test_an_engine_whose_name_is_not_a_safe_slug_is_refused_by_name(site: Path, name: str) -> None:
    """An engine name lands in every manifest, catalog row and job key: a hostile package's
    name with separators, a leading dot or control characters is refused, not registered."""
    module = ECHO + f"\nclass Sly(EchoCopy):\n    name = {name!r}\n"
    install(site, "mintloom-sly", {name: "echo_engine:Sly"}, module)
    with pytest.raises(EngineError, match=r"not a safe engine name"):
        engine_registry()
