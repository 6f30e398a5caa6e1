"""The brand QA gate: the spec's rules applied to an image's measurements.

The worker measures the rendered pixels (:mod:`mintloom.engines.qa`); here each rule of the
spec's ``qa:`` section turns those numbers into findings. An asset failing a *blocking* rule is
held: signed and logged (the log records what was made), but neither exported to ``out/`` nor
published, and listed with its reasons by ``mintloom qa CAMPAIGN``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mintloom.engines.qa import QAMeasurements

QA_REPORT_VERSION = 1


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    blocking: bool = True
    """A failing blocking rule holds the asset; a non-blocking one is reported only."""


class ContrastRule(_Rule):
    """WCAG 2.2 AA contrast (1.4.3): body text 4.5:1, large text 3:1."""

    body: float = Field(default=4.5, ge=1, le=21)
    large: float = Field(default=3.0, ge=1, le=21)


class OverflowRule(_Rule):
    """Text ink must stay on the canvas and inside the box it was fitted into."""

    tolerance_px: int = Field(default=1, ge=0)


class LogoRule(_Rule):
    min_px: int = Field(default=16, ge=1)
    """The logo's shorter side, at least."""
    clear_space: float = Field(default=0.1, ge=0)
    """Free room around the logo (to text, button and canvas edge), as a share of its height."""


class PaletteRule(_Rule):
    blocking: bool = False
    max_delta_e: float = Field(default=12.0, gt=0)
    """A dominant colour within this CIEDE2000 distance of a palette colour is on-brand."""
    min_share: float = Field(default=0.35, ge=0, le=1)
    """The share of the image in on-brand dominant colours, at least."""


_SMALL = {"headline": 45, "body": 90, "cta": 24}


class CopyLengthRule(_Rule):
    max_chars: dict[str, int] = Field(default_factory=lambda: {"headline": 60, "body": 140, "cta": 30})
    """Characters per text field, for every format not listed in ``formats``."""
    formats: dict[str, dict[str, int]] = Field(
        default_factory=lambda: {f: dict(_SMALL) for f in ("leaderboard", "skyscraper", "medium-rectangle")}
    )
    """Per format name, its own limits (fields not named fall back to ``max_chars``)."""

    def limit(self, fmt: str | None, field: str) -> int | None:
        return self.formats.get(fmt or "", {}).get(field, self.max_chars.get(field))


class ModelLayerRule(_Rule):
    max_cover: float = Field(default=0.0, ge=0, le=1)
    """How much of any text block a model layer may paint over."""


class QASpec(BaseModel):
    """The spec's ``qa:`` section: each rule's thresholds and whether it blocks."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    contrast: ContrastRule = ContrastRule()
    overflow: OverflowRule = OverflowRule()
    logo: LogoRule = LogoRule()
    palette: PaletteRule = PaletteRule()
    copy_length: CopyLengthRule = CopyLengthRule()
    model_layer: ModelLayerRule = ModelLayerRule()


class Finding(BaseModel, frozen=True):
    rule: str
    subject: str
    """What was checked: a text field, 'logo', 'image'."""
    passed: bool
    blocking: bool
    measured: float
    limit: float
    detail: str


class QAReport(BaseModel, frozen=True):
    """One image asset's QA: every finding, the verdict and the measurements behind it."""

    version: int = QA_REPORT_VERSION
    format: str | None
    held: bool
    findings: tuple[Finding, ...]
    measurements: QAMeasurements

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.findings)

    def reasons(self) -> list[str]:
        """Why the asset is held: each failing blocking finding."""
        return [f"{f.rule}: {f.detail}" for f in self.findings if f.blocking and not f.passed]


def _finding(
    rule: _Rule, name: str, *, subject: str, measured: float, limit: float, ok: bool, what: str
) -> Finding:
    return Finding(
        rule=name,
        subject=subject,
        passed=ok,
        blocking=rule.blocking,
        measured=round(measured, 3),
        limit=round(limit, 3),
        detail=what,
    )


def _text_findings(m: QAMeasurements, spec: QASpec, fmt: str | None) -> list[Finding]:
    out: list[Finding] = []
    for t in m.texts:
        need = spec.contrast.large if t.large else spec.contrast.body
        visible = t.ink_share > 0
        kind = "large" if t.large else "body"
        what = (
            f"{t.field} ({kind} text, {t.size}px) contrast {t.contrast:.2f}:1 against the pixels behind it, "
            f"needs {need:.1f}:1"
            if visible
            else f"{t.field}: no pixel of its colour in its box (covered or not drawn)"
        )
        out.append(
            _finding(
                spec.contrast,
                "contrast",
                subject=t.field,
                measured=t.contrast,
                limit=need,
                ok=visible and t.contrast >= need,
                what=what,
            )
        )
        off = max(t.clipped_px, t.overflow_px)
        tol = spec.overflow.tolerance_px
        where = "off the canvas" if t.clipped_px > tol else "outside its box"
        out.append(
            _finding(
                spec.overflow,
                "overflow",
                subject=t.field,
                measured=off,
                limit=tol,
                ok=off <= tol,
                what=f"{t.field} ink {off}px {where}",
            )
        )
        limit = spec.copy_length.limit(fmt, t.field)
        if limit is not None:
            what = f"{t.field} has {t.chars} characters, {fmt or 'this format'} allows {limit}"
            out.append(
                _finding(
                    spec.copy_length,
                    "copy_length",
                    subject=t.field,
                    measured=t.chars,
                    limit=limit,
                    ok=t.chars <= limit,
                    what=what,
                )
            )
    return out


def _logo_findings(m: QAMeasurements, rule: LogoRule) -> list[Finding]:
    if m.logo is None:
        return []
    short = min(m.logo.width, m.logo.height)
    room = rule.clear_space * m.logo.height
    return [
        _finding(
            rule,
            "logo_size",
            subject="logo",
            measured=short,
            limit=rule.min_px,
            ok=short >= rule.min_px,
            what=f"logo {short}px, min {rule.min_px}px",
        ),
        _finding(
            rule,
            "logo_clear_space",
            subject="logo",
            measured=m.logo.clear_px,
            limit=room,
            ok=m.logo.clear_px >= room,
            what=f"{m.logo.clear_px}px clear around the logo, needs {room:.0f}px",
        ),
    ]


def _image_findings(m: QAMeasurements, spec: QASpec) -> list[Finding]:
    rule = spec.palette
    share = sum(c.share for c in m.colours if c.delta_e <= rule.max_delta_e)
    off = [c.hex for c in m.colours if c.delta_e > rule.max_delta_e]
    what = f"{share:.0%} of the image within ΔE00 {rule.max_delta_e:g} of the palette" + (
        f" (off-palette: {', '.join(off)})" if off else ""
    )
    cover = spec.model_layer
    return [
        _finding(
            rule,
            "palette",
            subject="image",
            measured=share,
            limit=rule.min_share,
            ok=share >= rule.min_share,
            what=what,
        ),
        _finding(
            cover,
            "model_layer",
            subject="image",
            measured=m.model_cover,
            limit=cover.max_cover,
            ok=m.model_cover <= cover.max_cover,
            what=f"a model layer covers {m.model_cover:.0%} of a text block",
        ),
    ]


def evaluate(m: QAMeasurements, spec: QASpec, fmt: str | None) -> QAReport:
    """The report of one image: every rule's findings; held when a blocking one fails."""
    findings = [*_text_findings(m, spec, fmt), *_logo_findings(m, spec.logo), *_image_findings(m, spec)]
    held = spec.enabled and any(f.blocking and not f.passed for f in findings)
    return QAReport(format=fmt, held=held, findings=tuple(findings), measurements=m)
