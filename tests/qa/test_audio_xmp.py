"""XMP in the WAV sound logo: a ``_PMX`` chunk embedded before signing, read by exiftool, covered
by the C2PA hard binding (verify says VERIFIED; an edited credit line is TAMPERED). Copy gets none."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_audience, sample_spec, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.chain_lookup import verify_context
from mintloom.errors import MetadataEmbedError
from mintloom.provenance.xmp import AssetMetadata, embed_xmp, embeds_xmp, xmp_packet
from mintloom.studio import Studio
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import verify_path
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD

RIGHTS = "rights:\n  web_statement: https://lumen.example/licences/{terms}\n  credit: Lumen Sound Studio\n"
EXIFTOOL = shutil.which("exiftool")


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    root = tmp_path_factory.mktemp("wav-xmp")
    spec = sample_spec(campaign="wavx", locales=("en-US",), formats=("square",), audio=True) + RIGHTS
    path = write_sample_campaign(root / "campaign", spec, sample_audience(1))
    s = Studio(Workspace.init(root / "ws"), password=PASSWORD)
    s.ensure_keys()
    CampaignRunner(s.run_parts(), load_spec(path)).run()
    yield s
    s.close()


def _xmp(path: Path) -> dict[str, object]:
    assert EXIFTOOL is not None, "exiftool is missing: apt-get install libimage-exiftool-perl (.ci/run does)"
    out = subprocess.run(
        [EXIFTOOL, "-j", "-G1", "-XMP:all", str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    data: dict[str, object] = json.loads(out.stdout)[0]
    return data


def test_exiftool_reads_the_wav_xmp_and_verify_still_says_verified(studio: Studio) -> None:
    wav = studio.workspace.out_dir / "wavx" / "sound-logo.wav"
    xmp = _xmp(wav)
    assert (
        xmp["XMP-iptcExt:DigitalSourceType"]
        == "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
    )
    assert (
        xmp["XMP-xmpRights:WebStatement"] == "https://lumen.example/licences/commercial-use"
    )  # audio terms by default
    assert xmp["XMP-photoshop:Credit"] == "Lumen Sound Studio" and xmp["XMP-plus:LicensorName"] == "Lumen"
    report = verify_path(wav, verify_context(studio, offline=True))
    assert report.verdict == Verdict.VERIFIED, report.checks


def test_editing_the_wav_credit_line_is_tampering(studio: Studio, tmp_path: Path) -> None:
    data = (studio.workspace.out_dir / "wavx" / "sound-logo.wav").read_bytes()
    assert data.count(b"Lumen Sound Studio") == 1
    edited = tmp_path / "edited.wav"
    edited.write_bytes(data.replace(b"Lumen Sound Studio", b"Lemon Sound Studio"))
    assert verify_path(edited, verify_context(studio, offline=True)).verdict == Verdict.TAMPERED


def test_copy_has_no_xmp_and_a_malformed_wav_is_refused_by_name(studio: Studio) -> None:
    note = next((studio.workspace.out_dir / "wavx").rglob("note.txt"))
    assert b"x:xmpmeta" not in note.read_bytes() and not embeds_xmp("text/plain")
    assert not embeds_xmp("audio/flac")
    packet = xmp_packet(AssetMetadata(source_type="x"))
    for bad in (b"RIFF\x04\x00\x00\x00WAVE", b"RIFF\xff\x00\x00\x00WAVEfmt ", b"not a wav at all"):
        with pytest.raises(MetadataEmbedError):
            embed_xmp(bad + b"\x00" * 4, "audio/wav", packet)
