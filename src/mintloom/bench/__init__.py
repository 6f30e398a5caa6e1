"""`make bench`: the project's benchmark suite, printing one JSON document.

Each area contributes a module in this package with a function ``run(work: Path) -> list[Figure]``
and is listed in ``SUITES``. Figures carry their target beside them; ``ok`` says whether the
target is met. Results are also written to ``bench/results.json``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Comparison = Literal["<=", ">="]
_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: float | None = None
    compare: Comparison = ">="
    note: str = ""

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else _OPS[self.compare](self.value, self.target)

    def as_json(self) -> dict[str, object]:
        d: dict[str, object] = {"value": round(self.value, 6), "unit": self.unit}
        if self.target is not None:
            d["target"] = f"{self.compare} {self.target}"
            d["ok"] = self.ok
        if self.note:
            d["note"] = self.note
        return d


# module names under mintloom.bench, in the order they run
SUITES: tuple[str, ...] = (
    "provenance",
    "pipeline",
    "cluster",
    "engines",
    "compare",
    "fingerprint",
    "ledger",
    "market",
    "verify",
    "diffusion",
    "plan",
    "ingest",
    "dynamic",
    "gallery",
)
