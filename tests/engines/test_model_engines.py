from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mintloom.engines.base import BrandStyle, GenerationRequest, engine_registry
from mintloom.engines.copy import CopyEngine
from mintloom.engines.openai_compat import OpenAICompatEngine
from mintloom.engines.params import CopyTemplate, OpenAICompatParams, TransformersParams
from mintloom.engines.transformers_text import TransformersTextEngine, weights_hash
from mintloom.errors import EngineError, SpecError

from .tiny_model import WORDS, build_tiny_gpt2


class _Handler(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []
    headers_seen: ClassVar[list[str]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "body": body})
        type(self).headers_seen.append(self.headers.get("Authorization", ""))
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b'{"error": "nope"}')
            return
        answer = {
            "id": "chatcmpl-1",
            "model": body["model"] + "-served",
            "system_fingerprint": "fp_test",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "  Sommerschlussverkauf!  "}}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.received = []
    _Handler.headers_seen = []
    _Handler.status = 200
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


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
    sent = _Handler.received[0]
    assert sent["path"] == "/v1/chat/completions"
    body = sent["body"]
    assert isinstance(body, dict)
    assert body["temperature"] == 0 and body["seed"] == 99 and body["model"] == "tiny"
    assert body["messages"][-1]["content"] == "Schreibe eine Headline für Sandalen"
    assert _Handler.headers_seen[0] == "Bearer sk-test"
    assert art.prompt == "Schreibe eine Headline für Sandalen"  # for the runner's salted commitment
    assert "Sandalen" not in art.model_dump_json() and art.parameters.template_name == "headline"


def test_openai_compat_errors(server: str, brand: BrandStyle) -> None:
    pytest.importorskip("httpx")
    params = OpenAICompatParams(template=_template("hi"), model="m")
    req = GenerationRequest(kind="copy", seed=1, locale="en", brand=brand, params=params)
    _Handler.status = 500
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
