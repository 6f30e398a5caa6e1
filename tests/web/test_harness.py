"""The browser tests can never pass by being skipped in CI: without chromium they fail there, with
what to install (elsewhere they are skipped). Run in a child pytest (its start-up is most of the time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_missing_chromium_fails_the_browser_tests_in_ci() -> None:
    env = {**os.environ, "MINTLOOM_CHROMIUM": "/nonexistent/chromium", "CI": "1"}
    test = "tests/web/test_verify_page.py::test_chosen_foreign_credential_shows_its_signer"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", test]
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "1 error" in out, out
    assert "no chromium at /nonexistent/chromium (apt-get install -y chromium)" in out
    assert "CI runs the browser tests (.ci/run installs chromium" in out
