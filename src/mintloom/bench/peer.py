"""Side by side with the peer: satori + @resvg/resvg-js (bench/peer.mjs) against the compositor.

Both draw the same 1080x1080 ads in the same run: the compositor's composition (gradient colours
and angle, shapes, logo box, text sizes and positions, button) is handed to the peer, so the peer
lays out the same design at the same sizes. Timing alternates rounds of peer and compositor so
the machine's load (it is shared) hits both alike; the compositor's figure is a ratio of medians,
the complete asset's the median of the rounds' ratios (runner and peer of the same round).

The complete asset is what ``mintloom run`` does per ad, measured through the campaign runner
itself (one worker): generate + encode, the 11 registration fingerprints, C2PA signing, the CID,
the catalog row and log leaf, and the exported file. Its encodings (PNG, JPEG, WebP) each get a
campaign of their own in every round.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mintloom.campaign.sample import logo_path
from mintloom.engines.base import FORMATS, BrandStyle, GenerationRequest
from mintloom.engines.fonts import font_path
from mintloom.engines.image import Composition, ImageCompositor, Shape
from mintloom.engines.layout import Box
from mintloom.engines.params import ImageParams
from mintloom.errors import MintloomError
from mintloom.resources import source_tree

BRAND = BrandStyle(palette=("#0b3d91", "#1e88e5", "#ffb300", "#fafafa"), logo_png=logo_path().read_bytes())
TEXTS = ImageParams(
    headline="Summer sale: everything you love at half the price",
    body="Free delivery on orders over $50. Ends Sunday.",
    cta="Shop now",
)
Json = dict[str, object]


class PeerUnavailable(MintloomError):
    """The peer (node with satori and @resvg/resvg-js) cannot run here."""


NAMES = ("Alex", "Casey", "Robin", "Sam", "Jordan", "Kim", "Noa", "Mika", "Toni", "Ezra", "Lou", "Ari")


def request(seed: int) -> GenerationRequest:
    """A bench ad; its texts differ per seed (as per audience row), so no text layout is reused."""
    name = NAMES[seed % len(NAMES)]
    params = TEXTS.model_copy(update={"headline": f"{name}, it is the summer sale"})
    return GenerationRequest(
        kind="image", seed=seed, locale="en-US", brand=BRAND, format=FORMATS["square"], params=params
    )


def _box(b: Box) -> Json:
    return {"x": b.x0, "y": b.y0, "w": b.width, "h": b.height}


def _shape(s: Shape, width: int, height: int) -> Json:
    scale = (width * height) ** 0.5
    return {
        "kind": s.kind,
        "cx": s.cx * width,
        "cy": s.cy * height,
        "r": s.r * scale,
        "colour": list(s.colour),
        "alpha": s.alpha,
    }


def ad_for(comp: Composition) -> Json:
    """The peer's description of ``comp``: the same design, sizes and positions."""
    w, h = comp.image.size
    r = comp.recipe
    lum = sum(r.base) / (3 * 255)
    shade = [round(c * 0.8) if lum > 0.35 else round(c + (255 - c) * 0.2) for c in r.base]
    texts = {p.field: p for p in comp.texts}
    if comp.logo is None or comp.button is None or set(texts) != {"headline", "body", "cta"}:
        raise MintloomError("the bench ad needs a logo, a headline, a body and a CTA")

    def text(field: str, spacing: float) -> Json:
        p = texts[field]
        return {
            "text": comp.messages[field],
            "size": p.size,
            "x": p.ink.x0,
            "y": p.ink.y0,
            "w": p.region.width,
            "colour": list(int(p.colour[i : i + 2], 16) for i in (1, 3, 5)),
            "line_height": spacing,
        }

    cta, button = texts["cta"], comp.button
    return {
        "width": w,
        "height": h,
        "angle": r.angle,
        "base": list(r.base),
        "shade": shade,
        "shapes": [_shape(s, w, h) for s in r.shapes],
        "logo": _box(comp.logo),
        "headline": text("headline", 1.12),
        "body": text("body", 1.27),
        "button": {
            **_box(button),
            "radius": max(3, button.height // 4),
            "shadow": max(1, button.height // 14),
            "colour": list(r.accent),
            "text": comp.messages["cta"],
            "size": cta.size,
            "text_colour": list(int(cta.colour[i : i + 2], 16) for i in (1, 3, 5)),
        },
    }


@dataclass
class Peer:
    """A running bench/peer.mjs: send a batch of ads, get per-ad milliseconds and PNG sizes."""

    proc: subprocess.Popen[str]

    def render(self, ads: list[Json], out: Path | None = None) -> tuple[list[float], list[int]]:
        reply = self._ask({"ads": ads, "out": str(out) if out else None})
        ms, sizes = reply.get("ms"), reply.get("bytes")
        if not isinstance(ms, list) or not isinstance(sizes, list) or len(ms) != len(ads):
            raise PeerUnavailable(f"the peer answered {reply!r}")
        return [float(x) for x in ms], [int(x) for x in sizes]

    def _ask(self, msg: Json) -> Json:
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(msg) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise PeerUnavailable(f"the peer exited ({self.proc.wait(timeout=10)})")
        reply: Json = json.loads(line)
        return reply

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        if self.proc.stdin is None or self.proc.stdout is None:
            raise PeerUnavailable("the peer has no pipes")
        return self.proc.stdin, self.proc.stdout


def peer_script() -> Path:
    root = source_tree()
    node = shutil.which("node")
    if root is None or node is None or not (root / "node_modules" / "satori").is_dir():
        raise PeerUnavailable(
            "the peer needs a checkout with node and its npm devDependencies (satori, @resvg/resvg-js)",
            hint="run `make setup` in the checkout",
        )
    return root / "bench" / "peer.mjs"


@contextmanager
def running_peer() -> Iterator[Peer]:
    """bench/peer.mjs started once with the compositor's own font files and the bench logo."""
    script = peer_script()
    proc = subprocess.Popen(
        ["node", str(script)],
        cwd=script.parent.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    peer = Peer(proc)
    try:
        fonts = {"regular": str(font_path("latin", "regular")), "bold": str(font_path("latin", "bold"))}
        if not peer._ask({"fonts": fonts, "logo": str(logo_path())}).get("ready"):
            raise PeerUnavailable("the peer did not start")
        yield peer
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class SideBySide:
    peer_ms: float
    compositor_ms: float
    peer_bytes: float
    compositor_bytes: float


def side_by_side(rounds: int, per_round: int) -> SideBySide:
    """Median per-ad ms of the peer and of the compositor's generate + encode, in alternating rounds."""
    engine = ImageCompositor()
    seeds = range(1, per_round + 1)
    ads = [ad_for(engine.compose(request(s))) for s in seeds]
    engine.generate(request(0))  # warm fonts and caches, as the peer warms its own below
    peer_ms: list[float] = []
    comp_ms: list[float] = []
    peer_b: list[int] = []
    comp_b: list[int] = []
    with running_peer() as peer:
        peer.render(ads[:2])
        for _ in range(rounds):
            ms, sizes = peer.render(ads)
            peer_ms += ms
            peer_b += sizes
            for s in seeds:
                t0 = time.perf_counter()
                data = engine.generate(request(s)).data
                comp_ms.append(1000 * (time.perf_counter() - t0))
                comp_b.append(len(data))
    return SideBySide(
        statistics.median(peer_ms),
        statistics.median(comp_ms),
        statistics.fmean(peer_b),
        statistics.fmean(comp_b),
    )


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f}/{five:.1f} on {os.cpu_count()} cores"
