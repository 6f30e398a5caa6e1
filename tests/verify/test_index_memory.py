"""Building verify's fingerprint index reads the table a page at a time (issue 14: the whole
table as Python tuples, ~300 bytes a row and 11 rows an image, was the peak of a 20k-asset
verify)."""

from __future__ import annotations

import os
import tracemalloc

import pytest

from mintloom.campaign.writer import BatchRows, CatalogWriter
from mintloom.provenance.fingerprint import Fingerprint
from mintloom.provenance.log import TransparencyLog
from mintloom.store import catalog as catalog_module
from mintloom.store.catalog import AssetRow, Catalog, FingerprintRow
from mintloom.store.cid import cid_for
from mintloom.store.db import Database
from mintloom.verify.verifier import VerifyContext


def _catalogue(db: Database, n: int) -> list[tuple[str, int, int]]:
    """``n`` image assets of 11 fingerprints each, written through the writer with a real log."""
    writer = CatalogWriter(db, TransparencyLog(db))
    writer.ensure_campaign("c", "0" * 64, os.urandom(32))
    cids = [str(cid_for(os.urandom(32))) for _ in range(n)]
    prints = [
        (c, int.from_bytes(os.urandom(8)) >> 1, int.from_bytes(os.urandom(8)) >> 1)
        for c in cids
        for _ in range(11)
    ]
    with writer.batch() as tx:
        indices = tx.append_leaves([(c, bytes(32)) for c in cids], {})
        tx.add(BatchRows(
            assets=[_row(c, i) for c, i in zip(cids, indices, strict=True)],
            fingerprints=[FingerprintRow(cid=c, phash=p, dhash=d) for c, p, d in prints],
        ))  # fmt: skip
    return prints


def _hash() -> int:
    return int.from_bytes(os.urandom(8), "big") >> 1  # stored signed: kept below 2**63


def _row(cid: str, leaf: int) -> AssetRow:
    return AssetRow(
        cid=cid, content_cid=cid, campaign="c", job_key=str(leaf), kind="image", media_type="image/png",
        extension="png", sidecar_cid=None, manifest_hash=bytes(32), leaf_index=leaf, segment=None,
        locale=None, format=None, width=1, height=1, engine="compositor", engine_version="1",
        model_id=None, seed=0, path=f"{leaf}.png",
    )  # fmt: skip


def test_the_index_is_built_from_pages_and_finds_every_asset(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "FINGERPRINT_PAGE", 500, raising=False)
    prints = _catalogue(db, 3000)
    ctx = VerifyContext(catalog=Catalog(db))
    tracemalloc.start()
    try:
        found = ctx.fingerprint_index()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found is not None
    index, cids = found
    assert cids == sorted({c for c, _, _ in prints}) and len(index) == len(prints)
    transient = (peak - held) / len(prints)
    assert transient < 100, f"{transient:.0f} bytes per fingerprint row held while building"
    for cid, p, d in prints[::97]:  # assets are found under their own CIDs
        best = index.matches(Fingerprint(phash=p, dhash=d))[0]
        assert cids[best.id] == cid and best.phash_distance == 0
