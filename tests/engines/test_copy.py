from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mintloom.engines.base import BrandStyle, GenerationRequest
from mintloom.engines.copy import CopyEngine
from mintloom.engines.params import CopyParams, CopyTemplate, ImageParams
from mintloom.engines.sandbox import TIME_LIMIT
from mintloom.errors import CopyTemplateError, EngineError, MintloomError, SpecError

NBSP = "\xa0"


def copy_request(
    brand: BrandStyle, template: str, locale: str, name: str | None = None, **variables: str | float
) -> GenerationRequest:
    params = CopyParams(template=CopyTemplate(source=template, variables=variables, name=name))
    return GenerationRequest(kind="copy", seed=1, locale=locale, brand=brand, params=params)


def render(template: str, locale: str, **variables: object) -> str:
    return CopyEngine().render(template, dict(variables), locale)


def test_currency_per_locale() -> None:
    assert render("{{ p | currency('EUR') }}", "de-DE", p=1234.5) == f"1.234,50{NBSP}€"
    assert render("{{ p | currency('USD') }}", "en-US", p=1234.5) == "$1,234.50"
    assert render("{{ p | currency('JPY') }}", "ja-JP", p=1234) == "￥1,234"
    ar = render("{{ p | currency('EGP') }}", "ar-EG", p=1234.5)
    assert "١٬٢٣٤٫٥٠" in ar and ("ج.م." in ar or "EGP" in ar)  # Arabic-Indic digits and separators
    assert "1,234.50" in render("{{ p | currency('AED') }}", "ar-AE", p=1234.5)  # UAE writes Latin digits
    # strings from a spreadsheet are numbers too
    assert render("{{ p | currency('EUR') }}", "fr-FR", p="1234.5") == f"1{chr(0x202F)}234,50{NBSP}€"


def test_number_percent_date() -> None:
    assert render("{{ n | number }}", "de-DE", n=1234567) == "1.234.567"
    assert render("{{ n | number(2) }}", "en-US", n=3.14159) == "3.14"
    assert render("{{ s | percent }}", "de-DE", s=0.25) == f"25{NBSP}%"
    assert render("{{ s | percent }}", "ja-JP", s=0.25) == "25%"
    assert render("{{ d | date('long') }}", "de-DE", d="2025-12-31") == "31. Dezember 2025"
    assert render("{{ d | date('long') }}", "ja-JP", d="2025-12-31") == "2025年12月31日"
    assert render("{{ d | date('long') }}", "ar-EG", d="2025-12-31") == "٣١ ديسمبر ٢٠٢٥"
    assert render("{{ n | number }}", "fa-IR", n=1234) == "۱٬۲۳۴"


def test_generate_renders_the_template_with_its_variables(brand: BrandStyle) -> None:
    template = "Hallo {{ name }}, nur {{ price | currency('EUR') }}!"
    req = GenerationRequest(
        kind="copy",
        seed=3,
        locale="de-DE",
        brand=brand,
        params=CopyParams(
            template=CopyTemplate(
                source=template, variables={"name": "Anna", "price": 19.99}, name="greeting"
            )
        ),
    )
    art = CopyEngine().generate(req)
    assert art.data.decode("utf-8") == f"Hallo Anna, nur 19,99{NBSP}€!"
    assert art.media_type.startswith("text/plain") and art.extension == "txt"
    assert art.engine == "copy" and art.tags["locale"] == "de-DE"
    assert art.parameters.template_name == "greeting" and art.prompt is None
    assert CopyEngine().generate(req).data == art.data


def test_missing_variable_is_named(brand: BrandStyle) -> None:
    with pytest.raises(SpecError, match="first_name"):
        CopyEngine().generate(copy_request(brand, "Hi {{ first_name }}", "en"))


def test_missing_template_and_unknown_locale(brand: BrandStyle) -> None:
    with pytest.raises(ValidationError, match="template"):
        CopyParams()  # type: ignore[call-arg]
    with pytest.raises(EngineError, match="takes CopyParams, not ImageParams"):
        CopyEngine().generate(
            GenerationRequest(kind="copy", seed=1, locale="en", brand=brand, params=ImageParams())
        )
    with pytest.raises(SpecError, match="locale"):
        CopyEngine().generate(copy_request(brand, "x", "xx-QQ"))


def test_sandbox_blocks_internals(brand: BrandStyle) -> None:
    with pytest.raises(MintloomError):
        CopyEngine().generate(copy_request(brand, "{{ ''.__class__.__mro__[1].__subclasses__() }}", "en"))


def test_bad_filter_input(brand: BrandStyle) -> None:
    with pytest.raises(EngineError, match="filter"):
        CopyEngine().generate(copy_request(brand, "{{ p | currency('EUR') }}", "en", p="lots"))


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="{}%#"), max_size=60
    )
)
def test_plain_text_passes_through(text: str) -> None:
    # Jinja normalises line endings, so control characters are left out
    assert render(text, "en-US") == text


# --- hostile templates: each is refused by name, quickly, without the memory it asks for ---------
ATTACKS = {
    "huge range": "{{ range(10**9)|list }}",
    "string repeat": "{{ 'x' * 3000000000 }}",
    "list repeat": "{{ [1] * 10**9 }}",
    "nested loops": "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "nested output": "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}",
    "doubling ~": "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}",
    "doubling +": "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}",
    "big power": "{{ 10 ** 100000000 }}",
    "squaring": "{% set ns = namespace(n=3) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}"
    "{% endfor %}",
    "ljust": "{{ 'x'.ljust(10**9) }}",
    "%-width": "{{ '%0999999999d' % 1 }}",
    "format width": "{{ '{:>999999999}'.format(1) }}",
    "center filter": "{{ 'x' | center(10**9) }}",
    "replace": "{{ ('x' * 90000).replace('', 'yy') }}",
    "number digits": "{{ 3 | number(10**9) }}",
    "growing list": "{% set l = [] %}{% for i in range(10000) %}{% for j in range(10000) %}"
    "{{ l.append(1) or '' }}{% endfor %}{% endfor %}",
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_hostile_templates_are_refused_quickly(brand: BrandStyle, attack: str) -> None:
    start = time.perf_counter()
    with pytest.raises(CopyTemplateError, match="copy template 'note'") as err:
        CopyEngine().generate(copy_request(brand, ATTACKS[attack], "en-US", name="note"))
    assert time.perf_counter() - start < TIME_LIMIT + 1.5
    assert err.value.exit_code == 4


@pytest.mark.parametrize(
    "template",
    [
        "{{ 1 / 0 }}",
        "{{ 2.0 ** 99999 }}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",  # crashed the render thread's C stack
        "{% set l = [[1]] %}{% for x in l recursive %}{{ loop(l) }}{% endfor %}",
        "{% macro f() %}{{ caller() }}{% endmacro %}" + "{% call f() %}" * 500 + "x" + "{% endcall %}" * 500,
    ],
)
def test_arithmetic_recursion_and_nesting_are_template_errors(template: str) -> None:
    with pytest.raises(CopyTemplateError, match=r"copy template (failed|exceeds the sandbox's limits)"):
        render(template, "en-US")


def test_legitimate_templates_still_render() -> None:
    out = render(
        "{{ p | currency('EUR') }} {{ d | date }} {{ 3 | number(2) }} {{ 0.25 | percent }} "
        "{{ ['a', 'b'] | join(', ') }} {{ 'x' * 3 }} {{ 2 ** 10 }} {{ 'a' ~ 'b' }} {{ '%05d' % 3 }} "
        "{{ '{:>3}'.format('a') }} {% for i in range(3) %}{{ i }}{% endfor %} {{ 2 ** 4000 > 1 }}",
        "de-DE",
        p=1234.5,
        d="2026-12-31",
    )
    assert out == f"1.234,50{NBSP}€ 31.12.2026 3,00 25{NBSP}% a, b xxx 1024 ab 00003   a 012 True"
    assert len(render("{{ 'x' * 100000 }}", "en-US")) == 100000


def test_attacks_stay_within_a_memory_limit() -> None:
    """In a process limited to 1 GiB of address space every attack is a clean error (the original
    sandbox died with MemoryError or ran for minutes)."""
    script = textwrap.dedent(
        f"""
        import resource, sys, time
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from mintloom.engines.copy import CopyEngine
        from mintloom.errors import CopyTemplateError
        for name, template in {ATTACKS!r}.items():
            start = time.perf_counter()
            try:
                CopyEngine().render(template, {{}}, "en-US", name=name)
            except CopyTemplateError as exc:
                assert name in exc.message, exc.message
            else:
                sys.exit(f"{{name}} rendered")
            assert time.perf_counter() - start < 4, name
        print("all refused")
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, check=False
    )
    assert r.returncode == 0 and "all refused" in r.stdout, r.stdout + r.stderr


def test_a_template_is_compiled_once_per_process_and_keeps_each_locales_filters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A campaign renders the same brand message for every audience row: the source is parsed and
    compiled once per locale (it cost ~0.9 ms a render, twenty times running it), while each
    render still formats with its own locale's filters and variables."""
    from mintloom.engines import copy as copy_module
    from mintloom.engines.sandbox import BoundedSandbox

    compiled: list[str] = []
    original = BoundedSandbox.compile

    def counting(self: BoundedSandbox, source: str, *args: object, **kwargs: object) -> object:
        compiled.append(source)
        return original(self, source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(BoundedSandbox, "compile", counting)
    copy_module._CODES.clear()
    source = "{{ name }}: {{ p | currency('EUR') }} ({{ n }}, {{ 0.25 | percent }})"
    assert render(source, "de-DE", name="Alex", p=1234.5, n=1) == f"Alex: 1.234,50{NBSP}€ (1, 25{NBSP}%)"
    assert render(source, "en-US", name="Sam", p=1234.5, n=2) == "Sam: €1,234.50 (2, 25%)"
    assert render(source, "de-DE", name="Robin", p=3.9, n=3) == f"Robin: 3,90{NBSP}€ (3, 25{NBSP}%)"
    assert render(source, "en-US", name="Kim", p=3.9, n=4) == "Sam: €3.90 (4, 25%)".replace("Sam", "Kim")
    assert compiled == [source, source]  # once per locale


def test_a_refused_template_is_not_kept_compiled() -> None:
    """Compiling folds ``"x"|center(99999)`` into a constant: the old lru_cache kept the code of a
    template whose render was then refused, 256 of them a process."""
    from mintloom.engines import copy as copy_module

    copy_module._CODES.clear()
    hostile = '{{ "x" | center(99999) }}{{ "y" * 99999 }}{{ nope }}'
    with pytest.raises(MintloomError):
        render(hostile, "en-US")
    assert (hostile, "en-US") not in copy_module._CODES
    kept = "{{ name }}!"
    assert render(kept, "en-US", name="Alex") == "Alex!"
    assert (kept, "en-US") in copy_module._CODES


def test_a_long_template_is_rendered_but_not_kept_compiled() -> None:
    from mintloom.engines import copy as copy_module

    copy_module._CODES.clear()
    long = "{{ name }}" + " " * copy_module.MAX_CACHED_SOURCE
    assert render(long, "en-US", name="Alex").strip() == "Alex"
    assert (long, "en-US") not in copy_module._CODES


def _constant_chars(code: object) -> int:
    """Characters of the string constants in ``code`` and the code objects nested in it."""
    from types import CodeType

    assert isinstance(code, CodeType)
    return sum(
        len(c) if isinstance(c, str) else _constant_chars(c) if isinstance(c, CodeType) else 0
        for c in code.co_consts
    )


def test_a_kept_template_holds_no_more_text_than_its_source() -> None:
    """A template whose render succeeds is kept compiled. With Jinja's constant folding its code held
    every ``"x"|center(99999)`` it sets: ~45 MB for 16 KiB of source, 256 entries a process."""
    from mintloom.engines import copy as copy_module

    copy_module._CODES.clear()
    sets = "".join(f'{{% set a{i} = "x" | center(99999) %}}' for i in range(300))
    hostile = sets + "{{ a0 | length }}"
    assert len(hostile) <= copy_module.MAX_CACHED_SOURCE
    assert render(hostile, "en-US") == "99999"
    code = copy_module._CODES.get(hostile, "en-US")
    assert code is not None
    assert _constant_chars(code) <= len(hostile)
