"""OpenAI-compatible image generation as an image engine (optional extra: ``mintloom[openai]``).

``POST {base_url}/images/generations`` with ``response_format: b64_json``; the API key comes
only from ``$OPENAI_API_KEY``. The answer is untrusted input: its body is read up to
:data:`MAX_RESPONSE_BYTES`, the image's header is checked against :data:`MAX_PIXELS` before any
pixel is decoded (a pixel bomb is refused by name), and the image is re-encoded as a PNG of the
size asked for. The artifact records the served model id and the size, the prompt only as the
runner's salted commitment; the URL and the key never.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import re
import warnings
from typing import Any

from PIL import Image, UnidentifiedImageError

from mintloom.engines.base import Artifact, GenerationRequest, expect_params, model_image_artifact
from mintloom.engines.copy import CopyEngine
from mintloom.engines.params import ImagesApiParams
from mintloom.errors import EngineError, ImageBombError, ModelResponseError, SpecError
from mintloom.provenance.credentials import GenerationParameters

ENV_API_KEY = "OPENAI_API_KEY"
MAX_RESPONSE_BYTES = 48 * 1024 * 1024
"""The largest answer read (a 4096² PNG in base64 inside JSON fits)."""
MAX_PIXELS = 4096 * 4096
"""The most pixels a returned image may declare in its header."""
_FORMATS = ("PNG", "JPEG", "WEBP")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


class OpenAIImagesEngine:
    name = "openai-images"
    version = "1.0.0"
    params_type = ImagesApiParams

    def __init__(self, base_url: str | None = None, model: str | None = None, timeout: float = 120.0) -> None:
        self.base_url = base_url
        self.model = model
        self.timeout = timeout

    def generate(self, request: GenerationRequest) -> Artifact:
        params = expect_params(self, request, "image", ImagesApiParams)
        base_url, model = params.base_url or self.base_url, params.model or self.model
        if not base_url or not model:
            raise SpecError("openai-images needs base_url and model (hero settings or engine config)")
        prompt = CopyEngine().render_template(params.prompt, request.locale).strip()
        if not prompt:
            raise SpecError("openai-images needs a prompt: the prompt template rendered empty")
        size = f"{params.width}x{params.height}"
        payload = {"model": model, "prompt": prompt, "n": 1, "size": size, "response_format": "b64_json"}
        url = base_url.rstrip("/") + "/images/generations"
        body = _json(self._post(url, payload, params.timeout or self.timeout), url)
        image = decode_image(_b64_image(body, url), url, (params.width, params.height))
        from mintloom.engines.image import encode

        served = body.get("model")
        model_id = served if isinstance(served, str) and _MODEL.match(served) else model
        parameters = GenerationParameters(width=image.width, height=image.height)
        return model_image_artifact(
            self, request, encode(image, "png"), parameters, model_id=model_id, prompt=prompt
        )

    def _post(self, url: str, payload: dict[str, Any], timeout: float) -> bytes:
        """The answer's body, at most :data:`MAX_RESPONSE_BYTES`; a failure names the URL."""
        try:
            import httpx
        except ImportError as exc:
            raise EngineError(
                "the openai-images engine needs httpx", hint="pip install 'mintloom[openai]'"
            ) from exc
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(ENV_API_KEY)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        try:
            with httpx.stream("POST", url, json=payload, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    head = response.read()[:200].decode("utf-8", "replace")
                    raise EngineError(f"{url} answered {response.status_code}: {head}")
                return _bounded(response.iter_bytes(), url)
        except httpx.TimeoutException as exc:
            raise EngineError(
                f"{url} did not answer within {timeout:g} s", hint="raise hero.timeout or check the server"
            ) from exc
        except httpx.HTTPError as exc:
            raise EngineError(f"calling {url} failed: {exc}") from exc


def _bounded(chunks: Any, url: str) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > MAX_RESPONSE_BYTES:
            raise ImageBombError(f"{url} sent more than {MAX_RESPONSE_BYTES} bytes: refused")
    return bytes(out)


def _json(raw: bytes, url: str) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelResponseError(f"{url} did not answer JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ModelResponseError(f"{url} answered JSON that is not an object")
    return body


def _b64_image(body: dict[str, Any], url: str) -> bytes:
    try:
        encoded = body["data"][0]["b64_json"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ModelResponseError(f"{url} returned no data[0].b64_json") from exc
    if not isinstance(encoded, str) or not encoded:
        raise ModelResponseError(f"{url} returned an empty data[0].b64_json")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ModelResponseError(f"{url} returned data[0].b64_json that is not base64") from exc


def decode_image(data: bytes, origin: str, size: tuple[int, int]) -> Image.Image:
    """The RGB pixels of a returned image of ``size``: its header is checked (format, pixel
    count, size) before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format not in _FORMATS:
                raise ModelResponseError(f"{origin} returned a {img.format} image, not PNG, JPEG or WebP")
            if img.width * img.height > MAX_PIXELS:
                raise ImageBombError(
                    f"{origin} returned a {img.width}x{img.height} image (over {MAX_PIXELS} pixels): refused"
                )
            if img.size != size:
                asked = f"{size[0]}x{size[1]}"
                raise ModelResponseError(
                    f"{origin} returned a {img.width}x{img.height} image, not the {asked} asked for"
                )
            return img.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageBombError(f"{origin} returned a decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ModelResponseError(f"{origin} returned data that is not an image") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ModelResponseError(f"{origin} returned a truncated or corrupt image: {exc}") from exc
