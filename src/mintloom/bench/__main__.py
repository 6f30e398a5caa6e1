"""Run every benchmark suite and print one JSON document (also written to bench/results.json)."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from mintloom.bench import SUITES, Figure


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mintloom.bench")
    ap.add_argument("--only", nargs="*", default=None, help="suite names to run (default: all)")
    ap.add_argument("--out", type=Path, default=Path("bench/results.json"))
    args = ap.parse_args(argv)
    figures: dict[str, dict[str, object]] = {}
    errors: dict[str, str] = {}
    started = time.time()
    for name in SUITES:
        if args.only and name not in args.only:
            continue
        mod = importlib.import_module(f"mintloom.bench.{name}")
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix=f"mintloom-bench-{name}-") as work:
            try:
                result: list[Figure] = mod.run(Path(work))
            except Exception as exc:  # report, keep going: one broken suite must not hide the others
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
        for fig in result:
            figures[fig.name] = fig.as_json()
    doc = {
        "machine": {"python": platform.python_version(), "cpu": platform.machine(), "cores": _cores()},
        "seconds": round(time.time() - started, 1),
        "figures": figures,
        "errors": errors,
    }
    if args.out.is_file():  # `make bench-scale`'s own section is kept
        kept = json.loads(args.out.read_text()).get("scale")
        if kept is not None:
            doc["scale"] = kept
    text = json.dumps(doc, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    return 1 if errors else 0


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    raise SystemExit(main())
