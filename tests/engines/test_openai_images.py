"""The OpenAI-compatible images engine against a real local HTTP server the tests start."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from typing import ClassVar

import pytest
from PIL import Image

from mintloom.engines import openai_images
from mintloom.engines.base import BrandStyle, GenerationRequest
from mintloom.engines.openai_images import OpenAIImagesEngine
from mintloom.engines.params import CopyTemplate, ImagesApiParams
from mintloom.errors import EngineError, ImageBombError, ModelResponseError, SpecError
from tests.bombs import png_bomb

from .chat_stub import JsonHandler, serve

pytest.importorskip("httpx")


def _png(size: tuple[int, int] = (96, 64), colour: str = "#336699") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


class ImagesHandler(JsonHandler):
    received: ClassVar[list[dict[str, object]]] = []
    auth: ClassVar[list[str]] = []
    answer: ClassVar[bytes] = b""
    status: ClassVar[int] = 200
    delay: ClassVar[float] = 0.0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "body": body})
        type(self).auth.append(self.headers.get("Authorization", ""))
        time.sleep(type(self).delay)
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(type(self).answer)))
        self.end_headers()
        self.wfile.write(type(self).answer)


def _answer(image: bytes, model: str = "img-model-served") -> bytes:
    return json.dumps(
        {"created": 1, "model": model, "data": [{"b64_json": base64.b64encode(image).decode()}]}
    ).encode()


@pytest.fixture
def server() -> Iterator[str]:
    ImagesHandler.received, ImagesHandler.auth = [], []
    ImagesHandler.answer, ImagesHandler.status, ImagesHandler.delay = _answer(_png()), 200, 0.0
    with serve(ImagesHandler) as url:
        yield url


def _request(brand: BrandStyle, url: str, **kw: object) -> GenerationRequest:
    params = ImagesApiParams(
        prompt=CopyTemplate(source="a warm cafe in {{ city }}", variables={"city": "Porto"}),
        base_url=url,
        model="img-model",
        width=96,
        height=64,
        **kw,  # type: ignore[arg-type]
    )
    return GenerationRequest(kind="image", seed=5, locale="en-US", brand=brand, params=params)


def test_an_image_is_generated_with_the_key_from_the_environment(
    server: str, brand: BrandStyle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-only")
    art = OpenAIImagesEngine().generate(_request(brand, server))
    sent = ImagesHandler.received[0]
    assert sent["path"] == "/v1/images/generations"
    assert sent["body"] == {
        "model": "img-model",
        "prompt": "a warm cafe in Porto",
        "n": 1,
        "size": "96x64",
        "response_format": "b64_json",
    }
    assert ImagesHandler.auth == ["Bearer sk-env-only"]
    img = Image.open(io.BytesIO(art.data))
    assert img.format == "PNG" and img.size == (96, 64) and img.getpixel((3, 3)) == (0x33, 0x66, 0x99)
    assert art.model_id == "img-model-served" and art.digital_source_type == "trainedAlgorithmicMedia"
    assert art.prompt == "a warm cafe in Porto"
    dumped = art.model_dump_json(exclude={"data"})
    assert "Porto" not in dumped and server not in dumped and "sk-env-only" not in dumped


def test_the_key_is_never_a_parameter() -> None:
    with pytest.raises(ValueError, match="api_key"):
        ImagesApiParams.model_validate({"prompt": {"source": "x"}, "api_key": "sk-spec"})


def test_a_pixel_bomb_is_refused_before_it_is_decoded(server: str, brand: BrandStyle) -> None:
    ImagesHandler.answer = _answer(png_bomb(9400, 9400))  # 344 KB on the wire, 353 MB decoded
    with pytest.raises(ImageBombError, match="9400x9400"):
        OpenAIImagesEngine().generate(_request(brand, server))


def test_an_oversized_answer_is_cut_off(
    server: str, brand: BrandStyle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_images, "MAX_RESPONSE_BYTES", 10_000)
    ImagesHandler.answer = _answer(_png(colour="#000000") + b"\0" * 20_000)
    with pytest.raises(ImageBombError, match="more than 10000 bytes"):
        OpenAIImagesEngine().generate(_request(brand, server))


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"<html>", "did not answer JSON"),
        (b"[1]", "not an object"),
        (b'{"data": []}', "no data\\[0\\].b64_json"),
        (b'{"data": [{"b64_json": "%%%"}]}', "not base64"),
        (_answer(b"GIF89a not really"), "not an image"),
        (_answer(_png((32, 32))), "not the 96x64 asked for"),
        (_answer(_png()[:60]), "truncated or corrupt"),
    ],
)
def test_an_unusable_answer_is_refused_by_name(
    server: str, brand: BrandStyle, answer: bytes, message: str
) -> None:
    ImagesHandler.answer = answer
    with pytest.raises(ModelResponseError, match=message):
        OpenAIImagesEngine().generate(_request(brand, server))


def test_an_error_status_and_a_slow_server_are_named(server: str, brand: BrandStyle) -> None:
    ImagesHandler.status, ImagesHandler.answer = 401, b'{"error": "bad key"}'
    with pytest.raises(EngineError, match=r"answered 401: .*bad key"):
        OpenAIImagesEngine().generate(_request(brand, server))
    ImagesHandler.status, ImagesHandler.answer, ImagesHandler.delay = 200, _answer(_png()), 1.5
    with pytest.raises(EngineError, match=r"did not answer within 0\.3 s"):
        OpenAIImagesEngine().generate(_request(brand, server, timeout=0.3))


def test_no_server_or_model_is_a_spec_error(brand: BrandStyle) -> None:
    params = ImagesApiParams(prompt=CopyTemplate(source="x"))
    with pytest.raises(SpecError, match="base_url and model"):
        OpenAIImagesEngine().generate(
            GenerationRequest(kind="image", seed=1, locale="en-US", brand=brand, params=params)
        )
