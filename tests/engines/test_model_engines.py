from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mintloom.engines.base import BrandStyle, GenerationRequest, engine_registry
from mintloom.engines.copy import CopyEngine
from mintloom.engines.openai_compat import OpenAICompatEngine
from mintloom.engines.params import CopyTemplate, OpenAICompatParams, TransformersParams
from mintloom.engines.transformers_text import TransformersTextEngine, weights_hash
from mintloom.errors import EngineError, SpecError

from .chat_stub import ChatHandler, serve_chat
from .tiny_model import WORDS, build_tiny_gpt2


@pytest.fixture
def server() -> Iterator[str]:
    with serve_chat() as url:
        yield url


def _template(source: str, **variables: str) -> CopyTemplate:
    return CopyTemplate(source=source, variables=variables, name="headline")


def test_openai_compat_client(server: str, brand: BrandStyle, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("httpx")
    params = OpenAICompatParams(
        template=_template("Schreibe eine Headline für {{ product }}", product="Sandalen"), model="tiny"
    )
    req = GenerationRequest(kind="copy", seed=99, locale="de-DE", brand=brand, params=params)
    renders: list[str] = []
    real_render = CopyEngine.render

    def counting_render(self: CopyEngine, template: str, *args: Any, **kwargs: Any) -> str:
        renders.append(template)
        return real_render(self, template, *args, **kwargs)

    monkeypatch.setattr(CopyEngine, "render", counting_render)
    art = OpenAICompatEngine(base_url=server, api_key="sk-test").generate(req)
    assert renders == ["Schreibe eine Headline für {{ product }}"]  # rendered once, by the engine
    assert art.data == b"Sommerschlussverkauf!"
    assert art.model_id == "tiny-served" and art.model_hash == "fp_test"
    assert art.digital_source_type == "trainedAlgorithmicMedia"
    assert art.parameters.temperature == 0 and art.parameters.max_tokens == 256
    sent = ChatHandler.received[0]
    assert sent["path"] == "/v1/chat/completions"
    body = sent["body"]
    assert isinstance(body, dict)
    assert body["temperature"] == 0 and body["seed"] == 99 and body["model"] == "tiny"
    assert body["messages"][-1]["content"] == "Schreibe eine Headline für Sandalen"
    assert ChatHandler.headers_seen[0] == "Bearer sk-test"
    assert art.prompt == "Schreibe eine Headline für Sandalen"  # for the runner's salted commitment
    assert "Sandalen" not in art.model_dump_json() and art.parameters.template_name == "headline"


def test_openai_compat_errors(server: str, brand: BrandStyle) -> None:
    pytest.importorskip("httpx")
    params = OpenAICompatParams(template=_template("hi"), model="m")
    req = GenerationRequest(kind="copy", seed=1, locale="en", brand=brand, params=params)
    ChatHandler.status = 500
    with pytest.raises(EngineError, match="500"):
        OpenAICompatEngine(base_url=server).generate(req)
    with pytest.raises(SpecError):
        OpenAICompatEngine().generate(req)  # no base_url
    with pytest.raises(EngineError, match="failed"):
        OpenAICompatEngine(base_url="http://127.0.0.1:9/v1", timeout=2).generate(req)


def test_registry_has_the_builtins() -> None:
    reg = engine_registry()
    assert {"compositor", "copy", "soundlogo", "openai-compat", "transformers-text"} <= set(reg)
    for name, engine in reg.items():
        assert engine.name == name and engine.version


def test_weights_hash(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"abc")
    (tmp_path / "config.json").write_text("{}")
    h = weights_hash(tmp_path)
    (tmp_path / "config.json").write_text('{"x": 1}')
    assert weights_hash(tmp_path) == h  # config is not weights
    (tmp_path / "model.safetensors").write_bytes(b"abd")
    assert weights_hash(tmp_path) != h
    with pytest.raises(EngineError, match="does not exist"):
        weights_hash(tmp_path / "nowhere")
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(EngineError, match="no weights"):
        weights_hash(tmp_path)


def test_transformers_tiny_gpt2(tmp_path: Path, brand: BrandStyle) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    folder = build_tiny_gpt2(tmp_path / "tiny-gpt2")

    params = TransformersParams(model_path=str(folder), template=_template("summer sale"), max_new_tokens=8)
    req = GenerationRequest(kind="copy", seed=7, locale="en", brand=brand, params=params)
    a = TransformersTextEngine().generate(req)
    b = TransformersTextEngine().generate(req)
    assert a.data == b.data
    assert a.model_hash == weights_hash(folder) and len(a.model_hash or "") == 64
    assert a.digital_source_type == "trainedAlgorithmicMedia" and a.model_id
    assert set(a.data.decode().split()) <= set(WORDS)
