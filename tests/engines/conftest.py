"""Shared brand fixtures for the engine tests."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from mintloom.engines.base import BrandStyle


@pytest.fixture(scope="session")
def logo_png() -> bytes:
    logo = Image.new("RGBA", (240, 96), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    draw.ellipse((0, 0, 95, 95), fill="#ffffff")
    draw.rounded_rectangle((110, 30, 239, 66), 10, fill="#ffffff")
    buf = io.BytesIO()
    logo.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def brand(logo_png: bytes) -> BrandStyle:
    return BrandStyle(palette=("#0b3d91", "#1e88e5", "#ffb300", "#fafafa"), logo_png=logo_png, tone="playful")
