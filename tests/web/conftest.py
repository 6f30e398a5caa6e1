"""The browser harness: Debian's chromium driven by Playwright (sync API), and a real uvicorn server
over a workspace where the sample campaign ran, both once per session (CI has 2 cores).

Playwright's own browser download is not used (there is no network for it): the fixtures point
Playwright at the system's chromium. Outside CI a missing chromium or playwright skips the browser
tests; in CI (``CI`` set) it fails them with what to install, so they can never be silently skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn

from mintloom.api.app import create_app
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD, sample_studio

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS_ENV = "MINTLOOM_SCREENSHOTS"
"""A folder to copy every test's screenshot into as well (e.g. docs/screenshots when refreshing them)."""


def _missing(what: str) -> None:
    """Fail in CI (the browser tests must run there), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}: CI runs the browser tests (.ci/run installs chromium; pip install -e '.[dev]')")
    pytest.skip(what)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """The system chromium (``MINTLOOM_CHROMIUM`` overrides the path)."""
    path = Path(os.environ.get("MINTLOOM_CHROMIUM", CHROMIUM))
    if not (path.is_file() and os.access(path, os.X_OK)):
        _missing(f"no chromium at {path} (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Browser]:
    """One headless chromium for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install 'playwright==1.64.*')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[Page]:
    """A fresh page (own context: no cookies shared between tests) at desktop width."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@dataclass(frozen=True)
class ServedStudio:
    """A running ``mintloom serve`` app: its URL, workspace, and a token with every scope."""

    url: str
    workspace: Workspace
    token: str


@pytest.fixture(scope="session")
def served_studio(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path) -> Iterator[ServedStudio]:
    """uvicorn on a free loopback port serving the app over a workspace where the sample campaign
    (17 assets) ran; the key password is in the environment, as `mintloom serve` would have it.
    (It asks for ``chromium_path`` so a missing browser fails before the workspace is built.)"""
    writer = sample_studio(tmp_path_factory.mktemp("web"))
    writer.close()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINTLOOM_KEY_PASSWORD", PASSWORD)
        studio = Studio(writer.workspace, password=PASSWORD)
        token = TokenStore(studio.db).create("browser", ["read", "review", "publish", "admin"])[1]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))  # the kernel picks a free port: no race with other servers
        server = uvicorn.Server(uvicorn.Config(create_app(studio, offline=True), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            _wait_started(server)
            yield ServedStudio(f"http://127.0.0.1:{sock.getsockname()[1]}", writer.workspace, token)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            sock.close()
            studio.close()


def _wait_started(server: uvicorn.Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the test server did not start")
        time.sleep(0.05)


class Screenshots:
    """Saves full-page screenshots of a test into its tmp dir (and :data:`SCREENSHOTS_ENV`'s folder)."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page = page
        self.folder = folder

    def take(self, name: str) -> Path:
        path = self.folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        extra = os.environ.get(SCREENSHOTS_ENV)
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path


@pytest.fixture
def screenshots(browser_page: Page, tmp_path: Path) -> Screenshots:
    return Screenshots(browser_page, tmp_path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """All browser tests on one xdist worker (`make test` runs two): one chromium, one server."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.xdist_group("web"))
