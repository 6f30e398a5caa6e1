"""Dynamic creative over real HTTP: `mintloom serve` (uvicorn) in its own process on loopback, on a
fresh workspace, an async httpx client, a real anvil node for the background anchorer. Measured,
each bounded in count and time: p50/p99 latency of uncached and cached renders of a 300×250 and a
1080² ad (enough requests that the p99 is not the maximum), the server's start (it warms its
renderers) and the first request after it (reported, excluded from the percentiles), where a new
render's time goes (the server's ``Server-Timing`` per stage), renders per second with two
requests in flight, and the anchoring lag (last render returned → its leaf anchored on chain)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx

from mintloom.bench import Figure
from mintloom.campaign.sample import dynamic_sample_spec, write_sample_campaign
from mintloom.ledger.anchoring import latest_on_chain
from mintloom.ledger.node import ANVIL_DEV_KEY, AnvilNode
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from mintloom.workspace import Workspace

PASSWORD = "bench-dynamic-password"
FORMATS = {"300x250": "medium-rectangle", "1080sq": "square"}
T = TypeVar("T")
BUDGET_SECONDS = 120.0
"""Each measured loop stops early past this many seconds."""
START_SECONDS = 600.0
"""How long a server may take to answer /health (its warm-up is CPU work: slow on a loaded machine)."""
START_NOTE = ("`mintloom serve` started until /health answers: imports, the catalog, and the warm-up of "
              "the renderers (each dynamic format made and signed in memory, nothing logged)")  # fmt: skip


def run(work: Path) -> list[Figure]:
    return measure(work)


def measure(work: Path, *, uncached: int = 120, cached: int = 300, parallel: int = 24) -> list[Figure]:
    """The figures, from ``uncached`` new renders and ``cached`` repeats per format and
    ``parallel`` new renders with two requests in flight."""
    node = AnvilNode(work / "chain")
    info = node.start()
    env = {"MINTLOOM_CHAIN__RPC_URL": info.rpc_url, "MINTLOOM_CHAIN__PRIVATE_KEY": ANVIL_DEV_KEY}
    try:
        root, secret = _workspace(work, env)
        with ThreadPoolExecutor(1) as own_loop:  # its own event loop: the caller's may run one
            t0 = time.perf_counter()
            with _server(root, env) as base:
                started = Figure("dynamic_server_start_s", time.perf_counter() - t0, "s", note=START_NOTE)
                load = _load(root, base, secret, env, uncached=uncached, cached=cached, parallel=parallel)
                figures = [started, *own_loop.submit(asyncio.run, load).result()]
            with _server(root, env, workers=2) as base:
                two = _two_workers(base, secret, parallel, uncached * len(FORMATS) + 2 * parallel)
                figures.append(own_loop.submit(asyncio.run, two).result())
            return figures
    finally:
        node.stop()


def _workspace(work: Path, env: dict[str, str]) -> tuple[Path, str]:
    """A workspace with the sample dynamic campaign, deployed contracts and a render token."""
    ws = Workspace.init(work / "ws")
    write_sample_campaign(ws.root / "campaign", dynamic_sample_spec())
    with ws.config_file.open("a", encoding="utf-8") as f:
        f.write("\n[dynamic]\nanchor_every_seconds = 1.0\nrate_per_second = 100000\nburst = 100000\n")
        f.write('[dynamic.campaigns]\nlive = "campaign/campaign.yaml"\n')
    with _environ(env), Studio(ws, password=PASSWORD) as studio:
        studio.ensure_keys()
        studio.contracts()
        secret = TokenStore(studio.db).create("bench", ["render"])[1]
    return ws.root, secret


@contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    """``env`` set in this process's environment (where settings are read) for a while."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _mintloom() -> str:
    """The installed `mintloom` command (the bench sits below the CLI: it runs it, never imports it)."""
    beside = Path(sys.executable).with_name("mintloom")
    found = str(beside) if beside.exists() else shutil.which("mintloom")
    if found is None:
        raise RuntimeError("the mintloom command is not installed")
    return found


@contextmanager
def _server(root: Path, env: dict[str, str], *, workers: int = 1) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    full = {**os.environ, **env, "MINTLOOM_WORKSPACE": str(root), "MINTLOOM_KEY_PASSWORD": PASSWORD}
    cmd = [_mintloom(), "serve", "--port", str(port), "--offline", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def _load(
    root: Path, base: str, secret: str, env: dict[str, str], *, uncached: int, cached: int, parallel: int
) -> list[Figure]:
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as c:
        first, _r = await _post(c, "medium-rectangle", {"offer": 90})  # excluded from the percentiles
        figures = [Figure("dynamic_first_request_ms", first, "ms", note=FIRST_NOTE)]
        offer = 0
        for label, fmt in FORMATS.items():
            new = [{"offer": o % 91, "price": 1.0 + o} for o in range(offer, offer + uncached)]
            offer += uncached
            cold = [await _post(c, fmt, v) for v in _bounded(new)]
            hot = [await _post(c, fmt, new[i % len(cold)], expect="hit") for i in _bounded(range(cached))]
            figures += _latency(label, "uncached", cold, 150.0 if label == "300x250" else None)
            figures += _latency(label, "cached", hot, 20.0)
        figures.append(await _throughput(c, parallel, offer))
        figures.append(await _anchoring_lag(c, root, env, offer + parallel))
    return figures


FIRST_NOTE = ("the first render after the server answered /health (a new 300x250): what a first "
              "request still pays after the warm-up; not part of the percentiles")  # fmt: skip


def _bounded(items: Iterable[T]) -> Iterator[T]:
    """``items`` until :data:`BUDGET_SECONDS` have passed."""
    deadline = time.monotonic() + BUDGET_SECONDS
    for item in items:
        if time.monotonic() > deadline:
            return
        yield item


async def _post(
    c: httpx.AsyncClient, fmt: str, variables: object, *, expect: str = "miss"
) -> tuple[float, httpx.Response]:
    """One render and its latency in ms; a hit where a new render was meant (or the reverse)
    would measure the wrong path, so it stops the bench."""
    t0 = time.perf_counter()
    r = await c.post(f"/campaigns/live/render?format={fmt}", json=variables)
    dt = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"render failed: {r.status_code} {r.text[:200]}")
    if r.headers["X-Mintloom-Cache"] != expect:
        why = r.headers.get("X-Mintloom-Error")  # a fallback is the fallback's (cached) render
        raise RuntimeError(
            f"expected a cache {expect}, got {r.headers['X-Mintloom-Cache']} for {fmt} {variables}"
            + (f" (the fallback was served: {why})" if why else "")
        )
    return dt, r


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def _latency(
    label: str, kind: str, samples: list[tuple[float, httpx.Response]], p99_target: float | None
) -> list[Figure]:
    ms = [t for t, _ in samples]
    rank = len(ms) - 1 - min(len(ms) - 1, round(0.99 * (len(ms) - 1)))
    note = (f"{len(ms)} sequential POST renders (p99 = the {_ordinal(rank + 1)} slowest) over loopback "
            "HTTP to `mintloom serve` in its own process, after the warm-up request")  # fmt: skip
    if kind == "uncached":
        note += "; each a new job: generate, encode, QA, sign, fingerprint, store, log, commit, then reply"
        note += "; " + _stages(samples)
    else:
        note += "; inputs rendered before: answered from the server's in-memory hit cache, no new leaf"
    return [
        Figure(f"dynamic_{kind}_{label}_p50_ms", _pct(ms, 50), "ms", note=note),
        Figure(f"dynamic_{kind}_{label}_p99_ms", _pct(ms, 99), "ms", p99_target, "<=", note=note),
    ]


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def server_timing(r: httpx.Response) -> dict[str, float]:
    """A response's ``Server-Timing`` stages in ms (none for a hit)."""
    parts = [p.split(";dur=") for p in r.headers.get("Server-Timing", "").split(", ") if ";dur=" in p]
    return {name: float(dur) for name, dur in parts}


def _stages(samples: list[tuple[float, httpx.Response]], slowest: int = 3) -> str:
    """Where the time went, from the server's per-stage timings: the median of each stage, and
    the stages of each of the ``slowest`` requests (what made the tail: the p99 is one of them,
    and one stall alone would not show whether the others share its cause); 'http' is the rest
    of the client's time."""
    rows = [(t, server_timing(r)) for t, r in samples]
    if not rows:
        return "no stage timings"
    names = list(rows[0][1])
    med = {n: _pct([st.get(n, 0.0) for _, st in rows], 50) for n in names}
    med["http"] = _pct([t - sum(st.values()) for t, st in rows], 50)
    tail = sorted(rows, key=lambda row: row[0], reverse=True)[:slowest]
    shown = [f"{t:.0f} ms = {_shown({**st, 'http': t - sum(st.values())})}" for t, st in tail]
    return f"stage medians ms: {_shown(med)}; the {len(tail)} slowest: " + "; ".join(shown)


def _shown(stages: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in stages.items())


async def _throughput(c: httpx.AsyncClient, n: int, start: int) -> Figure:
    rate, done = await _rate(c, n, start, in_flight=2)
    note = (f"{done} new 300x250 renders, two requests in flight, one server process: its renders "
            "take turns (one render lock per process), so this is the one-process rate")  # fmt: skip
    return Figure("dynamic_uncached_renders_per_s_2_in_flight", rate, "renders/s", note=note)


async def _two_workers(base: str, secret: str, n: int, start: int) -> Figure:
    """The rate of `mintloom serve --workers 2` (a server started anew on the same workspace)."""
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as c:
        await _post(c, "medium-rectangle", {"offer": 90, "price": 7000.0})  # not counted
        rate, done = await _rate(c, n, start, in_flight=4)
    note = (f"{done} new 300x250 renders, four requests in flight to `mintloom serve --workers 2`: "
            "the workers render in parallel, their commits take turns through the catalog's write "
            "lock; compare dynamic_uncached_renders_per_s_2_in_flight (one process, same run)")  # fmt: skip
    return Figure("dynamic_uncached_renders_per_s_2_workers", rate, "renders/s", note=note)


async def _rate(c: httpx.AsyncClient, n: int, start: int, *, in_flight: int) -> tuple[float, int]:
    """Renders per second of ``n`` new 300x250 renders, ``in_flight`` at a time."""
    queue = list(range(start, start + n))

    async def worker() -> int:
        done = 0
        while queue:
            o = queue.pop()
            await _post(c, "medium-rectangle", {"offer": o % 91, "price": 5000.0 + o})
            done += 1
        return done

    t0 = time.perf_counter()
    done = sum(await asyncio.gather(*(worker() for _ in range(in_flight))))
    return done / (time.perf_counter() - t0), done


async def _anchoring_lag(c: httpx.AsyncClient, root: Path, env: dict[str, str], offer: int) -> Figure:
    _dt, r = await _post(c, "medium-rectangle", {"offer": offer % 91, "price": 9000.0})
    t0 = time.perf_counter()
    index = int(r.headers["X-Mintloom-Log-Index"])
    with _environ(env), Studio(Workspace(root)) as studio:
        while latest_on_chain(studio.chain).size <= index and time.perf_counter() - t0 < BUDGET_SECONDS:
            await asyncio.sleep(0.1)
    note = ("from a render's reply to the on-chain checkpoint covering its leaf, with the background "
            "anchorer at anchor_every_seconds = 1 on anvil (chain polled every 0.1 s)")  # fmt: skip
    return Figure("dynamic_anchoring_lag_s", time.perf_counter() - t0, "s", note=note)
