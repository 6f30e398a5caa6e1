"""Font files for the compositor, chosen by script.

The fonts are the OFL Noto families shipped as TTF files by the ``@expo-google-fonts/noto-sans*``
npm packages, which ``make setup`` installs into ``node_modules`` (see package.json); a built wheel
carries copies with their licences in its package data. Nothing is downloaded at run time.
``MINTLOOM_FONT_DIR`` may point at another folder holding the same file names
(``NotoSansJP_700Bold.ttf`` ...); see :mod:`mintloom.resources` for the lookup order.

Complex-script shaping (Arabic joining, bidi reordering) needs Pillow's raqm layout, which
Pillow's own wheels bundle; it loads the system ``libfribidi.so.0`` (Debian ``libfribidi0``).
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path
from typing import Literal

from PIL import ImageFont, features

from mintloom.errors import EngineError
from mintloom.resources import ENV_FONTS, FONT_PACKAGES, FONT_WEIGHTS, font_dirs, font_file

Script = Literal["latin", "arabic", "hebrew", "ja", "zh", "ko"]
Weight = Literal["regular", "bold"]

RTL_LANGUAGES = frozenset({"ar", "he", "iw", "fa", "ur", "yi", "ps", "sd", "ug", "ckb"})
CJK_LANGUAGES = frozenset({"ja", "zh", "ko"})


def language_of(locale: str) -> str:
    """The primary language subtag of a BCP 47 tag ('pt-BR' -> 'pt')."""
    return locale.replace("_", "-").split("-", 1)[0].lower()


def is_rtl_locale(locale: str) -> bool:
    return language_of(locale) in RTL_LANGUAGES


def is_cjk_char(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF  # kana
        or 0x3400 <= cp <= 0x4DBF  # CJK ext A
        or 0x4E00 <= cp <= 0x9FFF  # CJK unified
        or 0xF900 <= cp <= 0xFAFF  # compatibility ideographs
        or 0xAC00 <= cp <= 0xD7AF  # hangul syllables
        or 0x1100 <= cp <= 0x11FF  # hangul jamo
        or 0x3000 <= cp <= 0x303F  # CJK punctuation
        or 0xFF00 <= cp <= 0xFFEF  # full-width forms
        or 0x20000 <= cp <= 0x2FFFF
    )


def _char_script(ch: str, lang: str) -> Script | None:
    """The script a character needs (Han by the locale's language), or None for Latin and the rest."""
    cp = ord(ch)
    if 0x0600 <= cp <= 0x06FF or 0x0750 <= cp <= 0x077F or 0xFB50 <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFF:
        return "arabic"
    if 0x0590 <= cp <= 0x05FF or 0xFB1D <= cp <= 0xFB4F:
        return "hebrew"
    if 0x3040 <= cp <= 0x30FF:
        return "ja"
    if 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
        return "ko"
    if is_cjk_char(ch):
        return "ja" if lang == "ja" else "ko" if lang == "ko" else "zh"
    return None


_BY_LANG: dict[str, Script] = {
    "ar": "arabic",
    "fa": "arabic",
    "ur": "arabic",
    "he": "hebrew",
    "iw": "hebrew",
    "yi": "hebrew",
    "ja": "ja",
    "zh": "zh",
    "ko": "ko",
}


def script_for(text: str, locale: str) -> Script:
    """Pick the font family for ``text`` in ``locale``: by the characters first, then the locale."""
    lang = language_of(locale)
    counts: dict[Script, int] = {}
    for ch in text:
        s = _char_script(ch, lang)
        if s is not None:
            counts[s] = counts.get(s, 0) + 1
    if counts:
        # kana anywhere means Japanese even when kanji dominate
        if "ja" in counts and "zh" in counts:
            counts["ja"] += counts.pop("zh")
        return max(sorted(counts), key=lambda k: counts[k])
    return _BY_LANG.get(lang, "latin")


@functools.cache
def font_path(script: Script, weight: Weight = "regular") -> Path:
    """The TTF file for ``script`` at ``weight``; :class:`EngineError` when not installed."""
    package, folder, filename = FONT_PACKAGES[script][0], FONT_WEIGHTS[weight], font_file(script, weight)
    for root in font_dirs():
        for candidate in (root.path / package / folder / filename, root.path / filename):
            if candidate.is_file():
                return candidate
    raise EngineError(
        f"font {filename} for script {script!r} is not installed",
        hint="in a checkout run `make setup` (npm installs @expo-google-fonts/* into node_modules); "
        f"an installed wheel ships them (reinstall it); or set {ENV_FONTS} to a folder of the Noto TTF files",
    )


def has_raqm() -> bool:
    return bool(features.check("raqm"))


@functools.lru_cache(maxsize=512)
def load_font(script: Script, weight: Weight, size: int) -> ImageFont.FreeTypeFont:
    """A FreeType font with raqm layout (bidi + shaping); cached per size."""
    if not has_raqm():
        raise EngineError(
            "Pillow was built without raqm text layout: Arabic/Hebrew cannot be shaped",
            hint="install Pillow's manylinux wheel (it bundles libraqm) and the system fribidi "
            "library (Debian: apt-get install libfribidi0)",
        )
    return ImageFont.truetype(str(font_path(script, weight)), size, layout_engine=ImageFont.Layout.RAQM)


def is_break_opportunity_before(ch: str) -> bool:
    """False for characters that must not start a line (kinsoku: closing punctuation, small kana)."""
    if ch in "、。，．・：；？！ー」』）】〕〉》”’ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ,.!?:;)]}%":
        return False
    return unicodedata.category(ch) not in ("Pe", "Pf", "Mn")
