"""Hostile text credentials, verified the way the outside world will hand them to ``mintloom verify``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mintloom.chain_lookup import verify_context
from mintloom.provenance import text_wrapper
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.studio import Studio
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import VerifyContext, verify_bytes
from tests.conftest import sample_studio


@dataclass
class Texts:
    studio: Studio
    ctx: VerifyContext
    rows: list[AssetRow]
    out: Path

    def shipped(self, i: int = 0) -> tuple[bytes, bytes]:
        path = self.out / self.rows[i].path
        return path.read_bytes(), path.with_name(path.name + ".c2pa").read_bytes()


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Texts]:
    studio = sample_studio(tmp_path_factory.mktemp("textattack"))
    rows = [r for r in Catalog(studio.db).assets("tiny", kind="copy")]
    yield Texts(studio, verify_context(studio, offline=True), rows, studio.workspace.out_dir / "tiny")
    studio.close()


def _wrapper(data: bytes) -> tuple[bytes, bytes]:
    found = text_wrapper.find(data)
    assert found is not None
    return data[: found.start], data[found.start :]


def _verdict(texts: Texts, data: bytes, sidecar: bytes | None = None) -> Verdict:
    return verify_bytes(data, "note.txt", texts.ctx, sidecar=sidecar).verdict


def test_shipped_and_restored_text_verifies(texts: Texts) -> None:
    data, sidecar = texts.shipped(0)
    body, _ = _wrapper(data)
    assert _verdict(texts, data) is Verdict.VERIFIED
    assert _verdict(texts, body, sidecar) is Verdict.VERIFIED


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[:-7],  # a download cut in the middle of a 4-byte selector
        lambda d: d + b"\xff",  # a stray byte after the wrapper
        lambda d: b"\xff" + d[1:],  # the first letter overwritten by a non-UTF-8 byte
        lambda d: d[: _wrapper(d)[0].__len__() + 3 + 4 * 8],  # only U+FEFF and the magic survive
    ],
)
def test_signed_text_damaged_is_tampered_not_an_unsupported_file(texts: Texts, damage: object) -> None:
    """A signed text whose bytes were damaged carries a broken credential: TAMPERED, never
    "not a supported media file" (UNKNOWN), and verify never raises."""
    data, _ = texts.shipped(0)
    report = verify_bytes(damage(data), "note.txt", texts.ctx)  # type: ignore[operator]
    assert report.media_type == "text/plain", report.checks
    assert report.verdict is Verdict.TAMPERED, report.checks


def test_wrappers_moved_doubled_or_swapped_are_tampered(texts: Texts) -> None:
    data, sidecar = texts.shipped(0)
    other, other_sidecar = texts.shipped(1)
    body, wrapper = _wrapper(data)
    _, other_wrapper = _wrapper(other)
    assert _verdict(texts, body + other_wrapper) is Verdict.TAMPERED  # another file's credential
    assert _verdict(texts, body[:5] + wrapper + body[5:]) is Verdict.TAMPERED  # wrapper in the middle
    assert _verdict(texts, data + other_wrapper) is Verdict.TAMPERED  # two wrappers
    assert _verdict(texts, b"\xef\xbb\xbf" + data) is Verdict.TAMPERED  # a BOM put in front
    assert _verdict(texts, data + "\ufe0f".encode()) is Verdict.TAMPERED  # one more selector
    assert _verdict(texts, body, other_sidecar) is Verdict.TAMPERED  # stripped, another text's sidecar
    assert _verdict(texts, body + b"!", sidecar) is Verdict.TAMPERED  # stripped and edited
    assert _verdict(texts, body, b"garbage") is Verdict.TAMPERED  # a sidecar that is no manifest


def test_huge_declared_length_is_a_corrupted_wrapper(texts: Texts) -> None:
    data, _ = texts.shipped(0)
    body, _ = _wrapper(data)
    header = text_wrapper.MAGIC + b"\x01\xff\xff\xff\xff"  # 4 GiB announced, 3 bytes present
    forged = body + ("\ufeff" + "".join(text_wrapper._selector(b) for b in header + b"abc")).encode()
    report = verify_bytes(forged, "note.txt", texts.ctx)
    assert report.verdict is Verdict.TAMPERED
    assert any("corruptedWrapper" in c.detail for c in report.checks), report.checks


def test_a_swapped_sidecar_beside_a_signed_text_is_named(texts: Texts) -> None:
    """The text's own credential decides; a sidecar of another text beside it is pointed out."""
    data, sidecar = texts.shipped(0)
    _, other_sidecar = texts.shipped(1)
    own = verify_bytes(data, "note.txt", texts.ctx, sidecar=sidecar)
    assert own.verdict is Verdict.VERIFIED and not any(c.name == "sidecar" for c in own.checks)
    swapped = verify_bytes(data, "note.txt", texts.ctx, sidecar=other_sidecar)
    assert swapped.verdict is Verdict.VERIFIED  # the embedded credential still holds
    (check,) = [c for c in swapped.checks if c.name == "sidecar"]
    assert check.status == "warn" and "not the credential embedded" in check.detail
