"""CopyEngine: localized ad copy from Jinja2 templates with Babel formatting filters.

Templates run in a :class:`~mintloom.engines.sandbox.BoundedSandbox` with ``StrictUndefined``, so
a template cannot reach Python internals nor exhaust time or memory, and a missing variable is an
error naming it, never an empty string in a published ad. Filters format for ``request.locale``::

    {{ price | currency("EUR") }}   -> 1.234,50 €   (de-DE)
    {{ count | number }}            -> 1.234
    {{ share | percent }}           -> 25 %
    {{ ends | date("long") }}       -> 31. Dezember 2025   (ISO 'YYYY-MM-DD' strings accepted)
"""

from __future__ import annotations

import datetime as dt
import decimal
import threading
from collections import OrderedDict
from collections.abc import Callable
from types import CodeType
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import StrictUndefined, TemplateError, UndefinedError, meta, nodes

from mintloom.engines.base import (
    Artifact,
    GenerationRequest,
    expect_params,
    recorded_copy_parameters,
    text_artifact,
)
from mintloom.engines.params import CopyParams, CopyTemplate
from mintloom.engines.sandbox import (
    MAX_OUTPUT,
    MAX_RANGE,
    TIME_LIMIT,
    BoundedSandbox,
    TemplateLimitError,
    collect_bounded,
    run_with_deadline,
)
from mintloom.errors import CopyTemplateError, EngineError, SpecError

MAX_DIGITS = 20
"""Decimal places the ``number`` and ``percent`` filters write at most."""
_LIMITS_HINT = (
    f"a template renders at most {MAX_OUTPUT} characters in {TIME_LIMIT:g} s, "
    f"with range() of at most {MAX_RANGE} items"
)


def babel_locale(tag: str) -> Locale:
    """A Babel locale for a BCP 47 tag ('de-DE', 'zh-Hant-TW'); :class:`SpecError` if unknown."""
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise SpecError(f"unknown locale {tag!r}") from exc


def _number(value: Any) -> decimal.Decimal | int | float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int | float | decimal.Decimal):
        return value
    if isinstance(value, str):
        try:
            return decimal.Decimal(value.strip())
        except decimal.InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    raise TypeError(f"{type(value).__name__} is not a number")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip())
    raise TypeError(f"{type(value).__name__} is not a date")


def _digits(digits: int | None) -> None:
    if digits is not None and not 0 <= digits <= MAX_DIGITS:
        raise ValueError(f"digits must be between 0 and {MAX_DIGITS}, got {digits}")


# Zero code points of the CLDR numbering systems that locales use by default (Babel formats
# separators per numbering system but always writes ASCII digits).
_ZEROS = {
    "arab": 0x0660,
    "arabext": 0x06F0,
    "beng": 0x09E6,
    "deva": 0x0966,
    "mymr": 0x1040,
    "thai": 0x0E50,
    "tibt": 0x0F20,
    "khmr": 0x17E0,
    "laoo": 0x0ED0,
    "nkoo": 0x07C0,
    "olck": 0x1C50,
    "mtei": 0xABF0,
    "vaii": 0xA620,
    "adlm": 0x1E950,
}


def native_digits(locale: Locale) -> dict[int, str]:
    """Translation table from ASCII digits to the locale's default digits (Arabic-Indic for
    ar-EG, Persian for fa-IR, Bengali for bn-BD; empty where the default is Latin)."""
    zero = _ZEROS.get(str(getattr(locale, "default_numbering_system", "latn")))
    return {} if zero is None else {ord("0") + d: chr(zero + d) for d in range(10)}


def make_filters(locale: Locale) -> dict[str, Callable[..., str]]:
    """Babel filters that write numbers with the locale's own digits and separators."""
    system = "default"
    native = native_digits(locale)

    def currency(amount: Any, code: str) -> str:
        text = format_currency(_number(amount), code.upper(), locale=locale, numbering_system=system)
        return str(text).translate(native)

    def number(value: Any, digits: int | None = None) -> str:
        n = _number(value)
        _digits(digits)
        fmt = None if digits is None else ("#,##0." + "0" * digits if digits > 0 else "#,##0")
        return str(format_decimal(n, format=fmt, locale=locale, numbering_system=system)).translate(native)

    def percent(value: Any, digits: int = 0) -> str:
        _digits(digits)
        fmt = None if digits == 0 else "#,##0." + "0" * digits + "%"
        return str(
            format_percent(_number(value), format=fmt, locale=locale, numbering_system=system)
        ).translate(native)

    def date(value: Any, style: str = "medium") -> str:
        return str(format_date(_date(value), format=style, locale=locale)).translate(native)

    return {"currency": currency, "number": number, "percent": percent, "date": date}


def _environment(locale: Locale) -> BoundedSandbox:
    """A fresh sandbox for one render, with the locale's Babel filters (its call depth is its own).
    Not ``optimized``: Jinja's optimizer folds constant expressions at compile time, so a cached
    template's code could hold what ``{% set a = "x"|center(99999) %}`` makes, hundreds of times in
    16 KiB of source; unfolded, the code holds no more text than its source."""
    env = BoundedSandbox(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, optimized=False
    )
    env.add_filters(make_filters(locale))
    return env


MAX_CACHED_SOURCE = 16 * 1024
"""The longest template source whose compiled code is kept: a longer one is compiled each render."""


class _CodeCache:
    """Compiled template code by (source, locale), at most ``size`` entries, least recently used
    evicted. Only code whose render succeeded is put here, and only for sources up to
    :data:`MAX_CACHED_SOURCE`; the code is compiled without constant folding (see
    :func:`_environment`), so an entry holds about its source's size."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._codes: OrderedDict[tuple[str, str], CodeType] = OrderedDict()
        self._lock = threading.Lock()  # renders run on deadline threads

    def get(self, source: str, locale: str) -> CodeType | None:
        with self._lock:
            code = self._codes.get((source, locale))
            if code is not None:
                self._codes.move_to_end((source, locale))
            return code

    def put(self, source: str, locale: str, code: CodeType) -> None:
        if len(source) > MAX_CACHED_SOURCE:
            return
        with self._lock:
            self._codes[(source, locale)] = code
            self._codes.move_to_end((source, locale))
            while len(self._codes) > self._size:
                self._codes.popitem(last=False)

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._codes

    def clear(self) -> None:
        with self._lock:
            self._codes.clear()


_CODES = _CodeCache(256)


def _compile(source: str, locale: str) -> CodeType:
    """A template's compiled code, kept in :data:`_CODES` by :meth:`CopyEngine.render` once its
    render succeeded: parsing and compiling cost ~0.9 ms a render, twenty times rendering a brand
    message, and a campaign renders the same few messages for every audience row. The code depends
    on the source and the sandbox's options, which are the same in every environment (nothing is
    folded, so not on the locale's filters either; the key keeps the locale all the same)."""
    code = _environment(babel_locale(locale)).compile(source)
    assert isinstance(code, CodeType)  # raw=False: code, not its Python source
    return code


class CopyEngine:
    """Sandboxed Jinja2 + Babel: the request's template, rendered with its variables."""

    name = "copy"
    version = "1.0.0"
    params_type = CopyParams

    def render(
        self, template: str, variables: dict[str, object], locale: str, *, name: str = "copy template"
    ) -> str:
        """The rendered text; a template over the sandbox's limits (output size, time, range,
        value sizes) is a :class:`CopyTemplateError` naming it, raised in well under a second."""
        env = _environment(babel_locale(locale))

        def run() -> tuple[str, CodeType]:  # compiling (see _compile) is under the deadline too
            code = _CODES.get(template, locale) or _compile(template, locale)
            compiled = env.template_class.from_code(env, code, env.make_globals(None), None)
            return collect_bounded(compiled.generate(**variables)), code

        try:
            text, code = run_with_deadline(run)
            _CODES.put(template, locale, code)  # only after a bounded render succeeded
            return text
        except UndefinedError as exc:
            raise SpecError(f"{name} uses an undefined variable: {exc.message}") from exc
        except TemplateLimitError as exc:
            raise CopyTemplateError(
                f"{name} exceeds the sandbox's limits: {exc.message}", hint=_LIMITS_HINT
            ) from exc
        except TemplateError as exc:
            raise CopyTemplateError(f"{name} failed: {exc}") from exc
        except (TypeError, ValueError, decimal.InvalidOperation, UnknownLocaleError) as exc:
            raise EngineError(f"{name}: filter failed: {exc}") from exc
        # 1/0, 2.0**9999, macro loops; nesting that parses but compiles past Python's limits (500
        # nested call blocks: "too many levels of indentation", a SyntaxError of the generated code)
        except (ArithmeticError, RecursionError, MemoryError, SyntaxError) as exc:
            raise CopyTemplateError(f"{name} failed: {type(exc).__name__}: {exc}") from exc

    def render_template(self, template: CopyTemplate, locale: str, *, what: str = "copy template") -> str:
        """A :class:`CopyTemplate` rendered with its own variables (``what`` names it in errors)."""
        name = what if template.name is None else f"{what} {template.name!r}"
        return self.render(template.source, dict(template.variables), locale, name=name)

    def generate(self, request: GenerationRequest) -> Artifact:
        params = expect_params(self, request, "copy", CopyParams)
        text = self.render_template(params.template, request.locale)
        return text_artifact(
            self, request, text, recorded_copy_parameters(params.template), tags={"characters": len(text)}
        )


_OPTIONAL_TESTS = frozenset({"defined", "undefined"})
_OPTIONAL_FILTERS = frozenset({"default", "d"})


def template_variables(source: str, *, what: str = "copy template") -> tuple[frozenset[str], frozenset[str]]:
    """The audience variables a template reads, without rendering it: ``(required, optional)``,
    where optional ones are tested with ``is defined`` or given a ``default`` somewhere.

    Parsing is bounded by the template's length; a syntax error is a :class:`CopyTemplateError`."""
    env = BoundedSandbox(undefined=StrictUndefined)
    env.add_filters(make_filters(babel_locale("en")))  # their names, for the check that they exist
    try:
        ast = env.parse(source)
        names = meta.find_undeclared_variables(ast) - set(env.globals)
    except TemplateError as exc:
        raise CopyTemplateError(f"{what} is not a valid template: {exc}") from exc
    except RecursionError as exc:
        raise CopyTemplateError(f"{what} nests too deeply to parse") from exc
    optional = {
        n.node.name
        for n in ast.find_all(nodes.Test)
        if n.name in _OPTIONAL_TESTS and isinstance(n.node, nodes.Name)
    }
    optional |= {
        n.node.name
        for n in ast.find_all(nodes.Filter)
        if n.name in _OPTIONAL_FILTERS and isinstance(n.node, nodes.Name)
    }
    return frozenset(names - optional), frozenset(names & optional)
