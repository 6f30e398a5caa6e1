"""The ``dynamic:`` section: the variable schema accepts exactly the values of each declared type
and range (property-tested against a reference), and a bad section is refused naming its field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.campaign.sample import dynamic_sample_spec
from mintloom.campaign.spec import DynamicSpec, VariableProblem, parse_spec
from mintloom.errors import SpecError

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
VALUES = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def declarations(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["enum", "int", "float", "bool"]))
    feeds = ["headline"]
    if kind == "enum":
        values = draw(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4, unique=True))
        return {"type": kind, "values": values, "default": values[0], "feeds": feeds}
    if kind == "bool":
        return {"type": kind, "default": draw(st.booleans()), "feeds": feeds}
    number = st.integers(-1000, 1000) if kind == "int" else st.floats(-1e6, 1e6)
    lo, hi = sorted((draw(number), draw(number)))
    return {"type": kind, "min": lo, "max": hi, "default": lo, "feeds": feeds}


def accepts(decl: dict[str, Any], value: object) -> bool:
    """The reference: JSON types only, no coercion, finite numbers within the range."""
    kind = decl["type"]
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "enum":
        return isinstance(value, str) and value in decl["values"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    if kind == "int" and not isinstance(value, int):
        return False
    return bool(decl["min"] <= value <= decl["max"])


@settings(max_examples=300, deadline=None)
@given(decls=st.dictionaries(NAMES, declarations(), min_size=1, max_size=4), name=NAMES, value=VALUES)
def test_resolve_accepts_exactly_the_declared_values(decls: dict[str, Any], name: str, value: object) -> None:
    dyn = DynamicSpec.model_validate({"variables": decls})
    if name not in decls:
        with pytest.raises(VariableProblem) as unknown:
            dyn.resolve({name: value})
        assert unknown.value.field == name
        return
    if accepts(decls[name], value):
        resolved = dyn.resolve({name: value})
        assert resolved[name] == value and set(resolved) == set(decls)
        assert list(resolved) == sorted(decls)  # canonical order
    else:
        with pytest.raises(VariableProblem) as bad:
            dyn.resolve({name: value})
        assert bad.value.field == name


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("feeds: [cta]", "feeds: [body]"), "dynamic.variables.in_stock.feeds"),  # body does not read it
        (("default: 10,", "default: 95,"), "dynamic.variables.offer"),  # default out of range
        (("default: sunny", "default: hail"), "dynamic.variables.weather"),
        (
            ("formats: [medium-rectangle, square]\n  variables", "formats: [skyscraper]\n  variables"),
            "dynamic.formats.0",
        ),
        (("offer: 0}", "offer: 900}"), "dynamic.fallback.offer"),
        (("    offer: {type: int", "    Offer: {type: int"), "dynamic.variables"),  # bad name
        (
            ("    offer: {type: int, min: 0, max: 90, default: 10, feeds: [headline]}\n", ""),
            "dynamic.variables",
        ),  # the headline reads an undeclared variable
        (("type: float", "type: decimal"), "dynamic.variables.price"),
    ],
)
def test_a_bad_dynamic_section_is_refused_naming_the_field(edit: tuple[str, str], field: str) -> None:
    text = dynamic_sample_spec()
    assert edit[0] in text
    with pytest.raises(SpecError) as exc:
        parse_spec(text.replace(edit[0], edit[1], 1), Path("c.yaml"))
    assert f": {field}" in str(exc.value), str(exc.value)


def test_the_sample_dynamic_spec_is_valid() -> None:
    spec = parse_spec(dynamic_sample_spec(), Path("c.yaml"))
    assert spec.dynamic is not None and spec.dynamic_formats() == ("medium-rectangle", "square")
