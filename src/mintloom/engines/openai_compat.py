"""OpenAI-compatible chat completions as a copy engine (optional extra: ``mintloom[openai]``).

Works with any server speaking ``POST {base_url}/chat/completions`` (OpenAI, vLLM, llama.cpp,
Ollama's compatible endpoint). Requests are made as reproducible as the server allows:
``temperature`` 0 and the request seed are always sent. httpx is imported only when used.

Parameters (request.params, falling back to the engine's constructor arguments):
``base_url``, ``model``, ``api_key`` (else $OPENAI_API_KEY; never recorded in the artifact),
``prompt`` or ``template`` (a Jinja2 template rendered by
:class:`~mintloom.engines.copy.CopyEngine` first), ``system``, ``max_tokens``, ``timeout``.

The artifact records only the served model id, the server's system fingerprint, the template
name, ``temperature`` and ``max_tokens``: never the prompt, the URL or the key.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from mintloom.engines.base import Artifact, GenerationRequest, recorded_copy_parameters, text_artifact
from mintloom.errors import EngineError, SpecError

_FINGERPRINT = re.compile(r"^[0-9A-Za-z_.:-]{1,128}$")


def _fingerprint(value: object) -> str | None:
    """The server's ``system_fingerprint`` if it looks like one (it is recorded as model_hash)."""
    return value if isinstance(value, str) and _FINGERPRINT.match(value) else None


class OpenAICompatEngine:
    name = "openai-compat"
    version = "1.0.0"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def _param(self, request: GenerationRequest, key: str, default: str | None) -> str | None:
        value = request.params.get(key)
        return str(value) if value is not None else default

    def _prompt(self, request: GenerationRequest) -> str:
        if "prompt" in request.params:
            return str(request.params["prompt"])
        if "template" in request.params:
            from mintloom.engines.copy import CopyEngine

            variables: dict[str, object] = {k: v for k, v in request.params.items() if k != "template"}
            variables.update(request.texts)
            return CopyEngine().render(str(request.params["template"]), variables, request.locale)
        if "prompt" in request.texts:
            return request.texts["prompt"]
        raise SpecError("an openai-compat request needs params['prompt'] or params['template']")

    def generate(self, request: GenerationRequest) -> Artifact:
        if request.kind != "copy":
            raise EngineError(f"the openai-compat engine makes copy, not {request.kind!r}")
        try:
            import httpx
        except ImportError as exc:
            raise EngineError(
                "the openai-compat engine needs httpx", hint="pip install 'mintloom[openai]'"
            ) from exc
        base_url = self._param(request, "base_url", self.base_url)
        model = self._param(request, "model", self.model)
        if not base_url or not model:
            raise SpecError("openai-compat needs base_url and model (params or engine config)")
        api_key = self._param(request, "api_key", self.api_key or os.environ.get("OPENAI_API_KEY"))
        system = self._param(
            request,
            "system",
            f"You write concise advertising copy in the language of locale {request.locale}. "
            f"Brand tone: {request.brand.tone}. Reply with the copy only.",
        )
        max_tokens = int(request.params.get("max_tokens", 256))
        payload: dict[str, Any] = {
            "model": model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": self._prompt(request)},
            ],
            "temperature": 0,
            "seed": request.seed,
            "max_tokens": max_tokens,
        }
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        timeout = float(request.params.get("timeout", self.timeout))
        url = base_url.rstrip("/") + "/chat/completions"
        try:
            response = httpx.post(url, json=payload, headers=headers, timeout=timeout)
            response.raise_for_status()
            body = response.json()
        except httpx.HTTPStatusError as exc:
            raise EngineError(
                f"{url} answered {exc.response.status_code}: {exc.response.text[:200]}"
            ) from exc
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise EngineError(f"calling {url} failed: {exc}") from exc
        try:
            text = str(body["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError) as exc:
            raise EngineError(f"{url} returned no choices[0].message.content") from exc
        if not text:
            raise EngineError(f"{url} returned an empty completion", hint="check the prompt and max_tokens")
        served_model = str(body.get("model") or model)
        return text_artifact(
            self,
            request,
            text,
            recorded_copy_parameters(request, temperature=0, max_tokens=max_tokens),
            model_id=served_model,
            model_hash=_fingerprint(body.get("system_fingerprint")),
            trained=True,
            tags={"model": served_model},
        )
