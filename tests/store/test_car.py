"""CARv1 export: byte-exact header, round trip, corruption detected."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.errors import BlobError
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.car import asset_blocks, header, read_car, store_blocks, varint, write_car
from mintloom.store.cid import CHUNK_SIZE, DAG_PB_CODEC, cid_for, codec_of, raw_cid
from tests.store.ipfs_reference import reference

HELLO = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"  # CIDv1 raw of b"hello world"


def test_varint_matches_the_multiformats_examples() -> None:
    # https://github.com/multiformats/unsigned-varint
    assert [varint(n).hex() for n in (1, 127, 128, 255, 300, 16384)] == [
        "01", "7f", "8001", "ff01", "ac02", "808001"]  # fmt: skip


def test_header_is_the_dag_cbor_encoding_of_roots_and_version() -> None:
    expected = (
        "a2"  # map(2)
        "65" + b"roots".hex() + "81"  # "roots": array(1)
        "d82a" "5825" "00" "01551220"  # tag 42, bytes(37): multibase identity prefix, CIDv1 raw sha2-256
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"  # sha256("hello world")
        "67" + b"version".hex() + "01"  # "version": 1
    )  # fmt: skip
    assert header([HELLO]).hex() == expected


def test_round_trip_and_corruption(tmp_path: Path) -> None:
    blobs = [b"hello world", b"", bytes(range(256)) * 1000]
    path = tmp_path / "a.car"
    cids = [cid_for(b) for b in blobs]
    assert write_car(path, [cids[0], cids[2]], zip(cids, blobs, strict=True)) == 3
    roots, blocks = read_car(path)
    assert roots == [cids[0], cids[2]] and list(blocks) == list(zip(cids, blobs, strict=True))
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobError, match="does not hash to its CID"):
        list(read_car(path)[1])
    path.write_bytes(bytes(raw[:-10]))
    with pytest.raises(BlobError, match="truncated"):
        list(read_car(path)[1])
    with pytest.raises(BlobError, match="does not hash to its CID"):
        write_car(tmp_path / "b.car", [cids[0]], [(cids[0], b"not hello")])
    assert not (tmp_path / "b.car").exists()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=3000), min_size=1, max_size=12, unique=True))
def test_any_blobs_round_trip(tmp_path_factory: pytest.TempPathFactory, blobs: list[bytes]) -> None:
    path = tmp_path_factory.mktemp("car") / "x.car"
    pairs = [(cid_for(b), b) for b in blobs]
    write_car(path, [pairs[0][0]], pairs)
    roots, blocks = read_car(path)
    assert roots == [pairs[0][0]] and list(blocks) == pairs


def _big(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def test_big_assets_export_their_unixfs_dag(tmp_path: Path) -> None:
    """A file over 256 KiB goes in as the DAG `ipfs add` builds, byte for byte the blocks of the
    JS importer, so `ipfs dag import` serves it under its (dag-pb) CID; raw leaves spell the file."""
    big = _big(3 * CHUNK_SIZE + 5, 1)
    (tmp_path / "big").write_bytes(big)
    ref = reference([tmp_path / "big"])[0]
    cid = cid_for(big)
    assert cid == ref["root"] and codec_of(cid) == DAG_PB_CODEC
    path = tmp_path / "big.car"
    pieces = [big[i : i + 1000] for i in range(0, len(big), 1000)]
    assert write_car(path, [cid], asset_blocks(cid, pieces)) == len(ref["blocks"]) == 5
    roots, blocks = read_car(path)
    got = list(blocks)
    assert roots == [cid] and {c: b.hex() for c, b in got} == ref["blocks"] and got[-1][0] == cid
    assert b"".join(b for c, b in got[:-1]) == big


def test_shared_blocks_are_written_once(tmp_path: Path) -> None:
    big = _big(2 * CHUNK_SIZE + 1, 2)
    twin = big[:CHUNK_SIZE] + b"twin shares its first chunk"
    cids = [cid_for(big), cid_for(twin)]
    blocks = [b for c, d in zip(cids, (big, twin), strict=True) for b in asset_blocks(c, [d])]
    assert len(blocks) == 4 + 3
    assert write_car(tmp_path / "t.car", cids, blocks) == 6
    assert len(list(read_car(tmp_path / "t.car")[1])) == 6


def test_legacy_raw_cid_of_a_big_asset_is_one_raw_block(tmp_path: Path) -> None:
    """A big asset logged before UnixFS CIDs (raw CID) still exports, as the single raw block."""
    big = _big(CHUNK_SIZE + 1, 3)
    legacy = raw_cid(big)
    assert list(asset_blocks(legacy, [big[:10], big[10:]])) == [(legacy, big)]
    assert write_car(tmp_path / "l.car", [legacy], asset_blocks(legacy, [big])) == 1


def test_content_that_is_not_the_cid_is_refused(tmp_path: Path) -> None:
    """Attack: export other bytes under an asset's CID. Neither a DAG nor a raw block gets out."""
    big, other = _big(CHUNK_SIZE + 1, 4), _big(CHUNK_SIZE + 1, 5)
    for cid in (cid_for(big), raw_cid(big)):
        with pytest.raises(BlobError, match=r"not its CID|does not hash to its CID"):
            write_car(tmp_path / "x.car", [cid], asset_blocks(cid, [other]))
        assert not (tmp_path / "x.car").exists()


def test_tampered_dag_node_is_detected(tmp_path: Path) -> None:
    big = _big(CHUNK_SIZE + 1, 6)
    cid = cid_for(big)
    path = tmp_path / "n.car"
    write_car(path, [cid], asset_blocks(cid, [big]))
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 1  # inside the root node (the last block): a blocksize, say
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobError, match="does not hash to its CID"):
        list(read_car(path)[1])


def test_unsupported_block_cid_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "c.car"
    write_car(path, [HELLO], [(HELLO, b"hello world")])
    raw = bytearray(path.read_bytes())
    at = raw.rindex(bytes.fromhex("01551220"))
    raw[at + 1] = 0x71  # the block claims dag-cbor
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobError, match="unsupported CID"):
        list(read_car(path)[1])


def test_a_store_exports_small_big_and_legacy_blobs(tmp_path: Path) -> None:
    """What `mintloom export` writes: each blob's blocks, read from the store a chunk at a time."""
    store = LocalBlobStore(tmp_path / "blobs")
    small, big, old = b"small", _big(2 * CHUNK_SIZE + 1, 7), _big(CHUNK_SIZE + 9, 8)
    cids = [store.put(small), store.put(big)]
    legacy = raw_cid(old)  # stored by a run before UnixFS CIDs
    store.path(legacy).parent.mkdir(parents=True, exist_ok=True)
    store.path(legacy).write_bytes(old)
    path = tmp_path / "s.car"
    assert write_car(path, [*cids, legacy], store_blocks(store, [*cids, legacy])) == 1 + 4 + 1
    roots, blocks = read_car(path)
    got = dict(blocks)
    assert roots == [*cids, legacy] and got[cids[0]] == small and got[legacy] == old
    assert codec_of(cids[1]) == DAG_PB_CODEC and len(got[cids[1]]) < 200  # the root node, not the file
    store.path(cids[1]).write_bytes(big[:-1] + b"!")  # a blob damaged on disk is not exported
    with pytest.raises(BlobError, match="not its CID"):
        write_car(path, cids, store_blocks(store, cids))
