"""`mintloom serve --workers 2`: two processes render at once, the single-writer rule holds across
them (identical concurrent requests → one leaf, one CID), and one process runs the anchorer."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from mintloom.api.render import anchorer_lock
from mintloom.studio import Studio
from tests.conftest import PASSWORD
from tests.dynamic.conftest import render_token, serve_dynamic
from tests.dynamic.test_crash import URL, server

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ONE_SHOT = httpx.Limits(max_keepalive_connections=0)
"""A connection per request: the workers accept from one socket, a kept-alive one stays with one."""
RAINY = {"weather": "rainy", "offer": 20, "price": 3.5}


def _workers(pid: int) -> list[int]:
    """The server's worker processes (its children running multiprocessing's spawn)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_two_workers_log_identical_concurrent_requests_once(studio: Studio) -> None:
    served = serve_dynamic(studio, "anchorer = false\n")
    auth = render_token(served)
    publisher = render_token(served, "publish", name="studio-user")["Authorization"].removeprefix("Bearer ")
    root = served.workspace.root
    served.close()
    with server(root, None, "--workers", "2") as (proc, base, log), ThreadPoolExecutor(8) as pool:
        assert len(_workers(proc.pid)) == 2
        _studio_session_holds_on_every_worker(base, publisher)

        def post(variables: dict[str, object]) -> httpx.Response:
            return httpx.post(base + URL, json=variables, headers=auth, timeout=120)

        same = list(pool.map(post, [RAINY] * 8))
        new = list(pool.map(post, [{"offer": o} for o in range(6)]))
    failed = [r.text for r in same + new if r.status_code != 200]
    assert not failed, (failed, log.read_text(errors="replace")[-20000:])
    assert len({r.headers["X-Mintloom-CID"] for r in same}) == 1
    assert len({r.content for r in same}) == 1
    assert len({r.headers["X-Mintloom-Log-Index"] for r in same}) == 1
    assert len({r.headers["X-Mintloom-Log-Index"] for r in new}) == 6
    check = Studio(served.workspace, password=PASSWORD)
    try:
        check.log.refresh()
        assert check.log.size == 7  # one leaf for the eight identical requests, one per new one
        for r in same + new:
            assert check.log.index_of(r.headers["X-Mintloom-CID"]) == int(r.headers["X-Mintloom-Log-Index"])
    finally:
        check.close()


def _studio_session_holds_on_every_worker(base: str, secret: str) -> None:
    """One studio login is good on both workers (each made its own cookie key: every request
    that met the other worker was logged out, and a CSRF token from one failed on the other), and
    a run, whose state would live in one worker only, is refused by name."""
    for _ in range(6):  # a fresh browser each time: its login form and post meet either worker
        with httpx.Client(base_url=base, timeout=120, follow_redirects=False, limits=ONE_SHOT) as fresh:
            form = fresh.get("/studio/login")
            found = CSRF.search(form.text)
            assert found is not None, form.status_code
            r = fresh.post("/studio/login", data={"token": secret, "csrf": found.group(1)})
            assert r.status_code == 303 and "login" not in r.headers["location"], r.text
    with httpx.Client(base_url=base, timeout=120, follow_redirects=False, limits=ONE_SHOT) as c:
        form = c.get("/studio/login")
        found = CSRF.search(form.text)
        assert found is not None
        assert c.post("/studio/login", data={"token": secret, "csrf": found.group(1)}).status_code == 303
        pages = [c.get("/studio/campaigns") for _ in range(12)]
        assert all(p.status_code == 200 for p in pages), [p.status_code for p in pages]
        runs = c.post(
            "/runs", json={"spec": "campaign/campaign.yaml"}, headers={"Authorization": f"Bearer {secret}"}
        )
        assert runs.status_code == 503 and "several worker processes" in runs.text, runs.text


def test_only_the_process_holding_the_lock_runs_the_anchorer(tmp_path: Path) -> None:
    lock = tmp_path / "anchorer.lock"
    with anchorer_lock(lock) as first, anchorer_lock(lock) as second:
        assert first and not second  # flock: a second holder is refused, in this or another process
    with anchorer_lock(lock) as again:
        assert again  # released with the server that held it
