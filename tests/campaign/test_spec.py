"""Spec validation: every bad input names the file, line or row and the field."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.campaign.spec import load_spec, parse_spec
from mintloom.errors import SpecError, SpecInputError, UnsafeNameError, UnsafeTextError
from mintloom.store.files import MAX_AUDIENCE_BYTES, MAX_IMAGE_BYTES, MAX_SPEC_BYTES
from tests.bombs import png_bomb

from .conftest import AUDIENCE, SPEC, write_campaign


def test_example_campaign_loads() -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "lumen" / "campaign.yaml"
    loaded = load_spec(root)
    spec = loaded.spec
    assert len(loaded.segments) == 8
    assert spec.locales == ("en-US", "de-DE", "ar-EG", "ja-JP")
    assert spec.formats == (
        "square",
        "story",
        "landscape",
        "fullhd",
        "medium-rectangle",
        "leaderboard",
        "skyscraper",
    )
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


# --- hostile input ------------------------------------------------------------------------------
@pytest.mark.parametrize("segment", ["../../../tmp/x", "..", ".", "a/b", "/etc", ".hidden", "x" * 65, "a\\b"])
def test_segment_names_that_are_paths_are_refused(tmp_path: Path, segment: str) -> None:
    audience = AUDIENCE.replace("runners,", f'"{segment}",')
    with pytest.raises(UnsafeNameError) as err:
        load_spec(write_campaign(tmp_path, audience=audience))
    assert "audience.csv: row 2: field 'segment'" in str(err.value) and "not a safe name" in str(err.value)
    assert err.value.exit_code == 3


def test_json_audience_segment_with_nul_or_traversal_is_refused(tmp_path: Path) -> None:
    spec = SPEC.replace("audience: audience.csv", "audience: audience.json")
    row = {"segment": "students", "name": "Alex", "city": "Berlin", "offer": 15, "currency": "EUR",
           "price": 3.9, "deadline": "2026-12-31"}  # fmt: skip
    for bad in ("stu\x00dents", "../../out"):
        path = write_campaign(tmp_path, spec)
        (tmp_path / "audience.json").write_text(json.dumps([{**row, "segment": bad}]))
        with pytest.raises(UnsafeNameError, match=r"audience\.json: row 1: field 'segment'"):
            load_spec(path)
    (tmp_path / "audience.json").write_text(json.dumps([{**row, "name": "Al\x00ex"}]))
    with pytest.raises(UnsafeTextError, match=r"audience\.json: row 1: field 'name' contains a control"):
        load_spec(path)


def test_inline_audience_with_control_characters_names_the_spec(tmp_path: Path) -> None:
    inline = 'audience:\n  - {segment: students, name: "Al\\x1bex", city: B, offer: 1}\n'
    spec = SPEC.replace("audience: audience.csv\n", inline)
    with pytest.raises(UnsafeTextError) as err:
        load_spec(write_campaign(tmp_path, spec))
    line = spec.splitlines().index(inline.splitlines()[1]) + 1
    assert f"campaign.yaml:{line}: audience.0.name: contains a control character ('\\x1b')" in str(err.value)


def test_control_characters_anywhere_in_the_spec_point_at_their_line(tmp_path: Path) -> None:
    spec = SPEC.replace('cta: "Claim"', 'cta: "Cl\\0aim"')
    with pytest.raises(UnsafeTextError) as err:
        load_spec(write_campaign(tmp_path, spec))
    line = next(i for i, ln in enumerate(spec.splitlines(), 1) if "Cl\\0aim" in ln)
    assert f"campaign.yaml:{line}: brand.messages.en-US.cta: contains a control character" in str(err.value)


@pytest.mark.parametrize("name", ["../../../tmp/x", "..", "a/b", ".env"])
def test_copy_template_names_that_are_paths_are_refused(tmp_path: Path, name: str) -> None:
    spec = SPEC.replace("    note: ", f'    "{name}": ')
    with pytest.raises(SpecError) as err:
        load_spec(write_campaign(tmp_path, spec))
    line = next(i for i, ln in enumerate(spec.splitlines(), 1) if name in ln)
    assert f"campaign.yaml:{line}: copy.templates" in str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("formats: [square, leaderboard, medium-rectangle]",
         "formats: [square, {name: '../x', width: 10, height: 10}]", "formats"),
        ("formats: [square, leaderboard, medium-rectangle]",
         "formats: [square, {name: " + "a" * 65 + ", width: 10, height: 10}]", "formats"),
        ("campaign: tiny", "campaign: ../../tmp", "campaign"),
    ],
)  # fmt: skip
def test_format_and_campaign_names_that_are_paths_are_refused(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    with pytest.raises(SpecError, match=rf"campaign\.yaml:\d+: {field}"):
        load_spec(write_campaign(tmp_path, SPEC.replace(old, new)))


def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    bomb = "bomb:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    spec = bomb + SPEC.replace("audience: audience.csv", "audience: [{segment: s, x: *i}]")
    start = time.perf_counter()
    with pytest.raises(UnsafeTextError, match="expands to more than"):
        load_spec(write_campaign(tmp_path, spec))
    assert time.perf_counter() - start < 5


# --- inputs that are not regular files, or too large ---------------------------------------------
def test_spec_from_dev_zero_or_a_fifo_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecInputError, match="campaign spec: /dev/zero is not a regular file"):
        load_spec(Path("/dev/zero"))
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    start = time.perf_counter()
    with pytest.raises(SpecInputError, match="is not a regular file"):
        load_spec(fifo)  # no writer: a blocking open would hang forever
    assert time.perf_counter() - start < 2


def test_audience_through_a_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    path = write_campaign(tmp_path)
    (tmp_path / "audience.csv").unlink()
    (tmp_path / "audience.csv").symlink_to("/dev/zero")
    with pytest.raises(SpecInputError, match=r"audience file: .*audience\.csv is not a regular file"):
        load_spec(path)


def test_logo_fifo_symlink_and_oversized_are_refused(tmp_path: Path) -> None:
    path = write_campaign(tmp_path)
    logo = tmp_path / "logo.png"
    logo.unlink()
    os.mkfifo(logo)
    with pytest.raises(SpecInputError, match=r"brand\.logo: .* is not a regular file"):
        load_spec(path)
    logo.unlink()
    logo.symlink_to("/dev/zero")
    with pytest.raises(SpecInputError, match=r"brand\.logo: .* is not a regular file"):
        load_spec(path)
    logo.unlink()
    with logo.open("wb") as f:
        f.truncate(MAX_IMAGE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(
        SpecInputError, match=rf"brand\.logo: .* is {MAX_IMAGE_BYTES + 1} bytes, over the limit"
    ):
        load_spec(path)


def test_oversized_spec_and_audience_are_refused(tmp_path: Path) -> None:
    path = write_campaign(tmp_path)
    with (tmp_path / "audience.csv").open("r+b") as f:
        f.truncate(MAX_AUDIENCE_BYTES + 1)
    with pytest.raises(SpecInputError, match=r"audience file: .* over the limit"):
        load_spec(path)
    with path.open("ab") as f:
        f.truncate(MAX_SPEC_BYTES + 1)
    with pytest.raises(SpecInputError, match=r"campaign spec: .* over the limit"):
        load_spec(path)


def test_logo_pixel_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write_campaign(tmp_path)
    (tmp_path / "logo.png").write_bytes(png_bomb(9400, 9400))
    with pytest.raises(SpecInputError, match=r"brand\.logo: .* is 9400x9400 pixels, over the limit"):
        load_spec(path)
