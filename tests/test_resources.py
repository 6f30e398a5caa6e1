"""Where contracts, fonts, examples and anvil are looked up: environment, checkout, package data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mintloom import resources
from mintloom.campaign.examples import write_example
from mintloom.campaign.sample import logo_path
from mintloom.engines.fonts import font_path
from mintloom.errors import LedgerError, NodeError, SpecError
from mintloom.ledger.contracts import KNOWN_CONTRACTS, load_artifact
from mintloom.ledger.node import AnvilNode

ROOT = Path(__file__).resolve().parents[1]


def test_a_checkout_uses_its_own_contracts_fonts_and_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (resources.ENV_CONTRACTS, resources.ENV_FONTS, resources.ENV_EXAMPLES):
        monkeypatch.delenv(var, raising=False)
    assert resources.source_tree() == ROOT
    assert resources.contracts_dir() == resources.Located(ROOT / "contracts" / "out", "source")
    assert resources.examples_dir() == resources.Located(ROOT / "examples", "source")
    assert [d.origin for d in resources.font_dirs()] == ["source", "package"]


def test_environment_wins_over_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(resources.ENV_CONTRACTS, str(tmp_path / "c"))
    monkeypatch.setenv(resources.ENV_FONTS, str(tmp_path / "f"))
    monkeypatch.setenv(resources.ENV_EXAMPLES, str(tmp_path / "e"))
    assert resources.contracts_dir() == resources.Located(tmp_path / "c", "env")
    assert resources.font_dirs()[0] == resources.Located(tmp_path / "f", "env")
    assert resources.examples_dir() == resources.Located(tmp_path / "e", "env")


def _forge(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((ROOT / f"contracts/out/{name}.sol/{name}.json").read_text())
    return data


def test_slim_artifact_loads_like_forge_output(tmp_path: Path) -> None:
    """The wheel's flat ``<Name>.json`` with a plain-string bytecode loads to the same artifact."""
    forge = _forge("ProvenanceLog")
    slim = {"abi": forge["abi"], "bytecode": forge["bytecode"]["object"]}  # type: ignore[index]
    (tmp_path / "ProvenanceLog.json").write_text(json.dumps(slim))
    from_slim = load_artifact("ProvenanceLog", tmp_path)
    assert from_slim == load_artifact("ProvenanceLog", ROOT / "contracts" / "out")
    assert from_slim.bytecode.startswith("0x60") and len(from_slim.abi) > 5


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"bytecode": "0x6080"}', "no valid abi"),
        ('{"abi": {"not": "a list"}, "bytecode": "0x6080"}', "no valid abi"),
        ('{"abi": [], "bytecode": "0xZZ"}', "no valid bytecode"),
        ('{"abi": [], "bytecode": ""}', "no valid bytecode"),
        ('{"abi": [], "bytecode": {"object": 7}}', "no valid bytecode"),
        ('["abi"]', "no valid abi"),
        ("{not json", "cannot read contract artifact"),
    ],
)
def test_forged_or_broken_artifact_is_refused_by_name(tmp_path: Path, content: str, needle: str) -> None:
    (tmp_path / "Forged.json").write_text(content)
    with pytest.raises(LedgerError, match=needle):
        load_artifact("Forged", tmp_path)


def test_missing_artifacts_hint_names_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(resources.ENV_CONTRACTS, str(tmp_path))
    with pytest.raises(LedgerError, match="not found") as err:
        load_artifact("CreativeAssets", tmp_path)
    assert err.value.hint is not None and resources.ENV_CONTRACTS in err.value.hint


def test_font_dir_from_environment_holds_flat_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = font_path("hebrew", "bold")
    shutil.copy(source, tmp_path / source.name)
    monkeypatch.setenv(resources.ENV_FONTS, str(tmp_path))
    font_path.cache_clear()
    try:
        assert font_path("hebrew", "bold") == tmp_path / "NotoSansHebrew_700Bold.ttf"
    finally:
        font_path.cache_clear()


def test_anvil_variable_naming_no_file_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINTLOOM_ANVIL", str(tmp_path / "no-such-anvil"))
    with pytest.raises(NodeError, match=r"MINTLOOM_ANVIL=.*no-such-anvil is not a file") as err:
        AnvilNode(tmp_path / "chain").binary()
    assert err.value.hint is not None and "npm install -g @foundry-rs/anvil" in err.value.hint


def test_write_example_trims_segments_and_keeps_edits(tmp_path: Path) -> None:
    spec = write_example("lumen", tmp_path / "lumen", segments=2)
    assert spec == tmp_path / "lumen" / "campaign.yaml"
    rows = (tmp_path / "lumen" / "audience.csv").read_text().splitlines()
    assert rows[0].startswith("segment,") and len(rows) == 3
    assert (tmp_path / "lumen" / "brand" / "logo.png").read_bytes() == logo_path().read_bytes()
    spec.write_text("campaign: edited\n")
    write_example("lumen", tmp_path / "lumen")
    assert spec.read_text() == "campaign: edited\n"


@pytest.mark.parametrize("name", ["nope", "../lumen", ""])
def test_unknown_example_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(SpecError, match="no example campaign"):
        write_example(name, tmp_path / "x")


def test_examples_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "examples" / "lumen", tmp_path / "lumen")
    (tmp_path / "lumen" / "brand" / "logo.png").write_bytes(b"moved")
    monkeypatch.setenv(resources.ENV_EXAMPLES, str(tmp_path))
    assert logo_path().read_bytes() == b"moved"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mintloom.cli.main", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_init_example_writes_a_runnable_campaign(tmp_path: Path) -> None:
    r = _cli("init", "ws", "--example", "lumen", "--segments", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    plan = _cli("plan", "lumen/campaign.yaml", cwd=tmp_path / "ws")
    assert plan.returncode == 0, plan.stderr
    assert "1 segments × 4 locales × 7 formats" in plan.stdout


def test_init_unknown_example_exits_with_the_campaign_code(tmp_path: Path) -> None:
    r = _cli("init", "ws", "--example", "nope", cwd=tmp_path)
    assert r.returncode == 3 and "no example campaign named 'nope'" in r.stderr


def test_every_known_contract_loads_from_the_checkout() -> None:
    assert all(load_artifact(n).bytecode.startswith("0x") for n in KNOWN_CONTRACTS)
