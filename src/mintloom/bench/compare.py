"""Side-by-side figures: the compositor against the peer (satori + resvg), the complete asset
through the campaign runner, and each output encoding's throughput (see :mod:`.peer`)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from mintloom.bench import Figure
from mintloom.bench.peer import ad_for, load_note, request, running_peer
from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import MESSAGES, write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.engines.image import ImageCompositor
from mintloom.studio import Studio
from mintloom.workspace import Workspace

ENCODINGS = ("png", "jpeg", "webp")
PASSWORD = "bench-password"


def campaign_yaml(name: str, encoding: str, fmt: str = "square") -> str:
    """A one-locale campaign of ``fmt`` ads in ``encoding``, the sample brand's templated messages."""
    head, body, cta = MESSAGES["en-US"]
    return (
        f"campaign: {name}\nseed: 5\nbrand:\n  name: Lumen\n"
        '  palette: ["#0b3d91", "#1e88e5", "#ffb300", "#fafafa"]\n  logo: logo.png\n  messages:\n'
        f'    en-US:\n      headline: "{head}"\n      body: "{body}"\n      cta: "{cta}"\n'
        f"audience: audience.csv\nlocales: [en-US]\nformats: [{{name: {fmt}, encoding: {encoding}}}]\n"
        f"master: {fmt}\naudio:\n  enabled: false\n"
    )


def audience_csv(rows: int, start: int = 0, duplicate_every: int = 0) -> str:
    """``rows`` audience segments; with ``duplicate_every`` n, every n-th row repeats its
    predecessor's values under its own segment name (the same ad twice)."""
    lines = ["segment,name,city,offer,currency,price,deadline"]
    for i in range(start, start + rows):
        j = i - 1 if duplicate_every and i % duplicate_every == 0 else i
        lines.append(f"s{i},Name{j},City{j % 97},{10 + j % 40},EUR,{3 + j % 7}.90,2026-12-31")
    return "\n".join(lines) + "\n"


def runner_seconds_per_asset(studio: Studio, work: Path, name: str, encoding: str, n: int) -> float:
    """Wall seconds per asset of ``mintloom run``'s runner (one worker) over ``n`` fresh ads."""
    path = write_sample_campaign(work / name, campaign_yaml(name, encoding), audience_csv(n))
    runner = CampaignRunner(studio.run_parts(), load_spec(path), workers=1, batch_size=n)
    summary = runner.generate(runner.plan())
    if summary.new_assets != n:
        raise RuntimeError(f"bench campaign {name} made {summary.new_assets} assets, expected {n}")
    return summary.seconds / n


def run(work: Path, rounds: int = 3, per_round: int = 6) -> list[Figure]:
    studio = Studio(Workspace.init(work / "ws"), password=PASSWORD)
    studio.ensure_keys()
    engine = ImageCompositor()
    seeds = range(1, per_round + 1)
    ads = [ad_for(engine.compose(request(s))) for s in seeds]
    peer_ms: list[float] = []
    peer_round_ms: list[float] = []
    comp_ms: list[float] = []
    asset_s: dict[str, list[float]] = {e: [] for e in ENCODINGS}
    try:
        runner_seconds_per_asset(studio, work, "warm", "png", 2)  # imports, fonts, keys
        with running_peer() as peer:
            peer.render(ads[:2])
            for r in range(rounds):
                round_ms = peer.render(ads)[0]
                peer_ms += round_ms
                peer_round_ms.append(statistics.median(round_ms))
                for s in seeds:
                    t0 = time.perf_counter()
                    engine.generate(request(s))
                    comp_ms.append(1000 * (time.perf_counter() - t0))
                for enc in ENCODINGS:
                    asset_s[enc].append(runner_seconds_per_asset(studio, work, f"r{r}-{enc}", enc, per_round))
    finally:
        studio.close()
    return figures(
        statistics.median(peer_ms), statistics.median(comp_ms), asset_s, load_note(), peer_round_ms
    )


def figures(
    peer: float, comp: float, asset_s: dict[str, list[float]], load: str, peer_rounds: list[float]
) -> list[Figure]:
    """The figures; ``peer_rounds`` is the peer's median ms in each round, beside the runner's PNG
    seconds per asset of the same round (``asset_s["png"]``): the complete asset's ratio is taken
    round by round, the two measured within seconds of each other, and its median reported."""
    complete = 1000 * statistics.median(asset_s["png"])
    per_round = [1000 * s / p for s, p in zip(asset_s["png"], peer_rounds, strict=True)]
    same = f"1080x1080 ad (gradient, shapes, logo, 2-line bold headline, body, CTA); {load}"
    out = [
        Figure("peer_satori_resvg_ms_per_ad", peer, "ms", note=f"satori + resvg-js, PNG out; {same}"),
        Figure("compositor_ms_per_ad", comp, "ms", note=f"generate + PNG encode, the same ads; {same}"),
        Figure(
            "compositor_vs_peer_ratio",
            comp / peer,
            "x",
            1.0,
            "<=",
            "compositor generate+encode / peer render",
        ),
        Figure(
            "complete_asset_vs_peer_ratio",
            statistics.median(per_round),
            "x",
            1.3,
            "<=",
            f"runner per PNG asset (median {complete:.0f} ms: generate, encode, 11 fingerprints, C2PA sign, "
            "CID, catalog + log, export) / peer's unsigned render, median of the per-round ratios (both "
            f"measured in the same round) over {len(per_round)} rounds, rounds "
            f"{min(per_round):.2f}..{max(per_round):.2f}",
        ),
    ]
    for enc in ENCODINGS:
        rate = 1 / statistics.median(asset_s[enc])
        out.append(
            Figure(
                f"runner_{enc}_assets_per_s",
                rate,
                "assets/s",
                note=f"complete signed 1080x1080 {enc}, 1 worker",
            )
        )
    return out
