"""Spec validation: every bad input names the file, line or row and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.campaign.spec import load_spec, parse_spec
from mintloom.errors import SpecError

from .conftest import AUDIENCE, SPEC, write_campaign


def test_example_campaign_loads() -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "lumen" / "campaign.yaml"
    loaded = load_spec(root)
    spec = loaded.spec
    assert len(loaded.segments) >= 8 and len(spec.locales) >= 4 and len(spec.formats) >= 7
    assert {"ar-EG", "ja-JP"} <= set(spec.locales)
    assert loaded.logo_png is not None and loaded.logo_png.startswith(b"\x89PNG")


def test_valid_spec_hash_changes_with_inputs(tmp_path: Path) -> None:
    a = load_spec(write_campaign(tmp_path / "a"))
    b = load_spec(write_campaign(tmp_path / "b"))
    c = load_spec(write_campaign(tmp_path / "c", audience=AUDIENCE.replace("Alex", "Alexa")))
    assert a.spec_hash == b.spec_hash != c.spec_hash
    assert [s.segment for s in a.segments] == ["students", "runners"]
    assert a.segments[0].variables["city"] == "Berlin"


def test_unknown_locale_points_at_its_line(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, SPEC.replace("locales: [en-US, ar-EG]", "locales: [en-US, xx-QQ]"))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    line = SPEC.splitlines().index("locales: [en-US, ar-EG]") + 1
    assert f"campaign.yaml:{line}: locales: unknown locale 'xx-QQ'" in str(err.value)


def test_missing_catalog_key_is_named(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, SPEC.replace('      cta: "احصل عليه"\n', ""))
    with pytest.raises(SpecError, match=r"brand.messages\['ar-EG'\] is missing the key 'cta'"):
        load_spec(path)


def test_whole_spec_checks_point_at_their_field(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, SPEC.replace("formats: [square, leaderboard, medium-rectangle]",
                                                 "formats: [leaderboard, medium-rectangle]"))  # fmt: skip
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert "campaign.yaml" in str(err.value) and "master: master format 'square' is not among" in str(
        err.value
    )
    line = SPEC.splitlines().index("    ar-EG:") + 1
    bad = SPEC.replace('      cta: "احصل عليه"\n', "")
    with pytest.raises(
        SpecError, match=rf"campaign.yaml:{line}: brand.messages.ar-EG: .*missing the key 'cta'"
    ):
        load_spec(write_campaign(tmp_path / "m", bad))


def test_unknown_format_and_bad_palette(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, SPEC.replace("leaderboard", "billboard").replace('"#f1faee"', '"white"'))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    msg = str(err.value)
    assert "unknown format 'billboard'" in msg and "palette colour 'white'" in msg


def test_unreadable_logo(tmp_path: Path) -> None:
    path = write_campaign(tmp_path)
    (tmp_path / "logo.png").write_bytes(b"definitely not a png")
    with pytest.raises(SpecError, match=r"brand\.logo: .*logo\.png is not an image"):
        load_spec(path)
    (tmp_path / "logo.png").unlink()
    with pytest.raises(SpecError, match=r"brand\.logo: cannot read"):
        load_spec(path)


def test_malformed_csv_row_is_named(tmp_path: Path) -> None:
    bad = AUDIENCE + "gamers,Taylor,Munich,30,EUR\n"
    with pytest.raises(SpecError, match=r"audience.csv:4: row has 5 fields, the header has 7"):
        load_spec(write_campaign(tmp_path, audience=bad))
    dup = AUDIENCE + "students,Al,Rome,1,EUR,1,2026-01-01\n"
    with pytest.raises(SpecError, match="row 3: segment 'students' appears twice"):
        load_spec(write_campaign(tmp_path / "d", audience=dup))
    empty_segment = AUDIENCE + ",Al,Rome,1,EUR,1,2026-01-01\n"
    with pytest.raises(SpecError, match="row 3: the field 'segment' is missing"):
        load_spec(write_campaign(tmp_path / "e", audience=empty_segment))


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"campaign.yaml:\d+: not valid YAML"):
        load_spec(write_campaign(tmp_path, SPEC.replace("seed: 7", "seed: [7")))


def test_split_must_add_up(tmp_path: Path) -> None:
    spec = SPEC + "governance:\n  split:\n    - {role: brand, bps: 6000}\n    - {role: model, bps: 1000}\n"
    with pytest.raises(SpecError, match="must add up to 10000 bps"):
        load_spec(write_campaign(tmp_path, spec))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_parser_never_crashes_on_garbage(text: str) -> None:
    try:
        parse_spec(text, Path("fuzz.yaml"))
    except SpecError as exc:
        assert str(exc)


@pytest.mark.parametrize("segment", ["../../../escaped", "students/.", "..", "a\\b", "tab\there"])
def test_segment_that_is_not_a_plain_name_is_refused(tmp_path: Path, segment: str) -> None:
    """A segment names a folder under out/<campaign>/<locale>/: a hostile audience row must not
    write outside it (``../..``) nor alias another segment's files (``students/.``)."""
    row = "Alex,Berlin,15,EUR,3.90,2026-12-31"
    audience = f"segment,name,city,offer,currency,price,deadline\nstudents,{row}\n{segment},{row}\n"
    with pytest.raises(SpecError, match=r"row 2: .*not a plain name"):
        load_spec(write_campaign(tmp_path, audience=audience))


def test_copy_template_name_that_is_not_a_plain_name_is_refused(tmp_path: Path) -> None:
    spec = SPEC.replace("templates:\n", 'templates:\n    ../../outside: "x"\n', 1)
    assert spec != SPEC
    with pytest.raises(SpecError, match="not a plain name"):
        load_spec(write_campaign(tmp_path, spec))
