"""The blob store keeps whole files under IPFS CIDs (dag-pb for big ones) and still serves the
raw CIDs older runs stored big files under."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mintloom.errors import BlobError
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.cid import CHUNK_SIZE, DAG_PB_CODEC, cid_for, codec_of, dag_blocks, raw_cid

BIG = random.Random(9).randbytes(2 * CHUNK_SIZE + 17)


def test_big_blob_is_stored_whole_under_its_ipfs_cid(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    cid = store.put(BIG)
    assert cid == cid_for(BIG) and codec_of(cid) == DAG_PB_CODEC
    assert store.path(cid).read_bytes() == BIG and store.get(cid) == BIG
    assert b"".join(store.chunks(cid)) == BIG
    store.path(cid).write_bytes(BIG[:-1] + b"\x00")
    with pytest.raises(BlobError, match="corrupted"):
        store.get(cid)


def test_legacy_raw_cid_blob_is_still_served(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    legacy = raw_cid(BIG)  # how a run before UnixFS CIDs stored it
    store.path(legacy).parent.mkdir(parents=True)
    store.path(legacy).write_bytes(BIG)
    assert store.get(legacy) == BIG
    store.path(legacy).write_bytes(BIG + b"!")
    with pytest.raises(BlobError, match="corrupted"):
        store.get(legacy)


def test_root_node_bytes_are_not_the_file(tmp_path: Path) -> None:
    """Attack: store the DAG's root node (whose sha256 is the CID's digest) in place of the file."""
    store = LocalBlobStore(tmp_path / "blobs")
    cid = store.put(BIG)
    root = list(dag_blocks([BIG]))[-1]
    assert root[0] == cid
    store.path(cid).write_bytes(root[1])
    with pytest.raises(BlobError, match="corrupted"):
        store.get(cid)


def test_missing_blob_chunks_raise(tmp_path: Path) -> None:
    with pytest.raises(BlobError, match="not in the store"):
        list(LocalBlobStore(tmp_path / "blobs").chunks(cid_for(b"absent")))
