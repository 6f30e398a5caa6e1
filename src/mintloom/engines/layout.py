"""Text layout: tokenising, wrapping and shrink-to-fit for the compositor.

Words wrap at spaces; CJK text breaks between characters (with a small kinsoku rule so closing
punctuation never starts a line). Right-to-left lines are kept in logical order and shaped and
reordered by raqm when drawn, so wrapping never breaks bidi runs apart.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import ImageFont

from mintloom.engines.fonts import Script, Weight, is_break_opportunity_before, is_cjk_char, load_font
from mintloom.errors import LayoutError


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle, half-open: x0 <= x < x1."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def contains(self, other: Box) -> bool:
        return self.x0 <= other.x0 and self.y0 <= other.y0 and other.x1 <= self.x1 and other.y1 <= self.y1

    def intersects(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


@dataclass(frozen=True)
class Token:
    text: str
    space_before: bool
    hard_break_before: bool = False


def tokenize(text: str) -> list[Token]:
    """Split into break units: words, or single CJK characters with following no-break punctuation."""
    tokens: list[Token] = []
    buf = ""
    space = False
    hard = False

    def flush() -> None:
        nonlocal buf, space, hard
        if buf:
            tokens.append(Token(buf, space, hard))
            buf = ""
            space = False
            hard = False

    for ch in text:
        if ch == "\n":
            flush()
            hard = True
            space = False
        elif ch.isspace():
            flush()
            space = bool(tokens) and not hard
        elif is_cjk_char(ch):
            if buf and not is_break_opportunity_before(ch):
                buf += ch  # closing punctuation sticks to what precedes it
                continue
            flush()
            buf = ch
        else:
            if buf and is_cjk_char(buf[-1]) and is_break_opportunity_before(ch):
                flush()
            buf += ch
    flush()
    return tokens


@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[Token, ...]:
    """:func:`tokenize`, once per text: a size search wraps the same text at every size it probes."""
    return tuple(tokenize(text))


@dataclass(frozen=True)
class TextStyle:
    script: Script
    weight: Weight
    direction: str  # 'ltr' | 'rtl'
    language: str


def line_geometry(font: ImageFont.FreeTypeFont, text: str, style: TextStyle) -> tuple[int, int]:
    """(width, overhang): room a line needs, its advance widened by ink overhanging either end,
    and how far ink reaches left of the pen origin (<= 0)."""
    return _geometry((style.script, style.weight, int(font.size), style.direction, style.language), text)


@functools.lru_cache(maxsize=65536)
def _geometry(key: tuple[Script, Weight, int, str, str], text: str) -> tuple[int, int]:
    script, weight, size, direction, language = key
    font = load_font(script, weight, size)
    style = TextStyle(script, weight, direction, language)
    advance = float(font.getlength(text, direction=style.direction, language=style.language))
    left, _, right, _ = font.getbbox(text, direction=style.direction, language=style.language, anchor="ls")
    overhang = min(0, math.floor(left))
    return math.ceil(max(advance, float(right))) - overhang, overhang


def _width(font: ImageFont.FreeTypeFont, text: str, style: TextStyle) -> float:
    return float(line_geometry(font, text, style)[0])


def wrap(
    tokens: Sequence[Token],
    font: ImageFont.FreeTypeFont,
    max_width: int,
    style: TextStyle,
    max_lines: int | None = None,
) -> list[str] | None:
    """Greedy wrap; ``None`` when a single unit is wider than ``max_width`` at this size, or, given
    ``max_lines``, as soon as the text needs more lines (the rest is not measured)."""
    lines: list[str] = []
    current = ""
    if max_lines is not None and max_lines < 1 and tokens:
        return None
    for tok in tokens:
        if _width(font, tok.text, style) > max_width:
            return None
        if not current:
            current = tok.text
            continue
        if tok.hard_break_before:
            lines.append(current)
            current = tok.text
        else:
            candidate = current + (" " if tok.space_before else "") + tok.text
            if _width(font, candidate, style) <= max_width:
                current = candidate
                continue
            lines.append(current)
            current = tok.text
        if max_lines is not None and len(lines) >= max_lines:  # ``current`` is one line too many
            return None
    if current:
        lines.append(current)
    return lines


def line_height(font: ImageFont.FreeTypeFont, spacing: float) -> int:
    """Baseline-to-baseline distance: ``spacing`` em."""
    return max(1, round(font.size * spacing))


def extent(font: ImageFont.FreeTypeFont) -> int:
    """Height of one line box from ascender to descender (where the ink can reach)."""
    ascent, descent = font.getmetrics()
    return int(ascent + descent)


@dataclass(frozen=True)
class FieldSpec:
    """One text field of a stack: ``size = max(min_size, round(base * rel))``."""

    field: str
    text: str
    style: TextStyle
    rel: float
    min_size: int
    spacing: float = 1.2  # line spacing in em


@dataclass(frozen=True)
class Block:
    """A wrapped text field at its final size, before positioning."""

    spec: FieldSpec
    size: int
    lines: tuple[str, ...]
    line_h: int
    width: int
    extent: int  # one line from ascender to descender

    @property
    def height(self) -> int:
        return self.line_h * (len(self.lines) - 1) + self.extent

    @property
    def font(self) -> ImageFont.FreeTypeFont:
        return load_font(self.spec.style.script, self.spec.style.weight, self.size)


def make_block(spec: FieldSpec, size: int, max_width: int, max_height: int | None = None) -> Block | None:
    """``spec`` wrapped at ``size``; None if a unit is wider than ``max_width`` or, given
    ``max_height``, the block would be taller (then wrapping stops there: a size search probes
    many sizes far too large, and each line measured at one is a text layout)."""
    font = load_font(spec.style.script, spec.style.weight, size)
    line_h, ext = line_height(font, spec.spacing), extent(font)
    # n lines are line_h * (n - 1) + ext tall
    max_lines = None if max_height is None else (max_height - ext) // line_h + 1
    lines = wrap(_tokens(spec.text), font, max_width, spec.style, max_lines)
    if lines is None:
        return None
    width = max((round(_width(font, ln, spec.style)) for ln in lines), default=0)
    return Block(spec, size, tuple(lines), line_h, width, ext)


def _gap(blocks: Sequence[Block]) -> int:
    return round(0.45 * blocks[-1].size) if len(blocks) > 1 else 0


def _stack(specs: Sequence[FieldSpec], base: float, box: Box) -> list[Block] | None:
    blocks: list[Block] = []
    room = box.height  # the blocks and the gaps between them (>= 0) must fit: each block the rest
    for spec in specs:
        block = make_block(spec, max(spec.min_size, round(base * spec.rel)), box.width, room)
        if block is None:
            return None
        blocks.append(block)
        room -= block.height
    total = sum(b.height for b in blocks) + _gap(blocks) * (len(blocks) - 1)
    return blocks if total <= box.height else None


def fit_stack(specs: Sequence[FieldSpec], box: Box, max_base: int, where: str) -> list[Block]:
    """The largest sizes at which all ``specs`` stack inside ``box``; :class:`LayoutError` if none.

    ``max_base`` caps the base size (the size of a field with ``rel == 1``).
    """
    specs = [s for s in specs if s.text.strip()]
    if not specs:
        return []
    lo = min(s.min_size / s.rel for s in specs)  # every field at its minimum
    best = _stack(specs, lo, box)
    if best is None:
        raise LayoutError(_blame(specs, box, where), hint="shorten the text or use a larger format")
    lo_i, hi_i = int(lo), max(int(lo), max_base)
    # binary search on the base size; wrapping makes feasibility only nearly monotone, so the
    # search keeps the best feasible stack it saw
    while lo_i < hi_i:
        mid = (lo_i + hi_i + 1) // 2
        found = _stack(specs, mid, box)
        if found is not None:
            best, lo_i = found, mid
        else:
            hi_i = mid - 1
    return best


def _blame(specs: Sequence[FieldSpec], box: Box, where: str) -> str:
    heights: list[tuple[int, str]] = []
    for spec in specs:
        block = make_block(spec, spec.min_size, box.width)
        if block is None or block.height > box.height:
            return (
                f"{spec.field!r} text does not fit {where} even at the minimum size "
                f"{spec.min_size}px (box {box.width}x{box.height}px)"
            )
        heights.append((block.height, spec.field))
    field = max(heights)[1]
    return (
        f"{field!r} text does not fit {where} beside the other text even at the minimum size "
        f"(box {box.width}x{box.height}px)"
    )


def _one_line(
    spec: FieldSpec, text: str, size: int, room: tuple[int, int], pad: tuple[float, float]
) -> Block | None:
    """``text`` on one line at ``size`` px, if it fits ``room`` with ``pad`` (em, each side)."""
    font = load_font(spec.style.script, spec.style.weight, size)
    width = round(_width(font, text, spec.style))
    ext = extent(font)
    px, py = round(2 * pad[0] * size), round(2 * pad[1] * size)
    if width + px > room[0] or ext + py > room[1]:
        return None
    return Block(spec, size, (text,), line_height(font, spec.spacing), width, ext)


def fit_line(
    spec: FieldSpec,
    max_width: int,
    max_height: int,
    *,
    max_size: int,
    where: str,
    pad_x: float = 0.0,
    pad_y: float = 0.0,
) -> Block:
    """One line of text (a button label) at the largest size that fits; :class:`LayoutError` if none.

    ``pad_x``/``pad_y`` (em, each side) must fit too, except at the minimum size, where the
    padding gives way before the label is called unfittable.
    """
    text = "".join((" " if t.space_before else "") + t.text for t in tokenize(spec.text))
    room, pad = (max_width, max_height), (pad_x, pad_y)
    best = _one_line(spec, text, spec.min_size, room, pad)
    if best is None:  # at the minimum size the padding gives way first
        best = _one_line(spec, text, spec.min_size, room, (0.0, 0.0))
    if best is None:
        raise LayoutError(
            f"{spec.field!r} text does not fit {where} on one line even at the minimum size "
            f"{spec.min_size}px (room {max_width}x{max_height}px)",
            hint="shorten the text or use a larger format",
        )
    lo, hi = spec.min_size, max(spec.min_size, max_size)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        found = _one_line(spec, text, mid, room, pad)
        if found is not None:
            best, lo = found, mid
        else:
            hi = mid - 1
    return best
