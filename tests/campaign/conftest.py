"""A small campaign (2 segments × 2 locales × 3 formats) written into a temp folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lumen"

SPEC = """\
campaign: tiny
seed: 7
brand:
  name: Lumen
  palette: ["#1d3557", "#e63946", "#f1faee"]
  logo: logo.png
  messages:
    en-US:
      headline: "{{ name }}, {{ offer }}% off"
      body: "From {{ price | currency(currency) }} in {{ city }}"
      cta: "Claim"
    ar-EG:
      headline: "{{ name }}، خصم {{ offer }}٪"
      body: "من {{ price | currency(currency) }} في {{ city }}"
      cta: "احصل عليه"
audience: audience.csv
locales: [en-US, ar-EG]
formats: [square, leaderboard, medium-rectangle]
copy:
  templates:
    note: "{{ name }}: {{ offer }}% until {{ deadline | date }}"
audio:
  enabled: true
"""

AUDIENCE = """segment,name,city,offer,currency,price,deadline
students,Alex,Berlin,15,EUR,3.90,2026-12-31
runners,Casey,Osaka,18,JPY,520,2027-01-05
"""


def write_campaign(folder: Path, spec: str = SPEC, audience: str = AUDIENCE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "brand" / "logo.png", folder / "logo.png")
    (folder / "audience.csv").write_text(audience, encoding="utf-8")
    path = folder / "campaign.yaml"
    path.write_text(spec, encoding="utf-8")
    return path


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    return write_campaign(tmp_path / "campaign")
