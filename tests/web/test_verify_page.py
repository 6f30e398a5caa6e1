"""The public verify page in a real browser: files chosen with the file input and dropped with a real
DataTransfer, the verdict shown with the CLI's words, the checks and the history; a hostile file
name stays text; the page obeys its own CSP and fits a 375px phone, left-to-right and right-to-left."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.studio import Studio
from mintloom.verify.report import VERDICT_MEANING, Verdict
from tests.web.conftest import Screenshots, ServedStudio

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

FOREIGN = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa-rs" / "CA.jpg"
FOREIGN_SIGNER = "CN=C2PA Signer, OU=FOR TESTING_ONLY"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def square(served_studio: ServedStudio) -> tuple[AssetRow, bytes]:
    """The sample campaign's signed square image (en-US) and its bytes."""
    with Studio(served_studio.workspace) as s:
        row = next(r for r in Catalog(s.db).assets("tiny", kind="image") if r.format == "square")
    return row, LocalBlobStore(served_studio.workspace.blobs_dir).get(row.cid)


@pytest.fixture
def page(browser_page: Page, served_studio: ServedStudio) -> Iterator[Page]:
    """The verify page, loaded; fails the test on any CSP violation or script error."""
    problems: list[str] = []

    def watch(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            problems.append(msg.text)

    browser_page.on("console", watch)
    browser_page.on("pageerror", lambda exc: problems.append(str(exc)))
    browser_page.goto(served_studio.url + "/")
    yield browser_page
    assert problems == []


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _tampered(data: bytes) -> bytes:
    """One bit flipped in the middle of the first IDAT chunk's pixels."""
    out = bytearray(data)
    at = data.index(b"IDAT") + 4
    size = int.from_bytes(data[at - 8 : at - 4], "big")
    out[at + size // 2] ^= 0x01
    return bytes(out)


def _stripped_jpeg(data: bytes) -> bytes:
    """Re-encoded as a JPEG: no Content Credential left, only the pixels."""
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _choose(page: Page, path: Path) -> None:
    page.set_input_files("#file", str(path))  # the change event sends it


def _drop(page: Page, name: str, data: bytes, media_type: str) -> None:
    """A real drag and drop: a DataTransfer holding the file, dispatched on the drop zone."""
    transfer = page.evaluate_handle(
        """([name, b64, type]) => {
            const dt = new DataTransfer();
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            dt.items.add(new File([bytes], name, { type }));
            return dt;
        }""",
        [name, base64.b64encode(data).decode(), media_type],
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event("#verify-form", event, {"dataTransfer": transfer})


def _verdict(page: Page) -> str:
    page.wait_for_selector("#result[data-state=done]", state="visible", timeout=60_000)
    verdict = page.inner_text("#verdict")
    assert page.inner_text("#meaning") == VERDICT_MEANING[Verdict(verdict)]  # the CLI's words
    assert page.evaluate("document.activeElement.id") == "verdict"  # announced: focus moves to it
    return verdict


def _checks(page: Page) -> dict[str, str]:
    items = page.query_selector_all("#checks li")
    return {i.query_selector(".check-name").inner_text(): i.query_selector(".check-status").inner_text()
            for i in items}  # fmt: skip


def _facts(page: Page) -> dict[str, str]:
    terms = [t.inner_text() for t in page.query_selector_all("#facts dt")]
    values = [d.inner_text() for d in page.query_selector_all("#facts dd")]
    return dict(zip(terms, values, strict=True))


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG


def test_dropped_original_is_verified(
    page: Page, square: tuple[AssetRow, bytes], screenshots: Screenshots
) -> None:
    row, data = square
    _drop(page, "square.png", data, "image/png")
    assert _verdict(page) == "VERIFIED"
    facts, checks = _facts(page), _checks(page)
    assert facts["CID"] == row.cid and facts["Bound by"] == "its own embedded Content Credential"
    assert checks["hash binding"] == "pass" and checks["inclusion proof"] == "pass"
    history = page.inner_text("#history")
    assert "c2pa.created" in history
    assert row.segment is not None and row.segment not in page.content()  # never on a public page
    assert _is_png(screenshots.take("verify-original-verified"))


def test_chosen_tampered_copy_is_tampered(
    page: Page, square: tuple[AssetRow, bytes], tmp_path: Path, screenshots: Screenshots
) -> None:
    _choose(page, _write(tmp_path, "square.png", _tampered(square[1])))
    assert _verdict(page) == "TAMPERED"
    assert _checks(page)["hash binding"] == "fail"
    assert page.get_attribute("#verdict", "data-verdict") == "TAMPERED"
    assert _is_png(screenshots.take("verify-tampered"))


def test_dropped_stripped_jpeg_is_verified_by_fingerprint(
    page: Page, square: tuple[AssetRow, bytes], screenshots: Screenshots
) -> None:
    row, data = square
    copy = _stripped_jpeg(data)
    assert b"c2pa" not in copy.lower()
    _drop(page, "shared-copy.jpg", copy, "image/jpeg")
    assert _verdict(page) == "VERIFIED"
    assert _facts(page)["Bound by"].startswith(f"perceptual fingerprint match to {row.cid} (distance ")
    assert _checks(page)["fingerprint"] == "pass"
    assert _is_png(screenshots.take("verify-stripped-fingerprint"))


def test_chosen_foreign_credential_shows_its_signer(page: Page, screenshots: Screenshots) -> None:
    _choose(page, FOREIGN)
    assert _verdict(page) == "UNTRUSTED"
    facts = _facts(page)
    assert facts["Credential"] == "valid-untrusted" and facts["Signed by"].startswith(FOREIGN_SIGNER)
    assert "c2pa" in page.inner_text("#history")
    assert _is_png(screenshots.take("verify-foreign-untrusted"))


def test_a_hostile_file_name_is_shown_as_text(page: Page, tmp_path: Path) -> None:
    name = "<img src=x onerror=window.pwned=1>.png"  # (a browser sends a quote as %22)
    _drop(page, name, b"not an image", "image/png")
    assert _verdict(page) == "UNKNOWN"
    assert _facts(page)["File"] == name
    assert page.evaluate("window.pwned") is None and page.query_selector("#facts img") is None


@pytest.mark.parametrize("direction", ["ltr", "rtl"])
def test_the_result_fits_a_phone_in_either_direction(
    page: Page, square: tuple[AssetRow, bytes], screenshots: Screenshots, direction: str
) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.evaluate(f"document.documentElement.dir = {direction!r}")
    _drop(page, "square.png", square[1], "image/png")
    assert _verdict(page) == "VERIFIED"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    assert page.is_visible("label[for=file]") and page.is_visible("button[type=submit]")
    assert _is_png(screenshots.take(f"verify-phone-{direction}"))
