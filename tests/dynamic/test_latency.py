"""What keeps a render's tail short: the server warms its renderers before the first request
(in memory: nothing stored or logged), hides what is alive then from the garbage collector, and
says in ``Server-Timing`` where a new render's time went."""

from __future__ import annotations

import gc

from mintloom.api.render import RenderService
from mintloom.store.catalog import Catalog
from tests.dynamic.conftest import Live

RAINY = {"weather": "rainy", "offer": 20, "price": 3.5}


def _service(live: Live) -> RenderService:
    service = live.client.app.state.render  # type: ignore[attr-defined]
    assert isinstance(service, RenderService)
    return service


def test_startup_warms_every_format_in_memory_and_logs_nothing(live: Live) -> None:
    renderer = _service(live).renderers().renderer("live")
    formats = renderer.loaded.spec.dynamic_formats()
    assert len(formats) >= 2
    # every dynamic format was planned (and so rendered) at startup, before any request
    fallback = renderer.variables(renderer.dynamic.fallback)
    assert all(renderer._job(fallback, f) for f in formats)
    assert len(renderer._keys) == len(formats)
    assert live.log_size() == 0
    assert Catalog(live.studio.db).job_asset(renderer._job(fallback, formats[0]).key) is None
    assert not [p for p in live.studio.workspace.blobs_dir.rglob("*") if p.is_file()]


def test_what_startup_loaded_is_frozen_out_of_the_collector_while_serving(live: Live) -> None:
    assert gc.get_freeze_count() > 10_000  # the modules, engines, fonts and keys of the warm-up


def test_a_new_render_says_where_its_time_went_and_a_hit_does_not(live: Live) -> None:
    first = live.render(RAINY)
    assert first.status_code == 200, first.text
    timing = dict(part.split(";dur=") for part in first.headers["Server-Timing"].split(", "))
    stages = ("plan", "lock", "generate", "encode", "qa", "fingerprint", "sign", "log", "catalog")
    for stage in (*stages, "runner", "result"):
        assert float(timing[stage]) >= 0.0, stage
    assert float(timing["generate"]) > 0.0
    again = live.render(RAINY)
    assert again.headers["X-Mintloom-Cache"] == "hit"
    assert "Server-Timing" not in again.headers
