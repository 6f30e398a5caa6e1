"""Which sidecar a catalog row ships: the one its manifest hash was logged with, under the CID the
blob store really keeps it at."""

from __future__ import annotations

import hashlib
import os

from mintloom.store.catalog import logged_sidecar
from mintloom.store.cid import CHUNK_SIZE, cid_for, raw_cid


def test_a_sidecar_over_256_kib_keeps_its_dag_cid() -> None:
    manifest = os.urandom(CHUNK_SIZE + 1)  # stored by the blob store under its UnixFS DAG CID
    cid = cid_for(manifest)
    assert cid != raw_cid(manifest)
    assert logged_sidecar(cid, hashlib.sha256(manifest).digest()) == cid


def test_a_raw_sidecar_naming_another_jobs_manifest_ships_the_logged_one() -> None:
    logged, other = b"logged manifest", b"another job's manifest"
    digest = hashlib.sha256(logged).digest()
    assert logged_sidecar(raw_cid(other), digest) == raw_cid(logged)
    assert logged_sidecar(raw_cid(logged), digest) == raw_cid(logged)
    assert logged_sidecar(None, digest) is None
