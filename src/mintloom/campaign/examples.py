"""The example campaigns mintloom ships (``examples/`` of the checkout, package data of a wheel),
written out into a folder so they can be run and edited: ``mintloom init --example lumen``."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from mintloom.errors import SpecError, WorkspaceError
from mintloom.resources import EXAMPLES, examples_dir


def example_source(name: str) -> Path:
    """The folder of the shipped example ``name``; :class:`SpecError` for an unknown name."""
    if name not in EXAMPLES:
        raise SpecError(f"no example campaign named {name!r}", hint=f"examples: {', '.join(EXAMPLES)}")
    folder = examples_dir().path / name
    if not (folder / "campaign.yaml").is_file():
        raise SpecError(
            f"example {name!r} is missing from {folder}",
            hint="reinstall mintloom (the wheel ships its examples) or set MINTLOOM_EXAMPLES_DIR",
        )
    return folder


def _first_rows(text: str, segments: int) -> str:
    """The CSV header and its first ``segments`` rows (a quicker run of the same campaign)."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows[: segments + 1])
    return out.getvalue()


def write_example(name: str, dest: Path, *, segments: int | None = None) -> Path:
    """Copy example ``name`` into ``dest`` (files already there are kept: they may be edited);
    with ``segments``, only that many audience rows. Returns the path of its ``campaign.yaml``."""
    source = example_source(name)
    if segments is not None and segments < 1:
        raise SpecError(f"segments must be at least 1, not {segments}")
    try:
        for src in sorted(p for p in source.rglob("*") if p.is_file()):
            target = dest / src.relative_to(source)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if segments is not None and src.name == "audience.csv":
                target.write_text(_first_rows(src.read_text(encoding="utf-8"), segments), encoding="utf-8")
            else:
                shutil.copyfile(src, target)
    except OSError as exc:
        raise WorkspaceError(f"cannot write example {name!r} into {dest}: {exc}") from exc
    return dest / "campaign.yaml"
