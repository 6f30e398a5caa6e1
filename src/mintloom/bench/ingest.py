"""Dataset ingestion figures: files hashed per second on one core over many small files (the
``dataset ingest`` path: walk, stat, read, CIDv1, opt-out marker scan, entry), and the Python heap
it holds per file (entries only: contents are streamed)."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

from mintloom.bench import Figure
from mintloom.provenance.dataset import DatasetTree
from mintloom.provenance.ingest import IngestOptions, ingest

FILES = 100_000
PER_FOLDER = 1000
TARGET_FILES_PER_S = 2000
_OPTIONS = IngestOptions("CC-BY-4.0", "0x" + "00" * 20)


def make_folder(root: Path, files: int) -> Path:
    """``files`` distinct small files (1-8 KiB), ``PER_FOLDER`` to a subfolder."""
    rng = os.urandom(8192 + files)
    for i in range(files):
        sub = root / f"d{i // PER_FOLDER:04d}"
        if i % PER_FOLDER == 0:
            sub.mkdir(parents=True)
        (sub / f"f{i:06d}.jpg").write_bytes(
            i.to_bytes(4, "big") + rng[i % files : i % files + 1024 + i % 7168]
        )
    return root


def ingest_figures(work: Path, files: int = FILES) -> list[Figure]:
    folder = make_folder(work / "ds", files)
    os.sync()
    t0 = time.perf_counter()
    done = ingest(folder, _OPTIONS)
    hashed = time.perf_counter() - t0
    root = DatasetTree(done.entries).root()
    total = time.perf_counter() - t0
    assert len(done.entries) == files and len(root) == 32
    tracemalloc.start()
    ingest(folder, _OPTIONS)
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    note = (
        f"{files} files of 1-8 KiB in folders of {PER_FOLDER}, warm page cache, one process (one core); "
        f"root over all entries included: {files / total:.0f} files/s"
    )
    return [
        Figure("dataset_ingest_files_per_s", files / hashed, "files/s", TARGET_FILES_PER_S, ">=", note),
        Figure("dataset_ingest_heap_bytes_per_file", peak / files, "bytes", None, ">=",
               "Python heap peak per file (tracemalloc): entries are kept, contents never"),
    ]  # fmt: skip


def run(work: Path) -> list[Figure]:
    return ingest_figures(work)
