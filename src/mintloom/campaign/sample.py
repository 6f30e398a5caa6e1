"""A small sample campaign (the Lumen brand of ``examples/``) for tests, benchmarks and trying
mintloom out: ``write_sample_campaign(folder)`` writes ``campaign.yaml``, ``audience.csv`` and the
logo, sized by its arguments."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from mintloom.campaign.examples import example_source

MESSAGES: dict[str, tuple[str, str, str]] = {
    "en-US": ("{{ name }}, {{ offer }}% off", "From {{ price | currency(currency) }} in {{ city }}", "Claim"),
    "ar-EG": (
        "{{ name }}، خصم {{ offer }}٪",
        "من {{ price | currency(currency) }} في {{ city }}",
        "احصل عليه",
    ),
    "de-DE": (
        "{{ name }}, {{ offer }} % Rabatt",
        "Ab {{ price | currency(currency) }} in {{ city }}",
        "Sichern",
    ),
}

AUDIENCE_ROWS = (
    "students,Alex,Berlin,15,EUR,3.90,2026-12-31",
    "runners,Casey,Osaka,18,JPY,520,2027-01-05",
    "makers,Robin,Lyon,12,EUR,4.20,2027-01-10",
    "nightowls,Sam,Austin,20,USD,4.50,2026-12-24",
)


def sample_spec(
    *,
    campaign: str = "tiny",
    seed: int = 7,
    locales: Sequence[str] = ("en-US", "ar-EG"),
    formats: Sequence[str] = ("square", "leaderboard", "medium-rectangle"),
    copy: bool = True,
    audio: bool = True,
) -> str:
    messages = "".join(
        f'    {loc}:\n      headline: "{h}"\n      body: "{b}"\n      cta: "{c}"\n'
        for loc in locales
        for h, b, c in [MESSAGES[loc]]
    )
    text = (
        f"campaign: {campaign}\nseed: {seed}\nbrand:\n  name: Lumen\n"
        '  palette: ["#1d3557", "#e63946", "#f1faee"]\n  logo: logo.png\n  messages:\n'
        f"{messages}audience: audience.csv\nlocales: [{', '.join(locales)}]\n"
        f"formats: [{', '.join(formats)}]\n"
    )
    if copy:
        text += 'copy:\n  templates:\n    note: "{{ name }}: {{ offer }}% until {{ deadline | date }}"\n'
    return text + f"audio:\n  enabled: {'true' if audio else 'false'}\n"


def sample_audience(segments: int = 2) -> str:
    return "segment,name,city,offer,currency,price,deadline\n" + "".join(
        row + "\n" for row in AUDIENCE_ROWS[:segments]
    )


def logo_path() -> Path:
    return example_source("lumen") / "brand" / "logo.png"


def write_sample_campaign(folder: Path, spec: str | None = None, audience: str | None = None) -> Path:
    """Write a campaign folder; returns the path of its ``campaign.yaml``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(logo_path(), folder / "logo.png")
    (folder / "audience.csv").write_text(
        audience if audience is not None else sample_audience(), encoding="utf-8"
    )
    path = folder / "campaign.yaml"
    path.write_text(spec if spec is not None else sample_spec(), encoding="utf-8")
    return path


DYNAMIC_SECTION = """dynamic:
  formats: [medium-rectangle, square]
  variables:
    weather: {type: enum, values: [sunny, rainy, snowy, %(long)s], default: sunny, feeds: [headline]}
    offer: {type: int, min: 0, max: 90, default: 10, feeds: [headline]}
    price: {type: float, min: 0, max: 10000, default: 4.5, feeds: [body]}
    currency: {type: enum, values: [EUR, USD], default: EUR, feeds: [body]}
    in_stock: {type: bool, default: true, feeds: [cta]}
  fallback: {weather: sunny, offer: 0}
"""
LONG_WEATHER = "thunderstorms with hail and gusts up to ninety km/h"
"""An allowed value whose headline passes the medium rectangle's copy-length QA limit (held)."""
UNLAYABLE_WEATHER = "thunderstorms-with-hail-and-gusts-up-to-ninety-kilometres"
"""An allowed value whose one long word fits no line of the medium rectangle (a layout error)."""


def dynamic_sample_spec(campaign: str = "live", extra_values: Sequence[str] = ()) -> str:
    """A one-locale image campaign rendered on request from weather, offer, price, currency and
    stock (``extra_values``: more allowed weather values)."""
    values = ", ".join([f'"{LONG_WEATHER}"', UNLAYABLE_WEATHER, *extra_values])
    return (
        f"campaign: {campaign}\nseed: 3\nbrand:\n  name: Lumen\n"
        '  palette: ["#1d3557", "#e63946", "#f1faee"]\n  logo: logo.png\n  messages:\n    en-US:\n'
        '      headline: "{{ weather }}: {{ offer }}% off"\n'
        '      body: "From {{ price | currency(currency) }}"\n'
        "      cta: \"{{ 'Claim' if in_stock == 'true' else 'Notify me' }}\"\n"
        "audience: audience.csv\nlocales: [en-US]\nformats: [medium-rectangle, square]\n"
        "master: square\naudio:\n  enabled: false\n" + DYNAMIC_SECTION % {"long": values}
    )
