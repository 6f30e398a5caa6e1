"""The README's benchmark table, generated from ``bench/results.json`` (never copied by hand).

``python -m mintloom.bench.readme [--check]`` rewrites the table between the README's
``<!-- bench-table:start -->`` and ``<!-- bench-table:end -->`` markers (``make bench`` runs it
after the benchmarks); ``--check`` only says whether the README is current (exit 1 if not).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from mintloom.errors import MintloomError

START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


@dataclass(frozen=True)
class Row:
    label: str
    names: tuple[str, ...]
    """Figures shown in this row, joined with " / " (a row of several shares one label)."""
    unit: str = ""


# curated rows first (in this order); any other figure with a target follows under its own name
ROWS: tuple[Row, ...] = (
    Row("1080×1080 image assets per second, one worker", ("image_1080_assets_per_s_per_worker",)),
    Row(
        "throughput with 2 workers / 1 worker: wall clock / CPU",
        ("image_2_worker_scaling", "image_2_worker_scaling_cpu"),
        unit="×",
    ),
    Row("peer: satori + resvg per ad (PNG)", ("peer_satori_resvg_ms_per_ad",), unit=" ms"),
    Row("compositor per ad (generate + PNG encode)", ("compositor_ms_per_ad",), unit=" ms"),
    Row("compositor / peer", ("compositor_vs_peer_ratio",), unit="×"),
    Row(
        "complete signed asset (runner) / peer's unsigned render", ("complete_asset_vs_peer_ratio",), unit="×"
    ),
    Row(
        "complete signed assets per second: PNG / JPEG / WebP",
        ("runner_png_assets_per_s", "runner_jpeg_assets_per_s", "runner_webp_assets_per_s"),
    ),
    Row(
        "provenance overhead / (generate + encode): wall clock / CPU",
        ("provenance_overhead_ratio", "provenance_overhead_ratio_cpu"),
    ),
    Row(
        "Merkle appends / inclusion proofs per second",
        ("merkle_append_leaves_per_s", "merkle_inclusion_proofs_per_s"),
    ),
    Row(
        "anchor gas per asset, checkpoints of 1k / 10k / 100k assets",
        ("anchor_gas_per_asset_1000", "anchor_gas_per_asset_10000", "anchor_gas_per_asset_100000"),
    ),
    Row("lazy registration (inclusion proof + ERC-721 mint), gas", ("lazy_registration_gas",)),
    Row("verify one signed 1080×1080 PNG offline", ("verify_ms_per_1080_png",), unit=" ms"),
    Row(
        "verify DIR, files per second per core: offline / online",
        ("verify_dir_files_per_s_offline", "verify_dir_files_per_s_online"),
    ),
    Row("nearest fingerprint among 1M (p99)", ("fingerprint_lookup_ms_at_1M",), unit=" ms"),
    Row(
        "`make bench-scale`: assets per second at each size run of 1k / 5k / 20k (killed at half, resumed, "
        "anchored, published, verified)",
        ("scale_assets_per_s_1000", "scale_assets_per_s_5000", "scale_assets_per_s_20000"),
    ),
    Row(
        "`make bench-scale`: peak RSS after the key unlock at each size run of 1k / 5k / 20k",
        ("scale_work_peak_rss_mb_1000", "scale_work_peak_rss_mb_5000", "scale_work_peak_rss_mb_20000"),
        unit=" MB",
    ),
    Row(
        "text-to-image, tiny random-weight pipeline on CPU (a real model needs a GPU): alone / batch of 4",
        ("diffusion_tiny_images_per_s", "diffusion_tiny_images_per_s_batch4"),
        unit=" images/s",
    ),
)


def number(value: float) -> str:
    """Three significant digits, thousands separated: 0.0353 → 0.035, 175856 → 175,856."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{round(value):,}"
    digits = max(0, 2 - int(f"{abs(value):e}".split("e")[1]))
    return f"{value:.{digits}f}"


def _target(figures: dict[str, dict[str, object]], names: tuple[str, ...]) -> str:
    targets = [
        str(figures[n]["target"]).replace(">=", "≥").replace("<=", "≤")
        for n in names
        if "target" in figures[n]
    ]
    oks = [figures[n].get("ok") for n in names if "target" in figures[n]]
    if not targets:
        return ""
    mark = "" if all(oks) else " (missed)"
    return " / ".join(dict.fromkeys(targets)) + mark


def _row(figures: dict[str, dict[str, object]], row: Row) -> str | None:
    present = tuple(n for n in row.names if n in figures)
    if not present:
        return None
    values = " / ".join(number(float(str(figures[n]["value"]))) + row.unit for n in present)
    return f"| {row.label} | {values} | {_target(figures, present)} |"


def table(results: dict[str, object]) -> str:
    """The markdown table of ``results`` (a bench/results.json document)."""
    figures = results.get("figures")
    if not isinstance(figures, dict):
        raise MintloomError("bench results have no figures")
    scale = results.get("scale")  # `make bench-scale`'s own section
    if isinstance(scale, dict) and isinstance(scale.get("figures"), dict):
        figures = {**figures, **scale["figures"]}
    shown = {n for r in ROWS for n in r.names}
    rows = [_row(figures, r) for r in ROWS]
    rows += [
        _row(figures, Row(n.replace("_", " "), (n,)))
        for n in figures
        if n not in shown and "target" in figures[n]
    ]
    machine = results.get("machine", {})
    cores = machine.get("cores", "?") if isinstance(machine, dict) else "?"
    seconds = results.get("seconds", "?")
    head = f"Measured on {cores} cores ({seconds} s); every figure and its note: `bench/results.json`.\n\n"
    return head + "| figure | value | target |\n|---|---|---|\n" + "\n".join(r for r in rows if r) + "\n"


def update(readme: str, results: dict[str, object]) -> str:
    """``readme`` with the text between the markers replaced by :func:`table`."""
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.index(START) > readme.index(END):
        raise MintloomError(f"the README needs one {START} ... {END} section")
    before, rest = readme.split(START)
    _, after = rest.split(END)
    return f"{before}{START}\n{table(results)}{END}{after}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mintloom.bench.readme")
    ap.add_argument("--results", type=Path, default=Path("bench/results.json"))
    ap.add_argument("--readme", type=Path, default=Path("README.md"))
    ap.add_argument("--check", action="store_true", help="exit 1 when the README's table is stale")
    args = ap.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8")
    fresh = update(current, json.loads(args.results.read_text(encoding="utf-8")))
    if args.check:
        if fresh != current:
            print(f"{args.readme}: the bench table differs from {args.results}", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        args.readme.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
