"""Settings: retired keys written by an older ``mintloom init`` still load; unknown keys are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from mintloom.config import DEFAULT_CONFIG, load_settings
from mintloom.errors import ConfigError

# What ``mintloom init`` wrote before the settings that did nothing were removed.
OLD_INIT_EXTRAS = {
    "[chain]": "confirmations = 1",
    "[engine]": 'openai_base_url = "http://x"\nopenai_model = "m"\ntransformers_path = "/m"',
    "[provenance]": "batch_size = 1024",
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mintloom.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_init_config_loads(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, DEFAULT_CONFIG))
    assert settings.chain.state_interval == 1 and settings.engine.workers == 1


def test_retired_keys_of_an_old_workspace_still_load(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG
    for table, extra in OLD_INIT_EXTRAS.items():
        text = text.replace(table, f"{table}\n{extra}")
    settings = load_settings(_write(tmp_path, text))
    assert not hasattr(settings.chain, "confirmations")
    assert not hasattr(settings.engine, "openai_model")
    assert not hasattr(settings.provenance, "batch_size")


def test_unknown_key_is_still_refused(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG.replace("[chain]", "[chain]\nconfirmation = 1")
    with pytest.raises(ConfigError, match="confirmation"):
        load_settings(_write(tmp_path, text))
