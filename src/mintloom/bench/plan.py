"""Planning a 100k-row audience: ``load_spec`` + ``plan_campaign``, the path ``mintloom plan`` and
every run take, on a generated audience with duplicated rows (every 10th repeats its predecessor)."""

from __future__ import annotations

from pathlib import Path

from mintloom.bench import Figure
from mintloom.bench.peer import load_note
from mintloom.bench.scale import PLAN_ROWS, plan_seconds


def run(work: Path, rows: int = PLAN_ROWS) -> list[Figure]:
    seconds = plan_seconds(rows, work)
    note = (
        f"load + plan of a fresh {rows:,}-row CSV audience (one 300x250 format: one job a row, "
        f"every 10th row a duplicate), in this process: every job's key and entry; a run builds "
        f"each job's request when it sends the job to a worker; {load_note()}"
    )
    return [Figure(f"plan_s_{rows}_rows", seconds, "s", 10.0, "<=", note)]
