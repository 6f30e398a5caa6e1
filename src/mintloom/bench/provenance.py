"""Provenance figures: Merkle append and proof rates, C2PA signing overhead per 1080x1080 PNG."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from mintloom.bench import Figure
from mintloom.provenance.content_credentials import C2paAssetSigner
from mintloom.provenance.credentials import GenerationRecord
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import TransparencyLog
from mintloom.provenance.merkle import MerkleTree
from mintloom.schema import open_workspace_database
from mintloom.store.cid import cid_for

LEAVES = 1_000_000
PROOFS = 200_000


def _merkle() -> list[Figure]:
    data = [os.urandom(68) for _ in range(LEAVES)]
    tree = MerkleTree()
    t0 = time.perf_counter()
    for i in range(0, LEAVES, 4096):
        tree.extend(data[i : i + 4096])
    append = LEAVES / (time.perf_counter() - t0)
    size = tree.size - 1
    step = size // PROOFS
    t0 = time.perf_counter()
    for i in range(PROOFS):
        tree.inclusion_proof(i * step, size)
    proofs = PROOFS / (time.perf_counter() - t0)
    return [
        Figure("merkle_append_leaves_per_s", append, "leaves/s", 200_000, ">=", f"{LEAVES} leaves in memory"),
        Figure(
            "merkle_inclusion_proofs_per_s", proofs, "proofs/s", 200_000, ">=", f"tree of {LEAVES} leaves"
        ),
    ]


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


def _c2pa_overhead(work: Path) -> list[Figure]:
    """All provenance per 1080x1080 PNG of the real compositor: C2PA ES256 signing (embed),
    the CID and the log leaf hash, against generate + encode. Soft-binding fingerprints (the
    verify side) are reported beside it."""
    from mintloom.engines.base import BrandStyle, Format, GenerationRequest
    from mintloom.engines.image import ImageCompositor
    from mintloom.engines.params import ImageParams
    from mintloom.provenance.fingerprint import registration_fingerprints
    from mintloom.provenance.merkle import hash_leaf, leaf_data

    ks = KeyStore(work / "keys")
    ks.init("bench", "es256", password="bench-password")
    signer = C2paAssetSigner(ks.signer("bench-password"))
    record = GenerationRecord(
        engine="bench",
        engine_version="1",
        seed_commitment="0" * 64,
        campaign="bench",
        segment_commitment="00" * 32,
        locale="en",
    )
    engine = ImageCompositor()
    brand = BrandStyle(palette=("#1d3557", "#e63946", "#f1faee", "#a8dadc"))
    square = Format(name="square", width=1080, height=1080)
    gen_s = sign_s = fp_s = 0.0
    rounds = 12
    for i in range(rounds):
        texts = ImageParams(headline=f"Winter warm-up {i}", body="Fresh roasts from €3.90.", cta="Claim 15%")
        request = GenerationRequest(
            kind="image", seed=1000 + i, locale="en-US", brand=brand, format=square, params=texts
        )
        t0 = time.perf_counter()
        png = engine.generate(request).data
        t1 = time.perf_counter()
        signed = signer.sign(png, "image/png", record, title=f"{i}.png")
        hash_leaf(leaf_data(cid_for(signed.data), signed.manifest_hash))
        t2 = time.perf_counter()
        registration_fingerprints(png)
        t3 = time.perf_counter()
        if i:  # first round warms caches
            gen_s += t1 - t0
            sign_s += t2 - t1
            fp_s += t3 - t2
    n = rounds - 1
    return [
        Figure(
            "provenance_overhead_ratio",
            sign_s / gen_s,
            "(sign+CID+leaf) / (generate+encode)",
            0.10,
            "<=",
            f"C2PA ES256 embed, CID, log leaf per 1080x1080 compositor PNG ({1000 * gen_s / n:.0f} ms)",
        ),
        Figure("c2pa_sign_ms_per_png", 1000 * sign_s / n, "ms"),
        Figure(
            "soft_binding_overhead_ratio",
            fp_s / gen_s,
            "fingerprints / (generate+encode)",
            note="11 registration fingerprints per image, computed in the workers (soft binding)",
        ),
    ]


def run(work: Path) -> list[Figure]:
    return [*_merkle(), *_persisted(work), *_c2pa_overhead(work)]
