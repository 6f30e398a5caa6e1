"""The side-by-side bench at a small size: both renderers draw the same ad, every figure is made
(timings are reported, never asserted)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from mintloom.bench import compare
from mintloom.bench.peer import ad_for, request, running_peer
from mintloom.engines.image import ImageCompositor


def test_the_peer_draws_the_compositors_design_at_its_size(tmp_path: Path) -> None:
    comp = ImageCompositor().compose(request(3))
    ad = ad_for(comp)
    assert ad["headline"]["text"] == comp.messages["headline"]  # type: ignore[index]
    with running_peer() as peer:
        ms, sizes = peer.render([ad], tmp_path)
    assert len(ms) == 1 and ms[0] > 0
    data = (tmp_path / "peer-0.png").read_bytes()
    assert len(data) == sizes[0]
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == comp.image.size == (1080, 1080)
        # the same background colour family: the corners differ from the compositor's by little
        ours, theirs = comp.image.convert("RGB"), img.convert("RGB")
        for xy in ((540, 1070), (5, 600)):
            assert (
                sum(abs(a - b) for a, b in zip(ours.getpixel(xy), theirs.getpixel(xy), strict=True)) < 90
            ), xy


def test_every_compare_figure_is_made_at_a_small_size(tmp_path: Path) -> None:
    figures = {f.name: f for f in compare.run(tmp_path, rounds=1, per_round=2)}
    assert set(figures) == {
        "peer_satori_resvg_ms_per_ad",
        "compositor_ms_per_ad",
        "compositor_vs_peer_ratio",
        "complete_asset_vs_peer_ratio",
        "runner_png_assets_per_s",
        "runner_jpeg_assets_per_s",
        "runner_webp_assets_per_s",
    }
    assert all(f.value > 0 for f in figures.values())
    ratio = figures["compositor_vs_peer_ratio"]
    assert ratio.value == figures["compositor_ms_per_ad"].value / figures["peer_satori_resvg_ms_per_ad"].value
    assert ratio.target == 1.0 and figures["complete_asset_vs_peer_ratio"].target == 1.3
    assert "load average" in figures["peer_satori_resvg_ms_per_ad"].note


def test_duplicated_audience_rows_repeat_their_predecessor() -> None:
    rows = compare.audience_csv(6, duplicate_every=3).splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == [f"s{i}" for i in range(6)]
    assert (
        rows[3].split(",")[1:] == rows[2].split(",")[1:] and rows[4].split(",")[1:] != rows[3].split(",")[1:]
    )


def test_complete_asset_ratio_is_the_median_of_the_rounds_ratios() -> None:
    # the runner and the peer slow down together in round 2 (load), and the peer is quick in round 3:
    # per round 2, 2 and 5 (median 2); a ratio of medians would pair round 3's runner with round 3's peer
    # only by chance (median runner 300 ms / median peer 60 ms = 5)
    asset_s = {"png": [0.1, 0.4, 0.3], "jpeg": [0.1, 0.1, 0.1], "webp": [0.1, 0.1, 0.1]}
    figures = {f.name: f for f in compare.figures(60.0, 50.0, asset_s, "load", [50.0, 200.0, 60.0])}
    ratio = figures["complete_asset_vs_peer_ratio"]
    assert ratio.value == 2.0
    assert "over 3 rounds, rounds 2.00..5.00" in ratio.note and "median 300 ms" in ratio.note
