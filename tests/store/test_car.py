"""CARv1 export: byte-exact header, round trip, corruption detected."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.errors import BlobError
from mintloom.provenance.cid import cid_for
from mintloom.store.car import header, read_car, varint, write_car

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
    blobs = [b"hello world", b"", bytes(range(256)) * 5000]
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
