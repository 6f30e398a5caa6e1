"""Provenance figures: Merkle append and proof rates, persisted log appends. (Signing and
fingerprinting are measured where users pay for them, in the runner: :mod:`mintloom.bench.pipeline`.)"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from mintloom.bench import Figure
from mintloom.provenance.log import TransparencyLog
from mintloom.provenance.merkle import MerkleTree
from mintloom.schema import open_workspace_database
from mintloom.store.cid import cid_for

LEAVES = 1_000_000
PROOFS = 200_000


def _merkle(leaves: int = LEAVES, proofs: int = PROOFS) -> list[Figure]:
    data = [os.urandom(68) for _ in range(leaves)]
    tree = MerkleTree()
    t0 = time.perf_counter()
    for i in range(0, leaves, 4096):
        tree.extend(data[i : i + 4096])
    append = leaves / (time.perf_counter() - t0)
    size = tree.size - 1
    rate = _proof_rate(tree.inclusion_proof, size, proofs)
    walk = _proof_rate(tree.inclusion_proof_reference, size, proofs)  # level by level, same run
    note = (
        f"tree of {leaves} leaves, {proofs} proofs at evenly spaced leaves of size {size}; "
        f"{rate / walk:.2f}x the uncached level-by-level walk ({walk:,.0f}/s) in the same run"
    )
    return [
        Figure("merkle_append_leaves_per_s", append, "leaves/s", 200_000, ">=", f"{leaves} leaves in memory"),
        Figure("merkle_inclusion_proofs_per_s", rate, "proofs/s", 200_000, ">=", note),
    ]


def _proof_rate(prove: Callable[[int, int], list[bytes]], size: int, proofs: int) -> float:
    step = max(1, size // proofs)
    t0 = time.perf_counter()
    for i in range(proofs):
        prove(i * step % size, size)
    return proofs / (time.perf_counter() - t0)


def _persisted(work: Path) -> list[Figure]:
    db = open_workspace_database(f"sqlite:///{work / 'log.db'}")
    log = TransparencyLog(db)
    n = 100_000
    entries = [
        (cid_for(i.to_bytes(8, "big")), hashlib.sha256(i.to_bytes(8, "big")).digest()) for i in range(n)
    ]
    t0 = time.perf_counter()
    for i in range(0, n, 10_000):
        log.append_batch(entries[i : i + 10_000])
    rate = n / (time.perf_counter() - t0)
    db.dispose()
    return [Figure("log_persisted_append_entries_per_s", rate, "entries/s", note="SQLite, batches of 10k")]


def run(work: Path) -> list[Figure]:
    return [*_merkle(), *_persisted(work)]
