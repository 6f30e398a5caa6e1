"""Metadata tagging: searchable tags, per-locale alt text and the XMP an asset is signed with.

Tags are derived, never typed in: named dominant colours, the script, language and reading
direction of the text, the aspect family and format, the output kind, engine and model. Alt text
comes from the copy — but from the brand's *template* copy (expressions shown as "…") whenever the
messages are personalised, so neither the XMP nor the tags carry an audience value — led, in the
caption model's language, by what a captioning model saw (unless it repeats an audience value).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from mintloom.campaign.plan import Job
from mintloom.campaign.spec import TEXT_FIELDS, CampaignSpec
from mintloom.engines.base import Artifact
from mintloom.engines.colour import FloatArray, ciede2000, srgb_to_lab
from mintloom.engines.fonts import is_rtl_locale, language_of, script_for
from mintloom.engines.image import layout_class
from mintloom.engines.params import ImageParams
from mintloom.provenance.xmp import AssetMetadata

BASIC_COLOURS: dict[str, str] = {
    "black": "#000000",
    "charcoal": "#36454f",
    "grey": "#808080",
    "silver": "#c0c0c0",
    "white": "#ffffff",
    "cream": "#fffdd0",
    "beige": "#e8d8b0",
    "brown": "#7b4a24",
    "maroon": "#800000",
    "red": "#e0303a",
    "pink": "#f4a6c0",
    "orange": "#ff8c00",
    "yellow": "#ffd700",
    "olive": "#808000",
    "green": "#2e8b3a",
    "teal": "#008080",
    "light-blue": "#a9d6e5",
    "sky-blue": "#6cb4e4",
    "steel-blue": "#4682b4",
    "blue": "#1f4fd8",
    "navy": "#1b2a5a",
    "purple": "#7b2d8e",
}
"""The colour words tags use (searchable as ``colour:navy``), named by CIEDE2000 nearness."""
MIN_COLOUR_SHARE = 0.08
"""A dominant colour names the asset when it covers at least this share of it."""
_SCRIPTS = {"latin": "Latn", "arabic": "Arab", "hebrew": "Hebr", "ja": "Jpan", "zh": "Hani", "ko": "Kore"}
_EXPRESSION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


class Tagged(BaseModel):
    """An asset's tags (key → values) and alt text (locale → text, its own locale first)."""

    model_config = ConfigDict(frozen=True)
    tags: dict[str, tuple[str, ...]]
    alt_text: dict[str, str]


@functools.cache
def _basic_lab() -> tuple[tuple[str, ...], FloatArray]:
    names = tuple(BASIC_COLOURS)
    rgb = np.array([[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in BASIC_COLOURS.values()])
    return names, srgb_to_lab(rgb)


def colour_name(hex_colour: str) -> str:
    """The basic colour word nearest ``#rrggbb`` in CIEDE2000."""
    return colour_names([hex_colour])[0]


def colour_names(hex_colours: Sequence[str]) -> list[str]:
    """:func:`colour_name` of each colour, compared with the basic colours in one CIEDE2000 call
    (an asset names a few colours: one call per colour was most of tagging's time). Each colour's
    CIELAB is converted on its own, as :func:`colour_name` always did."""
    if not hex_colours:
        return []
    names, labs = _basic_lab()
    lab = np.stack([srgb_to_lab(np.array([int(h[i : i + 2], 16) for i in (1, 3, 5)])) for h in hex_colours])
    return [names[int(i)] for i in ciede2000(lab[:, None, :], labs[None, :, :]).argmin(axis=1)]


def _colours(art: Artifact) -> list[str]:
    colours = art.tags.get("colors")
    named = [
        str(c["hex"])
        for c in (colours if isinstance(colours, list) else [])
        if isinstance(c, dict) and float(c.get("share", 0)) >= MIN_COLOUR_SHARE
    ]
    found: list[str] = []
    for name in colour_names(named):
        if name not in found:
            found.append(name)
    return found


def _text_of(art: Artifact) -> str:
    text = art.tags.get("text")
    if isinstance(text, dict):
        return " ".join(str(v) for v in text.values())
    return text if isinstance(text, str) else ""


def is_personalised(spec: CampaignSpec, locale: str) -> bool:
    """Whether the locale's ad messages read audience values (any template expression)."""
    messages = spec.brand.messages.get(locale, {})
    return any("{" in messages.get(f, "") for f in TEXT_FIELDS)


def neutral(template: str) -> str:
    """A template's fixed words, each expression shown as "…" (no audience value)."""
    text = _EXPRESSION.sub("…", template)
    return re.sub(r"\s+", " ", text).strip()


def _ad_alt(spec: CampaignSpec, locale: str, texts: dict[str, str] | None) -> str:
    """ "Brand ad: headline — body (CTA)", from the rendered copy or, when personalised, the template."""
    messages = spec.brand.messages.get(locale, {})
    if texts is None or is_personalised(spec, locale):
        texts = {f: neutral(messages.get(f, "")) for f in TEXT_FIELDS}
    parts = [texts.get("headline", ""), texts.get("body", "")]
    line = " — ".join(p for p in parts if p)
    cta = texts.get("cta")
    return f"{spec.brand.name}: {line}" + (f" ({cta})" if cta else "")


def audience_values(job: Job) -> set[str]:
    """The job's segment name and every audience value its request reads (message and hero
    prompt variables), casefolded: what no caption may repeat."""
    params = job.request.params
    values: list[object] = [job.segment] if job.segment else []
    if isinstance(params, ImageParams):
        values += list(params.variables.values())
        if params.hero is not None:
            values += list(params.hero.prompt.variables.values())
    return {str(v).casefold() for v in values if str(v).strip()}


def safe_caption(caption: str | None, job: Job) -> str | None:
    """The caption, or None when it is empty or repeats an audience value as a word: a model
    that reads the personalised copy off the pixels must not carry it into the XMP."""
    text = (caption or "").strip()
    folded = text.casefold()
    for value in audience_values(job):
        if re.search(rf"(?<!\w){re.escape(value)}(?!\w)", folded):
            return None
    return text or None


def alt_texts(spec: CampaignSpec, job: Job, art: Artifact, caption: str | None = None) -> dict[str, str]:
    """Alt text per locale for an image ad: its own locale first, then the campaign's others;
    a (safe) caption leads the alt text of the locales in the caption's language."""
    if job.kind != "image" or job.locale is None:
        return {}
    rendered = art.tags.get("text")
    own = {str(k): str(v) for k, v in rendered.items()} if isinstance(rendered, dict) else None
    out = {job.locale: _ad_alt(spec, job.locale, own)}
    for loc in spec.locales:
        out.setdefault(loc, _ad_alt(spec, loc, None))
    described = safe_caption(caption, job)
    if described is not None and spec.captions is not None:
        language = spec.captions.language
        described = described[0].upper() + described[1:]
        out = {
            loc: f"{described}. {text}" if language_of(loc) == language else text for loc, text in out.items()
        }
    return out


def tag(spec: CampaignSpec, job: Job, art: Artifact, caption: str | None = None) -> Tagged:
    """The tags and alt text of one asset (``caption``: the captioning model's description)."""
    tags: dict[str, tuple[str, ...]] = {
        "campaign": (spec.campaign,),
        "kind": (job.kind,),
        "engine": (art.engine,),
        "model": (art.model_id or "none",),
    }
    if job.locale:
        rtl = is_rtl_locale(job.locale)
        tags |= {"locale": (job.locale,), "lang": (language_of(job.locale),)}
        text = _text_of(art)
        if text:
            tags["script"] = (_SCRIPTS[script_for(text, job.locale)],)
            tags["direction"] = ("rtl" if rtl else "ltr",)
    fmt = job.request.format
    if job.kind == "image" and fmt is not None:
        tags |= {"format": (fmt.name,), "aspect": (layout_class(fmt.width, fmt.height),)}
        tags["colour"] = tuple(_colours(art))
    return Tagged(tags={k: v for k, v in tags.items() if v}, alt_text=alt_texts(spec, job, art, caption))


def asset_metadata(spec: CampaignSpec, job: Job, tagged: Tagged, source_type: str) -> AssetMetadata:
    """The XMP an image is signed with: source type, alt text, rights, licensor and credit."""
    rights = spec.rights
    terms = str(spec.governance.terms.get(job.kind, ""))
    return AssetMetadata(
        source_type=source_type,
        alt_text=tagged.alt_text,
        rights=rights.copyright or f"© {spec.brand.name}",
        web_statement=rights.web_statement.format(terms=terms) if rights.web_statement else None,
        licensor=rights.licensor or spec.brand.name,
        licensor_url=rights.licensor_url,
        credit=rights.credit or spec.brand.name,
    )
