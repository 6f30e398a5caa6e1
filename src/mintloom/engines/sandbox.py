"""A Jinja2 sandbox with bounded cost: copy templates come from specs, and a spec may be hostile.

:class:`~jinja2.sandbox.SandboxedEnvironment` keeps a template away from Python internals but not
from exhausting the machine: ``{{ 'x' * 3000000000 }}``, ``{{ 10 ** 10 ** 8 }}`` or nested loops
over ``range(100000)`` run for minutes and take gigabytes. :class:`BoundedSandbox` refuses each
step that would build a string, list or integer beyond :data:`MAX_VALUE` (``*``, ``**``, ``+``,
``%``, ``~`` and the padding, joining and formatting calls), caps ``range()`` at :data:`MAX_RANGE`
and the output at :data:`MAX_OUTPUT`; :func:`render_bounded` adds a wall-clock limit.
"""

from __future__ import annotations

import ctypes
import functools
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

T = TypeVar("T")

MAX_OUTPUT = 100_000
"""Characters a rendered template may have."""
MAX_VALUE = MAX_OUTPUT
"""Length of any string or list a template builds, and the largest pad width or repeat count."""
MAX_INT_BITS = 4_096
"""Size of any integer a template computes (``2 ** 4096`` has 1,234 digits)."""
MAX_RANGE = 10_000
"""Items ``range()`` may produce."""
TIME_LIMIT = 2.0
"""Seconds one template may render for."""
MAX_CALL_DEPTH = 64
"""Nested calls (macros calling macros, recursive loops): deep C recursion would crash the thread."""

_PADDING = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_GROWING = frozenset({"append", "extend", "insert", "update", "add", "setdefault"})
# %-format or str.format specs with a 6+ digit width/precision, a '*' width or a nested field
_WIDE_FORMAT = re.compile(r"%[-#0 +]*(?:\*|\d{6,}|\.\*|\.\d{6,})|\{[^{}]*:[^{}]*(?:\{|\d{6,})")


class TemplateLimitError(SecurityError):
    """A template went over one of the sandbox's limits."""


class _Timeout(BaseException):
    """Raised asynchronously in a render thread that ran out of time (never caught by templates)."""


def _size(value: object) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _check_value(value: T) -> T:
    n = _size(value)
    if n is not None and n > MAX_VALUE:
        raise TemplateLimitError(f"a value of {n} characters or items (the limit is {MAX_VALUE})")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"an integer of more than {MAX_INT_BITS} bits")
    return value


def _check_format(fmt: object) -> None:
    if isinstance(fmt, str) and _WIDE_FORMAT.search(fmt):
        raise TemplateLimitError("a format with a huge or dynamic width (widths are at most 5 digits)")


def _check_times(left: object, right: object) -> None:
    for seq, count in ((left, right), (right, left)):
        n = _size(seq)
        if n is not None and isinstance(count, int) and n * count > MAX_VALUE:
            raise TemplateLimitError(f"repeating {n} characters or items {count} times (limit {MAX_VALUE})")
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > MAX_INT_BITS
    ):
        raise TemplateLimitError(f"an integer product of more than {MAX_INT_BITS} bits")


def _check_power(base: object, exp: object) -> None:
    if not (isinstance(base, int) and isinstance(exp, int)):
        return
    if exp > 0 and abs(base) > 1 and math.log2(abs(base)) * exp > MAX_INT_BITS:
        raise TemplateLimitError(f"{base} ** {exp} has more than {MAX_INT_BITS} bits")


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise TemplateLimitError(f"range() of {len(r)} items (the limit is {MAX_RANGE})")
    return r


def _check_call(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse calls that would allocate past the limits before they run."""
    target = getattr(fn, "__wrapped__", fn)  # the sandbox wraps str.format
    owner, name = getattr(target, "__self__", None), getattr(target, "__name__", "")
    values = (*args, *kwargs.values())
    if isinstance(owner, str):
        if name in _PADDING and any(isinstance(v, int) and v > MAX_VALUE for v in values):
            raise TemplateLimitError(f"str.{name} to a width over {MAX_VALUE}")
        if name in ("format", "format_map"):
            _check_format(owner)
        if name == "join" and args and (n := _size(args[0])) is not None and len(owner) * n > MAX_VALUE:
            raise TemplateLimitError(f"joining {n} items with a {len(owner)}-character separator")
        if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            hits = owner.count(args[0]) if args[0] else len(owner) + 1
            if len(owner) + hits * len(args[1]) > MAX_VALUE:
                raise TemplateLimitError(f"a replacement that grows the text past {MAX_VALUE} characters")
    if isinstance(owner, list | dict | set) and name in _GROWING:
        grow = sum(n for v in values if (n := _size(v)) is not None) + 1
        if len(owner) + grow > MAX_VALUE:
            raise TemplateLimitError(f"a collection of more than {MAX_VALUE} items")


def _bounded_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose width/count arguments and result are bounded (the piped value is not an
    argument: ``currency`` formats any amount)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        skip = 2 if getattr(fn, "jinja_pass_arg", None) is not None else 1  # context, then the value
        value, extra = (args[skip - 1] if len(args) >= skip else None), [*args[skip:], *kwargs.values()]
        if name == "format":
            _check_format(value)
        sep = extra[0] if extra else ""
        if (
            name == "join"
            and isinstance(sep, str)
            and (n := _size(value)) is not None
            and n * len(sep) > MAX_VALUE
        ):
            raise TemplateLimitError(f"joining {n} items with a {len(sep)}-character separator")
        if name == "replace" and len(extra) >= 2:
            _check_call(str(value).replace, (extra[0], extra[1]), {})
        if name == "indent" and extra and isinstance(extra[0], str):  # a string width prefixes each line
            _check_call(str(value).replace, ("\n", extra[0]), {})
        if any(isinstance(v, int) and not isinstance(v, bool) and v > MAX_VALUE for v in extra):
            raise TemplateLimitError(f"filter {name!r} with a width or count over {MAX_VALUE}")
        return _check_value(fn(*args, **kwargs))

    return wrapper


@functools.lru_cache(maxsize=256)
def _bounded_builtin(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`_bounded_filter` of one of Jinja's built-in filters, made once per process: a wrapper
    holds only the name and the function, and wrapping all ~60 of them for every sandbox was
    most of the cost of rendering a brand message."""
    return _bounded_filter(name, fn)


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """``a ~ b`` joins through :meth:`BoundedSandbox.concat`, which checks the length."""
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox with every amplifying operation checked (see the module docstring)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._depth = 0
        self.globals["range"] = _bounded_range
        self.globals.pop("lipsum", None)  # lipsum(n=10**9) would write gigabytes
        self.filters.update({k: _bounded_builtin(k, v) for k, v in self.filters.items()})

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            _check_times(left, right)
        elif operator_ == "**":
            _check_power(left, right)
        elif operator_ == "+" and (a := _size(left)) is not None and (b := _size(right)) is not None:
            if a + b > MAX_VALUE:
                raise TemplateLimitError(f"concatenating to {a + b} characters or items (limit {MAX_VALUE})")
        elif operator_ == "%":
            _check_format(left)
        return _check_value(super().call_binop(context, operator_, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_call(__obj, args, kwargs)
        __self._depth += 1
        try:
            if __self._depth > MAX_CALL_DEPTH:
                raise TemplateLimitError(f"calls nested more than {MAX_CALL_DEPTH} deep (a recursive macro?)")
            return _check_value(super().call(__context, __obj, *args, **kwargs))
        finally:
            __self._depth -= 1

    def concat(self, parts: Iterable[Any]) -> str:
        texts = [str(p) for p in parts]
        total = sum(map(len, texts))
        if total > MAX_VALUE:
            raise TemplateLimitError(f"joining to {total} characters (the limit is {MAX_VALUE})")
        return "".join(texts)

    def add_filters(self, filters: dict[str, Callable[..., Any]]) -> None:
        """Add filters, bounded like the built-in ones."""
        self.filters.update({k: _bounded_filter(k, v) for k, v in filters.items()})


def collect_bounded(chunks: Iterable[str]) -> str:
    """The rendered text, stopped as soon as it passes :data:`MAX_OUTPUT` characters."""
    out: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_OUTPUT:
            raise TemplateLimitError(f"the output passes {MAX_OUTPUT} characters")
        out.append(chunk)
    return "".join(out)


def run_with_deadline(fn: Callable[[], T], seconds: float = TIME_LIMIT) -> T:
    """``fn()`` in a worker thread, interrupted (between bytecodes) after ``seconds``:
    :class:`TemplateLimitError` then. Everything ``fn`` raises is raised here."""
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            try:
                result.append(fn())
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)
        except _Timeout:  # a repeated interruption that arrived while handing over
            failure.append(_Timeout())

    worker = threading.Thread(target=target, name="mintloom-template", daemon=True)
    start = time.monotonic()
    worker.start()
    worker.join(seconds)
    _interrupt(worker)
    if worker.is_alive() or any(isinstance(e, _Timeout) for e in failure):
        raise TemplateLimitError(
            f"rendering took longer than {seconds:g} s (stopped after {time.monotonic() - start:.1f} s)"
        )
    if failure:
        raise failure[0]
    return result[0]


def _interrupt(worker: threading.Thread, patience: float = 2.0) -> None:
    """Raise :class:`_Timeout` in ``worker`` until it ends: an interruption that lands where
    Python ignores exceptions (a weakref callback, a ``__del__``) is simply sent again."""
    give_up = time.monotonic() + patience
    while worker.is_alive() and worker.ident is not None and time.monotonic() < give_up:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(_Timeout))
        worker.join(0.1)


__all__ = [
    "MAX_OUTPUT",
    "MAX_RANGE",
    "MAX_VALUE",
    "TIME_LIMIT",
    "BoundedSandbox",
    "TemplateLimitError",
    "collect_bounded",
    "run_with_deadline",
]
