"""Metadata tagging: tags and alt text in the catalog and searchable, IPTC/XMP embedded in PNG,
JPEG and WebP before signing (exiftool reads it; verify still says VERIFIED, and an edited alt
text is TAMPERED), and a canary check that no audience value reaches the XMP, tags or alt text."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mintloom.api.app import create_app
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_spec, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.chain_lookup import verify_context
from mintloom.errors import SearchQueryError
from mintloom.store.annotations import AltTextRow, Annotations, TagRow, parse_query
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.studio import Studio
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import verify_path
from mintloom.workspace import Workspace
from tests.api.access import bearer
from tests.conftest import PASSWORD

CANARIES = ("CnryNameQ7x", "CnryCityZ3k", "CnrySegW9p")
AUDIENCE = (
    "segment,name,city,offer,currency,price,deadline\n"
    f"{CANARIES[2]},{CANARIES[0]},{CANARIES[1]},15,EUR,3.90,2026-12-31\n"
)
FORMATS = ("square", "{name: landscape, encoding: jpeg}", "{name: medium-rectangle, encoding: webp}")
RIGHTS = "rights:\n  web_statement: https://lumen.example/licences/{terms}\n  credit: Lumen Coffee Studio\n"
EXIFTOOL = shutil.which("exiftool")


class Tagged:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.images = Catalog(studio.db).assets("tagged", kind="image")
        self.out = studio.workspace.out_dir / "tagged"

    def file(self, locale: str, fmt: str) -> Path:
        row = next(r for r in self.images if r.locale == locale and r.format == fmt)
        return self.out / row.path


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tagged]:
    root = tmp_path_factory.mktemp("tagging")
    spec = sample_spec(campaign="tagged", locales=("en-US", "ar-EG"), formats=FORMATS, audio=False) + RIGHTS
    path = write_sample_campaign(root / "campaign", spec, AUDIENCE)
    studio = Studio(Workspace.init(root / "ws"), password=PASSWORD)
    studio.ensure_keys()
    CampaignRunner(studio.run_parts(), load_spec(path), batch_size=4).run()
    yield Tagged(studio)
    studio.close()


def _exif(path: Path) -> dict[str, object]:
    assert EXIFTOOL is not None, "exiftool is missing: apt-get install libimage-exiftool-perl (.ci/run does)"
    out = subprocess.run(
        [EXIFTOOL, "-j", "-G1", "-XMP:all", str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    data: dict[str, object] = json.loads(out.stdout)[0]
    return data


@pytest.mark.parametrize("fmt", ["square", "landscape", "medium-rectangle"])
def test_exiftool_reads_the_iptc_xmp_and_verify_still_says_verified(tagged: Tagged, fmt: str) -> None:
    path = tagged.file("ar-EG", fmt)
    xmp = _exif(path)
    assert (
        xmp["XMP-iptcExt:DigitalSourceType"]
        == "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
    )
    assert xmp["XMP-xmpRights:WebStatement"] == "https://lumen.example/licences/commercial-remix"
    assert xmp["XMP-dc:Rights"] == "© Lumen"
    assert xmp["XMP-plus:LicensorName"] == "Lumen"
    assert xmp["XMP-photoshop:Credit"] == "Lumen Coffee Studio"
    # alt text per locale (rdf:Alt), the asset's own locale as x-default
    assert str(xmp["XMP-dc:Description-ar-EG"]).startswith("Lumen: ")
    assert xmp["XMP-dc:Description-en-US"] == "Lumen: …, …% off — From … in … (Claim)"
    assert xmp["XMP-dc:Description"] == xmp["XMP-dc:Description-ar-EG"]
    report = verify_path(path, verify_context(tagged.studio, offline=True))
    assert report.verdict == Verdict.VERIFIED, report.checks
    assert report.qa is not None and report.qa["held"] is False
    assert report.tags["locale"] == ["ar-eg"] and report.tags["script"] == ["arab"]


def test_editing_the_embedded_alt_text_is_tampering(tagged: Tagged, tmp_path: Path) -> None:
    """The XMP was embedded before signing, so the hard binding covers it."""
    path = tagged.file("en-US", "square")
    data = path.read_bytes()
    assert b"Lumen: " in data
    copy = tmp_path / "edited.png"
    copy.write_bytes(data.replace(b"Lumen: ", b"Lemon: ", 1))
    report = verify_path(copy, verify_context(tagged.studio, offline=True))
    assert report.verdict == Verdict.TAMPERED


def test_tags_are_stored_and_searchable(tagged: Tagged) -> None:
    notes = Annotations(tagged.studio.db)
    ar = tagged.file("ar-EG", "square")
    row = next(r for r in tagged.images if r.locale == "ar-EG" and r.format == "square")
    tags = notes.tags(row.cid)
    assert tags["direction"] == ["rtl"] and tags["lang"] == ["ar"] and tags["aspect"] == ["square"]
    assert tags["kind"] == ["image"] and tags["engine"] == ["compositor"] and tags["model"] == ["none"]
    assert "navy" in tags["colour"] or "red" in tags["colour"], tags
    colour = tags["colour"][0]
    found = notes.search(parse_query(f"locale:ar-EG colour:{colour} format:square"))
    assert [r.cid for r in found] == [row.cid]
    assert ar.exists()
    assert notes.search(parse_query("locale:ar-EG colour:no-such-colour")) == []
    en = notes.search(parse_query("lang:en kind:image"))
    assert {r.locale for r in en} == {"en-US"} and len(en) == 3


@pytest.mark.parametrize("query", ["navy", "segment:students", "colour:", "", "locale:en-US " * 17])
def test_hostile_search_queries_are_refused_by_name(query: str) -> None:
    with pytest.raises(SearchQueryError):
        parse_query(query)


def test_api_serves_qa_tags_and_search(tagged: Tagged) -> None:
    row = next(r for r in tagged.images if r.locale == "ar-EG" and r.format == "square")
    client = TestClient(create_app(tagged.studio), headers=bearer(tagged.studio.db))
    assert TestClient(create_app(tagged.studio)).get(f"/assets/{row.cid}/qa").status_code == 401
    qa = client.get(f"/assets/{row.cid}/qa").json()
    assert qa["held"] is False and qa["report"]["findings"]
    tags = client.get(f"/assets/{row.cid}/tags").json()
    assert tags["tags"]["locale"] == ["ar-eg"] and "ar-EG" in tags["alt_text"]
    page = client.get("/search", params={"q": "locale:ar-EG format:square"}).json()
    assert [i["cid"] for i in page["items"]] == [row.cid]
    assert client.get("/search", params={"q": "segment:x"}).status_code == 422


def test_no_audience_value_reaches_xmp_tags_or_alt_text(tagged: Tagged) -> None:
    """Canary: alt text of personalised ads comes from the template copy only."""
    with tagged.studio.db.session() as s:
        internal = " ".join(r.tags for r in s.query(AssetRow).all())
        notes = [f"{t.key}:{t.value}" for t in s.query(TagRow).all()]
        alts = [a.text for a in s.query(AltTextRow).all()]
    # positive control: the copy was personalised with every name and city canary
    assert CANARIES[0] in internal and CANARIES[1] in internal
    published = [" ".join(notes), " ".join(alts)]
    for image in tagged.images:
        path = tagged.out / image.path
        xmp = {k: v for k, v in _exif(path).items() if k != "SourceFile"}  # out/ names segments
        published += [path.read_bytes().decode("latin-1"), json.dumps(xmp, ensure_ascii=False)]
    for canary in CANARIES:
        for stream in published:
            assert canary not in stream and canary.lower() not in stream


def test_colour_names_of_an_asset_are_each_colours_own_nearest() -> None:
    """An asset's colours are compared with the basic colours in one CIEDE2000 call: each gets the
    same word (and the same distances) as comparing it alone."""
    import random

    import numpy as np

    from mintloom.campaign.tagging import BASIC_COLOURS, _basic_lab, colour_name, colour_names
    from mintloom.engines.colour import ciede2000, srgb_to_lab

    def alone(hex_colour: str) -> str:
        names, labs = _basic_lab()
        lab = srgb_to_lab(np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]))
        return names[int(ciede2000(lab[None, :], labs).argmin())]

    rng = random.Random(14)
    hexes = ["#" + bytes(rng.randrange(256) for _ in range(3)).hex() for _ in range(2000)]
    hexes += list(BASIC_COLOURS.values())
    batched = [name for i in range(0, len(hexes), 5) for name in colour_names(hexes[i : i + 5])]
    assert batched == [alone(h) for h in hexes]
    assert [colour_name(h) for h in hexes[:50]] == batched[:50]
    assert colour_names([]) == []
