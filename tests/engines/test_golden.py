"""Golden digests: per engine and engine version, the sha-256 of what fixed small requests make.

A job key names the engine version, not the bytes, so a Pillow, font, numpy, libsndfile or Babel
upgrade that changes an engine's output under an unchanged version would mix old and new bytes
under one key (a resumed run keeps the old, a fresh workspace makes the new). These digests were
computed once from the code and are committed in ``golden.json``; they catch that.

After a deliberate change: bump the engine's ``version`` and record its digests with
``PYTHONPATH=src python -m tests.engines.test_golden`` (older versions' digests stay as history).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mintloom.engines.audio import SoundLogo
from mintloom.engines.base import FORMATS, Artifact, BrandStyle, Engine, Format, GenerationRequest
from mintloom.engines.copy import CopyEngine
from mintloom.engines.image import ImageCompositor
from mintloom.engines.params import AudioParams, CopyParams, CopyTemplate, ImageParams

GOLDEN = Path(__file__).with_name("golden.json")
BRAND = BrandStyle(palette=("#1d3557", "#e63946", "#f1faee", "#a8dadc"), tone="playful")
VARIABLES = {"name": "Alex", "offer": "15", "price": "3.90", "currency": "EUR", "deadline": "2026-12-31"}


def _image(locale: str, fmt: Format, headline: str, body: str, cta: str) -> GenerationRequest:
    """The ad for ``locale`` in ``fmt``: message templates rendered by the engine with VARIABLES."""
    params = ImageParams(headline=headline, body=body, cta=cta, variables=VARIABLES, campaign="golden")
    return GenerationRequest(kind="image", seed=11, locale=locale, brand=BRAND, format=fmt, params=params)


def _copy(locale: str, source: str) -> GenerationRequest:
    params = CopyParams(template=CopyTemplate(source=source, variables=VARIABLES, name="note"))
    return GenerationRequest(kind="copy", seed=3, locale=locale, brand=BRAND, params=params)


def _audio(**params: object) -> GenerationRequest:
    params_ = AudioParams.model_validate(params)
    return GenerationRequest(kind="audio", seed=5, locale="en", brand=BRAND, params=params_)


NOTE = (
    "{{ name }}: {{ offer }}% off from {{ price | currency(currency) }} until {{ deadline | date('long') }}."
)
PRICE = "{{ price | currency(currency) }}"
IMAGES = {
    "image en-US square": ("en-US", "square", "{{ name }}, {{ offer }}% off", f"From {PRICE}", "Claim"),
    "image ar-EG leaderboard (RTL)": (
        "ar-EG",
        "leaderboard",
        "{{ name }}، خصم {{ offer | number }}٪",
        f"من {PRICE}",
        "احصل عليه",
    ),
    "image he-IL medium-rectangle (RTL)": (
        "he-IL",
        "medium-rectangle",
        "מבצע קיץ: הכל בחצי מחיר",
        "משלוח חינם",
        "לקנייה",
    ),
    "image ja-JP skyscraper (CJK)": (
        "ja-JP",
        "skyscraper",
        "{{ name }}さん、冬の{{ offer }}%オフ",
        "{{ deadline | date }}まで。",
        "今すぐ",
    ),
    "image zh-CN link (CJK)": (
        "zh-CN",
        "landscape",
        "夏季大促：心仪好物半价",
        "满200元包邮，活动截至周日。",
        "立即购买",
    ),
}
CASES: dict[str, tuple[Callable[[], Engine], GenerationRequest]] = {
    **{
        case: (ImageCompositor, _image(loc, FORMATS[fmt], *texts))
        for case, (loc, fmt, *texts) in IMAGES.items()
    },
    "copy de-DE": (CopyEngine, _copy("de-DE", NOTE)),
    "copy ar-EG (native digits)": (CopyEngine, _copy("ar-EG", NOTE)),
    "copy ja-JP": (CopyEngine, _copy("ja-JP", NOTE)),
    "audio wav 2.5 s": (SoundLogo, _audio()),
    "audio flac 3 s": (SoundLogo, _audio(format="flac", seconds=3.0)),
}


def _generate(case: str) -> tuple[Engine, Artifact]:
    make, request = CASES[case]
    engine = make()
    return engine, engine.generate(request)


def _recorded() -> dict[str, dict[str, dict[str, str]]]:
    data: dict[str, dict[str, dict[str, str]]] = json.loads(GOLDEN.read_text())
    return data


@pytest.mark.parametrize("case", list(CASES))
def test_bytes_match_the_golden_digest_of_the_engine_version(case: str) -> None:
    engine, artifact = _generate(case)
    digests = _recorded().get(engine.name, {}).get(engine.version)
    assert digests is not None and case in digests, (
        f"no golden digest for {engine.name} {engine.version} ({case!r}): a new engine version records "
        "its digests (python -m tests.engines.test_golden) and commits golden.json"
    )
    assert hashlib.sha256(artifact.data).hexdigest() == digests[case], (
        f"{engine.name} {engine.version} now makes different bytes for {case!r} (a Pillow, font, numpy, "
        "libsndfile or Babel change?). Bump the engine version (job keys include it, so workspaces "
        "regenerate instead of keeping old bytes under an unchanged key), or explain in the commit why "
        "the bytes may change under the same version; then record the digests (python -m "
        "tests.engines.test_golden)"
    )


def test_a_byte_change_under_the_same_version_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a library upgrade looks like to the check: the encoder writes other bytes (here a
    different zlib level) while the engine version stays."""
    from mintloom.engines import image

    monkeypatch.setattr(image, "PNG_COMPRESS_LEVEL", 9)
    engine, artifact = _generate("image en-US square")
    golden = _recorded()[engine.name][engine.version]["image en-US square"]
    assert hashlib.sha256(artifact.data).hexdigest() != golden


def record() -> None:
    """Write the current engines' digests into golden.json (older versions kept)."""
    recorded = _recorded() if GOLDEN.exists() else {}
    for case in CASES:
        engine, artifact = _generate(case)
        versions = recorded.setdefault(engine.name, {})
        versions.setdefault(engine.version, {})[case] = hashlib.sha256(artifact.data).hexdigest()
    GOLDEN.write_text(json.dumps(recorded, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    record()
