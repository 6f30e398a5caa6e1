"""OpenAI-compatible chat completions as a copy engine (optional extra: ``mintloom[openai]``).

Works with any server speaking ``POST {base_url}/chat/completions`` (OpenAI, vLLM, llama.cpp,
Ollama's compatible endpoint). Requests are made as reproducible as the server allows:
``temperature`` 0 and the request seed are always sent. httpx is imported only when used.

Parameters (:class:`~mintloom.engines.params.OpenAICompatParams`, the spec's ``copy.model``;
``base_url`` and ``model`` fall back to the constructor's): ``template`` (rendered here, once, by
:class:`~mintloom.engines.copy.CopyEngine`: the prompt), ``system``, ``max_tokens``, ``timeout``.
The API key is the constructor's or $OPENAI_API_KEY, never a request parameter.

The artifact records only the served model id, the server's system fingerprint, the template
name, ``temperature`` and ``max_tokens``: never the prompt, the URL or the key.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from mintloom.engines.base import (
    Artifact,
    GenerationRequest,
    expect_params,
    recorded_copy_parameters,
    text_artifact,
)
from mintloom.engines.copy import CopyEngine
from mintloom.engines.params import OpenAICompatParams
from mintloom.errors import EngineError, SpecError

_FINGERPRINT = re.compile(r"^[0-9A-Za-z_.:-]{1,128}$")


def _fingerprint(value: object) -> str | None:
    """The server's ``system_fingerprint`` if it looks like one (it is recorded as model_hash)."""
    return value if isinstance(value, str) and _FINGERPRINT.match(value) else None


class OpenAICompatEngine:
    name = "openai-compat"
    version = "1.0.0"
    params_type = OpenAICompatParams

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

    def generate(self, request: GenerationRequest) -> Artifact:
        params = expect_params(self, request, "copy", OpenAICompatParams)
        base_url, model = params.base_url or self.base_url, params.model or self.model
        if not base_url or not model:
            raise SpecError("openai-compat needs base_url and model (copy.model or engine config)")
        prompt = CopyEngine().render_template(params.template, request.locale).strip()
        system = params.system or (
            f"You write concise advertising copy in the language of locale {request.locale}. "
            f"Brand tone: {request.brand.tone}. Reply with the copy only."
        )
        payload: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            "temperature": 0,
            "seed": request.seed,
            "max_tokens": params.max_tokens,
        }
        url = base_url.rstrip("/") + "/chat/completions"
        body = self._post(url, payload, params.timeout or self.timeout)
        text, served_model = _completion(body, url), str(body.get("model") or model)
        return text_artifact(
            self,
            request,
            text,
            recorded_copy_parameters(params.template, temperature=0, max_tokens=params.max_tokens),
            model_id=served_model,
            model_hash=_fingerprint(body.get("system_fingerprint")),
            trained=True,
            tags={"model": served_model},
            prompt=prompt,
        )

    def _post(self, url: str, payload: dict[str, Any], timeout: float) -> Any:
        """The server's JSON answer; any failure is an :class:`EngineError` naming the URL."""
        try:
            import httpx
        except ImportError as exc:
            raise EngineError(
                "the openai-compat engine needs httpx", hint="pip install 'mintloom[openai]'"
            ) from exc
        headers = {"Content-Type": "application/json"}
        api_key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        try:
            response = httpx.post(url, json=payload, headers=headers, timeout=timeout)
            response.raise_for_status()
            return response.json()
        except httpx.HTTPStatusError as exc:
            raise EngineError(
                f"{url} answered {exc.response.status_code}: {exc.response.text[:200]}"
            ) from exc
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise EngineError(f"calling {url} failed: {exc}") from exc


def _completion(body: Any, url: str) -> str:
    """The completion's text; none or an empty one is an :class:`EngineError`."""
    try:
        text = str(body["choices"][0]["message"]["content"]).strip()
    except (KeyError, IndexError, TypeError) as exc:
        raise EngineError(f"{url} returned no choices[0].message.content") from exc
    if not text:
        raise EngineError(f"{url} returned an empty completion", hint="check the prompt and max_tokens")
    return text
