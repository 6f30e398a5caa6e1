from __future__ import annotations

import hashlib
import io
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mintloom.engines.base import FORMATS, BrandStyle, Format, GenerationRequest
from mintloom.engines.fonts import load_font, script_for
from mintloom.engines.image import (
    Composition,
    ImageCompositor,
    Recipe,
    contrast_ratio,
    layout_facts,
    nearest_css_name,
    relative_luminance,
)
from mintloom.engines.layout import Box, tokenize
from mintloom.engines.params import ImageParams
from mintloom.engines.qa import is_large_text, text_contrast
from mintloom.errors import EngineError, LayoutError

EN = {
    "headline": "Summer sale: everything you love, half the price",
    "body": "Free delivery on orders over $50. Ends Sunday.",
    "cta": "Shop now",
}
AR = {
    "headline": "تخفيضات الصيف: كل ما تحبه بنصف السعر",
    "body": "توصيل مجاني للطلبات فوق ٥٠ دولارًا. ينتهي العرض يوم الأحد.",
    "cta": "تسوق الآن",
}
HE = {"headline": "מבצע קיץ: הכל בחצי מחיר", "body": "משלוח חינם בהזמנות מעל 200 ₪", "cta": "לקנייה"}
JA = {
    "headline": "夏のセール：お気に入りが半額に",
    "body": "5,000円以上のご注文で送料無料。日曜日まで。",
    "cta": "今すぐ購入",
}
ZH = {"headline": "夏季大促：心仪好物半价", "body": "满200元包邮，活动截至周日。", "cta": "立即购买"}
KO = {"headline": "여름 세일: 좋아하는 모든 것을 반값에", "body": "5만원 이상 무료 배송", "cta": "지금 구매"}

CASES = [("en-US", EN), ("ar-EG", AR), ("he-IL", HE), ("ja-JP", JA), ("zh-CN", ZH), ("ko-KR", KO)]


def request(
    brand: BrandStyle, fmt: Format, locale: str = "en-US", texts: dict[str, str] = EN, seed: int = 7
) -> GenerationRequest:
    return GenerationRequest(
        kind="image", seed=seed, locale=locale, brand=brand, format=fmt, params=ImageParams(**texts)
    )


def test_generate_is_deterministic(brand: BrandStyle) -> None:
    eng = ImageCompositor()
    req = request(brand, FORMATS["square"])
    a, b = eng.generate(req), eng.generate(req)
    assert a.data == b.data
    assert a.data[:8] == b"\x89PNG\r\n\x1a\n"
    # a second engine instance, too
    assert ImageCompositor().generate(req).data == a.data
    assert a.media_type == "image/png" and a.extension == "png"
    assert a.engine == "compositor" and a.seed == 7
    assert a.digital_source_type == "algorithmicMedia"


def test_model_written_messages_make_a_composite_naming_the_model(brand: BrandStyle) -> None:
    """Same pixels as the procedural ad, but the text is a model's: the label and model say so,
    and the job key changes only for ads that have a messages model."""
    plain = request(brand, FORMATS["square"])
    params = ImageParams(**EN, messages_model="acme/ad-writer-7b")
    written = plain.model_copy(update={"params": params})
    a, b = ImageCompositor().generate(plain), ImageCompositor().generate(written)
    assert a.data == b.data
    assert (a.digital_source_type, a.model_id) == ("algorithmicMedia", None)
    assert b.digital_source_type == "compositeWithTrainedAlgorithmicMedia"
    assert b.model_id == "acme/ad-writer-7b"
    unset = ImageParams(**EN).key_fields()["params"]
    assert isinstance(unset, dict) and "messages_model" not in unset
    assert ImageParams(**EN).key_fields() != params.key_fields()


def test_png_has_no_metadata_chunks(brand: BrandStyle) -> None:
    data = ImageCompositor().generate(request(brand, FORMATS["leaderboard"])).data
    pos, chunks = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    assert set(chunks) <= {b"IHDR", b"IDAT", b"IEND"}


def test_different_seeds_differ(brand: BrandStyle) -> None:
    eng = ImageCompositor()
    a = eng.generate(request(brand, FORMATS["square"], seed=1))
    b = eng.generate(request(brand, FORMATS["square"], seed=2))
    assert a.data != b.data


@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=list(FORMATS))
@pytest.mark.parametrize(("locale", "texts"), CASES, ids=[c[0] for c in CASES])
def test_every_format_lays_text_inside_the_canvas(
    brand: BrandStyle, fmt: Format, locale: str, texts: dict[str, str]
) -> None:
    eng = ImageCompositor()
    comp = eng.compose(request(brand, fmt, locale, texts))
    assert comp.image.size == (fmt.width, fmt.height)
    canvas = Box(0, 0, fmt.width, fmt.height)
    placed = {p.field: p for p in comp.texts}
    assert set(placed) == {"headline", "body", "cta"}
    for p in comp.texts:
        assert canvas.contains(p.ink), (p.field, p.ink)
        if p.field != "cta":
            assert p.region.contains(p.ink), (p.field, p.region, p.ink)
    assert comp.button is not None
    assert comp.template.cta.contains(comp.button)
    assert comp.button.contains(placed["cta"].ink)
    # fields never overlap each other or the logo
    boxes = [p.ink for p in comp.texts] + ([comp.logo] if comp.logo else [])
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.intersects(b), (a, b)
    # text is legible: WCAG AA large-text contrast at least
    for p in comp.texts:
        assert p.size >= 9


def test_artifact_tags(brand: BrandStyle) -> None:
    art = ImageCompositor().generate(request(brand, FORMATS["landscape"], "de-DE"))
    tags = art.tags
    assert tags["dimensions"] == {"width": 1200, "height": 628}
    assert tags["locale"] == "de-DE"
    assert tags["engine"] == "compositor"
    assert tags["text"] == EN
    colors = tags["colors"]
    assert isinstance(colors, list) and 1 <= len(colors) <= 4
    for c in colors:
        assert isinstance(c["name"], str) and c["hex"].startswith("#") and len(c["hex"]) == 7
    assert art.parameters.layout == "landscape"
    img = Image.open(io.BytesIO(art.data))
    assert img.size == (1200, 628) and img.mode == "RGB"


def test_recipe_depends_on_seed_and_palette_only() -> None:
    a = Recipe.from_seed(5, ("#112233", "#445566", "#778899"))
    b = Recipe.from_seed(5, ("#112233", "#445566", "#778899"))
    assert a.summary() == b.summary() and np.array_equal(a.noise, b.noise)
    assert Recipe.from_seed(6, ("#112233", "#445566", "#778899")).summary() != a.summary()


def test_layout_error_names_the_field(brand: BrandStyle) -> None:
    long = " ".join(["Unbelievable"] * 120)
    with pytest.raises(LayoutError, match="'headline'") as exc:
        ImageCompositor().generate(request(brand, FORMATS["leaderboard"], texts={**EN, "headline": long}))
    assert "728x90" in str(exc.value)
    with pytest.raises(LayoutError, match="'cta'"):
        ImageCompositor().generate(
            request(
                brand, FORMATS["skyscraper"], texts={**EN, "cta": "Click here to claim your discount today"}
            )
        )
    with pytest.raises(LayoutError, match="'body'"):
        ImageCompositor().generate(
            request(brand, FORMATS["medium-rectangle"], texts={**EN, "body": "Words " * 400})
        )


def test_wrong_kind_and_tiny_format(brand: BrandStyle) -> None:
    with pytest.raises(EngineError):
        ImageCompositor().generate(
            GenerationRequest(kind="copy", seed=1, locale="en", brand=brand, params=ImageParams(**EN))
        )
    with pytest.raises(EngineError, match="too small"):
        ImageCompositor().generate(request(brand, Format(name="tiny", width=20, height=20)))


def _text_pixels(brand: BrandStyle, locale: str, texts: dict[str, str], field: str) -> np.ndarray:
    comp = ImageCompositor().compose(request(brand, FORMATS["square"], locale, texts))
    ink = next(p.ink for p in comp.texts if p.field == field)
    return np.asarray(comp.image.crop((ink.x0, ink.y0, ink.x1, ink.y1)).convert("L"), dtype=np.int16)


@pytest.mark.parametrize(("locale", "texts"), CASES[1:], ids=[c[0] for c in CASES[1:]])
def test_complex_scripts_render_real_glyphs(brand: BrandStyle, locale: str, texts: dict[str, str]) -> None:
    # the headline area is not blank: strong light/dark structure from glyphs
    crop = _text_pixels(brand, locale, texts, "headline")
    assert crop.size > 0 and crop.std() > 20
    # and none of the characters is tofu: each glyph differs from the font's .notdef
    script = script_for(texts["headline"], locale)
    font = load_font(script, "bold", 48)

    def glyph(ch: str) -> bytes:
        im = Image.new("L", (96, 96))
        ImageDraw.Draw(im).text((16, 16), ch, font=font, fill=255)
        return im.tobytes()

    notdef = glyph("\U000f0000")  # an unassigned private-use code point renders as .notdef
    blank = glyph(" ")
    for ch in sorted(set(texts["headline"]) - {" "}):
        drawn = glyph(ch)
        assert drawn != notdef, (locale, ch)
        assert drawn != blank, (locale, ch)


def test_rtl_text_is_right_aligned_and_shaped(brand: BrandStyle) -> None:
    comp = ImageCompositor().compose(request(brand, FORMATS["square"], "ar-EG", AR))
    head = next(p for p in comp.texts if p.field == "headline")
    # start-aligned layouts hug the right edge in RTL
    assert head.region.x1 - head.ink.x1 <= 4
    assert head.region.x1 > comp.image.width // 2
    # shaping: joined Arabic is narrower than the same letters in isolated forms
    font = load_font("arabic", "bold", 40)
    word = "تخفيضات"
    joined = font.getlength(word, direction="rtl", language="ar")
    isolated = sum(font.getlength(c, direction="rtl", language="ar") for c in word)
    assert joined < isolated
    # bidi: the first logical character is drawn at the right end
    first = font.getmask("ت").getbbox()
    assert first is not None


def test_rtl_mirrors_the_layout(brand: BrandStyle) -> None:
    ltr = ImageCompositor().compose(request(brand, FORMATS["landscape"], "en", EN))
    rtl = ImageCompositor().compose(request(brand, FORMATS["landscape"], "he-IL", HE))
    assert ltr.template.text.x0 == 1200 - rtl.template.text.x1
    assert ltr.logo is not None and rtl.logo is not None
    assert ltr.logo.x0 < 600 < rtl.logo.x1


def test_cjk_wraps_by_character() -> None:
    tokens = tokenize("夏のセール：お気に入り。")
    assert [t.text for t in tokens][:4] == ["夏", "の", "セー", "ル："]  # 'ー' and '：' never start a line
    # closing punctuation never starts a line
    assert all(t.text[0] not in "。：、" for t in tokens)
    latin = tokenize("Shop the summer sale")
    assert [t.text for t in latin] == ["Shop", "the", "summer", "sale"]
    assert [t.space_before for t in latin] == [False, True, True, True]
    mixed = tokenize("Summer セール now")
    assert [t.text for t in mixed] == ["Summer", "セー", "ル", "now"]


def test_text_colour_contrasts_with_background(brand: BrandStyle) -> None:
    for seed in range(6):
        comp = ImageCompositor().compose(request(brand, FORMATS["square"], seed=seed))
        for p in comp.texts:
            if p.field == "cta":
                continue
            crop = comp.image.crop((p.region.x0, p.ink.y0, p.region.x1, p.ink.y1))
            mean = tuple(int(v) for v in np.asarray(crop).reshape(-1, 3).mean(axis=0))
            txt = tuple(int(p.colour[i : i + 2], 16) for i in (1, 3, 5))
            ratio = contrast_ratio(relative_luminance(txt), relative_luminance(mean))  # type: ignore[arg-type]
            assert ratio >= 3.0, (seed, p.field, p.colour, mean)


def test_nearest_css_name() -> None:
    assert nearest_css_name((255, 0, 0)) == "red"
    assert nearest_css_name((250, 250, 250)) in {"snow", "whitesmoke", "white", "ghostwhite", "seashell"}
    assert nearest_css_name((11, 61, 145)) in {
        "darkslateblue",
        "midnightblue",
        "navy",
        "darkblue",
        "royalblue",
    }


def test_logo_is_placed_and_bad_logo_rejected(brand: BrandStyle) -> None:
    comp = ImageCompositor().compose(request(brand, FORMATS["square"]))
    assert comp.logo is not None and comp.template.logo.contains(comp.logo)
    bad = brand.model_copy(update={"logo_png": b"not a png"})
    with pytest.raises(EngineError, match="logo"):
        ImageCompositor().generate(request(bad, FORMATS["square"]))


def test_hashes_are_stable_across_formats(brand: BrandStyle) -> None:
    eng = ImageCompositor()
    digests = {
        name: hashlib.sha256(eng.generate(request(brand, f)).data).hexdigest() for name, f in FORMATS.items()
    }
    again = {
        name: hashlib.sha256(eng.generate(request(brand, f)).data).hexdigest() for name, f in FORMATS.items()
    }
    assert digests == again
    assert len(set(digests.values())) == len(FORMATS)


def test_nearest_css_name_is_the_one_at_a_time_minimum() -> None:
    """The vectorised search names the same colour as comparing one CSS colour at a time (ties,
    like aqua and cyan, to the first name): the distances are exact in floating point."""
    from mintloom.engines.image import _css_colours

    def one_at_a_time(rgb: tuple[int, int, int]) -> str:
        def dist(c: tuple[int, int, int]) -> float:
            rmean = (rgb[0] + c[0]) / 2
            dr, dg, db = rgb[0] - c[0], rgb[1] - c[1], rgb[2] - c[2]
            return (2 + rmean / 256) * dr * dr + 4 * dg * dg + (2 + (255 - rmean) / 256) * db * db

        return min(_css_colours(), key=lambda nc: (dist(nc[1]), nc[0]))[0]

    rng = random.Random(14)
    colours = [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(3000)]
    colours += [c for _, c in _css_colours()]  # exact hits, and the duplicated CSS colours
    assert [nearest_css_name(c) for c in colours] == [one_at_a_time(c) for c in colours]


def test_region_luminances_read_the_srgb_curve_from_a_table_with_the_same_values() -> None:
    """The text colour is picked from the luminance percentiles behind the text: looked up per
    channel value (and both percentiles in one call), they are the values computed per pixel."""
    import math

    from mintloom.engines.image import _region_luminances

    def per_pixel(img: Image.Image, box: Box) -> tuple[float, float, float]:
        crop = img.crop((box.x0, box.y0, box.x1, box.y1)).convert("RGB")
        if crop.width * crop.height > 4096:
            f = math.sqrt(crop.width * crop.height / 4096)
            size = (max(1, round(crop.width / f)), max(1, round(crop.height / f)))
            crop = crop.resize(size, Image.Resampling.BOX)
        arr = np.asarray(crop, dtype=np.float64) / 255.0
        lin = np.where(arr <= 0.04045, arr / 12.92, ((arr + 0.055) / 1.055) ** 2.4)
        lum = lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722
        return float(np.percentile(lum, 5)), float(lum.mean()), float(np.percentile(lum, 95))

    rng, pick = np.random.default_rng(14), random.Random(14)
    for i in range(120):
        w, h = pick.randrange(8, 700), pick.randrange(8, 260)
        arr = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        if i % 2:  # a gradient, like the backgrounds
            arr[..., :3] = (np.linspace(0, 255, w)[None, :, None] * rng.random(3)).astype(np.uint8)
        img = Image.fromarray(arr, "RGBA")
        x0, y0 = pick.randrange(0, w - 1), pick.randrange(0, h - 1)
        box = Box(x0, y0, pick.randrange(x0 + 1, w + 1), pick.randrange(y0 + 1, h + 1))
        assert _region_luminances(img, box) == per_pixel(img, box)


def test_a_size_search_that_stops_wrapping_early_finds_the_same_stack() -> None:
    """Wrapping stops as soon as a block cannot fit the height left (a size search probes many
    sizes far too large): every block and every stack it finds is the one a full wrap finds."""
    from mintloom.engines import layout
    from mintloom.engines.layout import FieldSpec, TextStyle, fit_stack, make_block

    def reference_stack(specs: list[FieldSpec], base: float, box: Box) -> list[layout.Block] | None:
        blocks = []
        for spec in specs:
            block = make_block(spec, max(spec.min_size, round(base * spec.rel)), box.width)
            if block is None:
                return None
            blocks.append(block)
        total = sum(b.height for b in blocks) + layout._gap(blocks) * (len(blocks) - 1)
        return blocks if total <= box.height else None

    pick = random.Random(14)
    words = ["Name12,", "15%", "off", "From", "€3.90", "in", "City5", "Wochenende", "ab", "Lyon", "a" * 14]
    bold, regular = TextStyle("latin", "bold", "ltr", "en"), TextStyle("latin", "regular", "ltr", "en")
    cases = 0
    for _ in range(60):
        head = " ".join(pick.choices(words, k=pick.randrange(1, 6)))
        body = " ".join(pick.choices(words, k=pick.randrange(1, 9)))
        specs = [FieldSpec("headline", head, bold, 1.0, 11), FieldSpec("body", body, regular, 0.45, 9, 1.35)]
        box = Box(10, 10, 10 + pick.randrange(60, 700), 10 + pick.randrange(30, 240))
        for size in (9, 14, 23, 40, 66):
            for height in (5, 20, 45, 90, 300):
                full = make_block(specs[0], size, box.width)
                bounded = make_block(specs[0], size, box.width, height)
                assert bounded == (full if full is not None and full.height <= height else None)
        try:
            expected = fit_stack(specs, box, max_base=80, where="test")
        except LayoutError:
            continue
        original = layout._stack
        layout._stack = reference_stack  # type: ignore[assignment]
        try:
            assert fit_stack(specs, box, max_base=80, where="test") == expected
        finally:
            layout._stack = original
        cases += 1
    assert cases > 20


# -- the stack reads as the QA gate measures it ----------------------------------------------------

LUMEN = BrandStyle(name="Lumen", palette=("#1d3557", "#e63946", "#f1faee"))


def _dynamic_request(fmt: str, n: int) -> GenerationRequest:
    """A render of the sample dynamic campaign's kind: its seed comes from salted inputs, so
    every request is a new design."""
    texts = {"headline": f"Sunny: {n % 91}% off", "body": f"From €{1 + n}.00", "cta": "Claim"}
    return GenerationRequest(
        kind="image",
        seed=n * 7919 + 13,
        locale="en-US",
        brand=LUMEN,
        format=FORMATS[fmt],
        params=ImageParams(**texts),
    )


def _below_aa(comp: Composition) -> list[tuple[str, float]]:
    pixels = np.asarray(comp.image)
    failing = []
    for fact in layout_facts(comp).texts:
        contrast, _share = text_contrast(pixels, fact)
        if contrast < (3.0 if is_large_text(fact.size, fact.bold) else 4.5):
            failing.append((fact.field, contrast))
    return failing


@pytest.mark.parametrize(("fmt", "n"), [("medium-rectangle", 413), ("story", 23)])
def test_a_design_the_gate_would_hold_is_drawn_again_over_a_scrim(fmt: str, n: int) -> None:
    """These designs put near-black body text on a red gradient (3.8:1 where the gate looks) and a
    white headline over a light disc (2.7:1): the colour estimate passed them and the QA gate held
    them, so a dynamic render served the fallback at random. Now the finished ad is measured as the
    gate measures it and drawn over a scrim."""
    comp = ImageCompositor().compose(_dynamic_request(fmt, n))
    assert _below_aa(comp) == []  # on the old code: [("body", 3.806)] and [("headline", 2.707)]


@pytest.mark.parametrize("n", [3005, 5070, 5220])
def test_thin_arabic_glyphs_are_measured_with_their_edges_as_the_gate_does(n: int) -> None:
    """Small Arabic body text on a leaderboard: the gate counts the faint edges of thin strokes as
    background, below the worst pixel behind the text before it was drawn (4.32:1 where that bound
    said 4.55:1). A lower bound from the background alone missed them; every block is measured."""
    req = GenerationRequest(
        kind="image", seed=n * 104729 + 1, locale="ar-EG", brand=LUMEN, format=FORMATS["leaderboard"],
        params=ImageParams(headline=f"تخفيضات الصيف {n}", body="شحن مجاني للطلبات", cta="اشتر"),
    )  # fmt: skip
    assert _below_aa(ImageCompositor().compose(req)) == []


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_mid_tone_accent_is_shaded_until_the_cta_reads(seed: int) -> None:
    """A grey accent (#777777) reads with neither a white label (4.48:1) nor a near-black one: the
    gate held every such ad's CTA. The button is now mixed toward black under the white label."""
    brand = BrandStyle(name="Grey", palette=("#1d3557", "#777777"))
    req = GenerationRequest(
        kind="image", seed=seed, locale="en-US", brand=brand, format=FORMATS["medium-rectangle"],
        params=ImageParams(headline=f"Deal {seed}", body="Free delivery today", cta="Buy now"),
    )  # fmt: skip
    assert _below_aa(ImageCompositor().compose(req)) == []  # old code: [("cta", 4.478)]


def test_no_design_of_a_sweep_falls_below_aa_where_the_gate_measures() -> None:
    eng = ImageCompositor()
    failing = {
        n: f for n in range(150) if (f := _below_aa(eng.compose(_dynamic_request("medium-rectangle", n))))
    }
    assert failing == {}
