"""The studio in a real browser (Debian's chromium through Playwright): log in, browse and filter the
gallery, open an asset and see its manifest tree, approve a review group with the keyboard, claim
royalties; every page obeys the CSP (no script error) and fits a 375px phone.

The browser, its pages and the served sample workspace come from the shared harness
(tests/web/conftest.py).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from fastapi import FastAPI
from web3 import Web3

from mintloom.api.app import create_app
from mintloom.api.runs import PASSWORD_ENV
from mintloom.api.studio.chain_pages import REVIEWER_KEY_ENV, REVIEWER_PASSWORD_ENV
from mintloom.campaign.writer import CatalogWriter
from mintloom.governance.licenses import ETH
from mintloom.governance.royalties import Share, claimable, ensure_split
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo, dev_key
from mintloom.provenance.review import REVIEWER_UNIT, save_reviewer, verified_decision
from mintloom.store.reviews import Reviews
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from tests.conftest import PASSWORD
from tests.web.conftest import ServedStudio

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.xdist_group("anvil")


# --- a second server, for a workspace of the test's own (the shared one is tests/web/conftest.py) --
@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """uvicorn on a free loopback port in a thread; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


# --- helpers -----------------------------------------------------------------------------------------
def watch(page: Page) -> list[str]:
    """Console errors and page errors (a CSP violation is a console error)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def log_in(page: Page, url: str, token: str, start: str = "/studio/campaigns") -> None:
    page.goto(url + start)
    assert "/studio/login" in page.url, "a visitor must be sent to the login"
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + start)


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"studio-{name}.png"), full_page=True)
    extra = os.environ.get("MINTLOOM_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(extra) / f"studio-{name}.png"), full_page=True)


def fits_phone(page: Page) -> bool:
    page.set_viewport_size({"width": 375, "height": 800})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size({"width": 1280, "height": 900})
    return bool(width <= 375)


# --- tests -------------------------------------------------------------------------------------------
def test_log_in_browse_open_an_asset_and_approve_a_group(
    browser_page: Page, served_studio: ServedStudio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page, url = browser_page, served_studio.url
    problems = watch(page)
    log_in(page, url, served_studio.token)
    assert page.get_by_role("link", name="tiny").is_visible()
    assert fits_phone(page)
    shot(page, tmp_path, "campaigns")

    page.get_by_role("link", name="tiny").click()
    page.wait_for_url(url + "/studio/campaigns/tiny")
    assert page.locator(".tile").count() == 17
    page.get_by_label("Kind").select_option("image")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**kind=image**")
    images = page.locator(".tile img")
    assert images.count() == page.locator(".tile").count() > 0
    images.first.scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('.tile img').naturalWidth > 0")
    assert fits_phone(page)
    shot(page, tmp_path, "gallery")

    page.locator(".tile a").first.click()
    page.wait_for_url("**/studio/assets/**")
    tree = page.locator("#manifest-tree")
    assert tree.is_visible() and "Actions (" in tree.inner_text() and "Generation" in tree.inner_text()
    assert page.locator("img.preview").evaluate("i => i.naturalWidth") > 0
    assert fits_phone(page)
    shot(page, tmp_path, "asset")

    key, chain = Studio(served_studio.workspace, password=PASSWORD).keys.issue_person(
        "rita", REVIEWER_UNIT, PASSWORD
    )
    monkeypatch.setenv(REVIEWER_KEY_ENV, str(save_reviewer(tmp_path / "rev", "rita", key, chain, "pw")))
    monkeypatch.setenv(REVIEWER_PASSWORD_ENV, "pw")
    page.goto(url + "/studio/review")
    page.get_by_role("button", name="Draw samples").first.click()
    page.wait_for_url("**done=**")
    assert "drew samples" in page.get_by_role("status").inner_text()
    first = page.locator(".group").first
    group = first.get_attribute("data-group")
    assert group
    first_url = page.url
    page.keyboard.press("j")  # focus the first group, then approve it with "a"
    assert page.evaluate("document.activeElement.dataset.group") == group
    page.keyboard.press("a")
    page.wait_for_url(lambda u: "done=" in u and u != first_url)
    assert "approved, signed by rita" in page.get_by_role("status").inner_text()
    assert page.locator(f'.group[data-group="{group}"] .state-approved').is_visible()
    shot(page, tmp_path, "review")
    with Studio(served_studio.workspace) as s:
        who = verified_decision(s.db, "tiny", group, s.keys.trust_anchor_pem())
        assert who is not None and who.name == "rita" and who.record.decision == "approve"
        assert group in Reviews(s.db).groups("tiny")
    assert problems == [], problems


def test_claim_royalties_in_the_browser(
    browser_page: Page,
    studio: Studio,
    shared_anvil: NodeInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain = studio.chain
    deploy_all(chain, studio.settings.governance)
    artist = str(Web3().eth.account.from_key(dev_key(5)).address)
    CatalogWriter(studio.db, studio.log).ensure_campaign("spring", "0" * 64, b"\x02" * 32)
    shares = [Share(chain.address, 7_000, "brand"), Share(artist, 3_000, "artist")]
    split = ensure_split(chain, studio.db, "spring", shares)
    chain.transact("RoyaltyVault", "deposit", split, ETH, 10**18, value=10**18, kind="test-deposit")
    token = TokenStore(studio.db).create("claimer", ["read", "publish"])[1]
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    page = browser_page
    problems = watch(page)
    with serving(create_app(studio)) as url:
        log_in(page, url, token, "/studio/royalties")
        assert "0.700000" in page.content() and "0.300000" in page.content()
        shot(page, tmp_path, "royalties")
        page.get_by_role("button", name="Claim").click()
        page.wait_for_url("**done=**")
        assert "claimed 0.7 ETH" in page.get_by_role("status").inner_text()
        assert page.get_by_role("button", name="Claim").is_disabled()
    assert claimable(chain, chain.address) == 0 and claimable(chain, artist) == 3 * 10**17
    assert problems == [], problems
